"""The pipeline as a run sees it: the bucket bill, gauges, the report and the notes.

Accounting by bucket (layer ``data_pipeline``)
    Instances: ``workers × hours × usd_per_hour``, busy or idle, at every bucket; storage:
    what the raw text and index records held in the bucket cost
    (:mod:`sim.components.pipeline.storage`). The other parts are charged when they
    happen (:mod:`sim.components.pipeline.workers`); ``usd`` in the report splits the
    measured window's cost by part.

Statistics: documents that arrived after the warm-up (arrived, processed, visible,
waiting; lag from arrival to visibility in a LogHistogram; mean wait for a worker);
tokens, write units, refreshes and the cost parts count what happened after it.
Capacity is ``workers × 86,400 / mean service time`` documents a day, and the offered
load is ``docs_per_day`` over it.

Notes (:meth:`IngestPipeline.notes`, into ``summary.json`` ``notes``), only when they
apply: an offered load ≥ 1 (the pipeline falls behind: backlog and lag grow through the
run; the note gives the workers needed), or — keeping up — a mean lag longer than the
freshness window (every question about fresh content misses; the note names
``refresh_s``).
"""

from __future__ import annotations

import math
from typing import Any

from sim.components.pipeline.storage import SECONDS_PER_MONTH
from sim.components.pipeline.workers import IngestWorkers
from sim.engine.context import SimContext


class IngestPipeline(IngestWorkers):
    """A data pipeline: the worker queue, billed by bucket, reported (see the package)."""

    def __init__(self, name: str, ctx: SimContext, **kwargs: Any) -> None:
        super().__init__(name, ctx, **kwargs)
        self.busy_s = 0.0  # worker-seconds busy after the warm-up
        self._utilization = math.nan  # of the last bucket billed

    @property
    def capacity_docs_per_day(self) -> float | None:
        """Documents a day the workers process at their expected service time."""
        if self.mean_service_s <= 0:
            return None
        return self.workers * 86400.0 / self.mean_service_s

    @property
    def offered_load(self) -> float:
        """Arrivals over capacity: the pipeline falls behind at 1 or more."""
        capacity = self.capacity_docs_per_day
        return self.docs_per_day / capacity if capacity else 0.0

    def bill(self, start_s: float, end_s: float) -> None:
        """Instances (busy or idle) and storage held in ``[start_s, end_s)``."""
        busy = self.meter.busy_in(start_s, end_s)
        provisioned_s = self.workers * (end_s - start_s)
        self._utilization = busy / provisioned_s if provisioned_s > 0 else math.nan
        if start_s >= self._warmup_s:
            self.busy_s += busy
        self._charge(start_s, "instances", provisioned_s / 3600.0 * self.usd_per_worker_hour)
        self._charge(start_s, "storage", self.storage.take_usd(end_s))

    def gauges(self) -> dict[str, float]:
        """At the bucket edge: backlog, unrefreshed documents, age of the oldest not visible."""
        oldest = self._oldest_invisible_at()
        return {
            "utilization": self._utilization,
            "backlog": float(len(self._queue.items) + len(self._in_service)),
            "unrefreshed": float(len(self._pending)),
            "oldest_lag_s": self._env.now - oldest if oldest is not None else 0.0,
            "stale_share": self.stale_share(),
            "stored_gb": self.storage.total_gb,
        }

    def report(self) -> dict[str, Any]:
        """What ``summary.json`` shows of this pipeline."""
        capacity = self.capacity_docs_per_day
        load = self.offered_load
        oldest = self._oldest_invisible_at()
        measured_s = self._env.now - self._warmup_s
        out: dict[str, Any] = {
            "kind": "pipeline",
            "documents": {
                "arrived": self.arrived,
                "processed": self.processed,
                "visible": self.visible,
                "waiting": self.arrived - self.started,
                "in_service": self.started - self.processed,
                "unrefreshed": self.processed - self.visible,
            },
            "docs_per_day": self.docs_per_day,
            "capacity_docs_per_day": capacity,
            "offered_load": load,
            "overloaded": load >= 1.0,
            "mean_wait_s": self.wait_s_total / self.started if self.started else None,
            "lag_s": self.lag.summary(),
            "oldest_waiting_s": self._env.now - oldest if oldest is not None else 0.0,
            "backlog_at_end": len(self._queue.items) + len(self._in_service),
            "workers": self.workers,
            "worker_utilization": self.busy_s / (self.workers * measured_s)
            if measured_s > 0
            else None,
            "stored_gb": {"raw": self.storage.raw_gb, "index": self.storage.index_gb},
            "gb_months": self.storage.gb_s / SECONDS_PER_MONTH,
            "embedding_tokens": self.embed_tokens,
            "write_units": self.write_units,
            "refreshes": self.refreshes,
            "stale_share_at_end": self.stale_share(),
            "enriched_requests": self.enriched,
            "usd": dict(self.usd),
        }
        if load >= 1.0:
            out["note"] = (
                f"{self.docs_per_day:,.0f} documents/day arrive but {self.workers} worker(s) "
                f"process about {capacity:,.0f}/day: the backlog and the lag grow without bound"
            )
        return out

    def notes(self) -> list[str]:
        """Warnings for ``summary.json`` ``notes``: falling behind, or a lag past the window."""
        key = f"pipelines.{self.name}"
        load = self.offered_load
        if load >= 1.0:
            need = math.floor(self.docs_per_day * self.mean_service_s / 86400.0) + 1
            backlog = len(self._queue.items) + len(self._in_service)
            return [
                f"{key} falls behind: {self.docs_per_day:,.0f} documents/day arrive but "
                f"{self.workers} worker(s) process about {self.capacity_docs_per_day:,.0f}/day "
                f"(offered load {load:.2f}); the backlog ({backlog:,} documents at the end) "
                f"and the lag grow through the run: set {key}.workers to at least {need}"
            ]
        window_s = self.freshness.fresh_window_s
        mean_lag = self.lag.mean if self.lag.n else math.nan
        if self.freshness.fresh_query_share > 0 and mean_lag > window_s:
            return [
                f"{key}: documents take {mean_lag / 3600:,.1f} h on average to become "
                f"visible, longer than the freshness window ({key}.fresh_window_s="
                f"{window_s:g} s), so every question about fresh content misses: lower "
                f"{key}.refresh_s (now {self.refresh_s:g} s)"
            ]
        return []
