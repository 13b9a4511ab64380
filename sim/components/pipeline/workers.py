"""The worker queue: documents arrive, wait, are processed, and are published at a refresh.

Mechanism
    New or changed documents arrive as a Poisson stream (``docs_per_day``), sizes
    lognormal (median ``doc_kb_median``, log-spread ``doc_kb_sigma``); a share
    ``new_share`` are new, the rest replace an existing document of the same size.
    ``workers`` CPU instances (``hardware``, priced from the hardware catalog) take them
    one at a time, FIFO: validation, extraction, chunking and the embedding call take
    ``overhead_s + size / mb_per_s`` on average, times a factor of mean 1 (lognormal with
    ``service_cv``, or exponential). When the pipeline falls behind, documents queue.
    A processed document becomes visible in the index at the next refresh (every
    ``refresh_s`` from t = 0; at once with ``refresh_s: 0``). Workers, arrivals and
    refreshes are ``workers + 2`` processes started by :meth:`IngestWorkers.start`;
    nothing is created per document beyond its queue entry.

Per-request enrichment
    Named on a request path, the pipeline is also an input-processing stage: one
    timeout, lognormal (median ``enrich_median_s``, ``enrich_sigma``), billed for that
    time on one vCPU of the same instance type (its price / ``vcpus``): the pro-rata cost
    of an autoscaled, well-packed CPU tier. ``enrich_median_s: 0`` turns it off.

Charges made here (layer ``data_pipeline``, when they happen)
    Embedding: ``round(size × tokens_per_kb)`` tokens per processed document at
    ``embed_usd_per_mtok``. Index writes: each document adds ``ceil(tokens /
    chunk_tokens) × record_kb`` of records, 1 write unit per KB at
    ``usd_per_million_write_units``, plus ``refresh_usd`` per refresh, even one with
    nothing to write (per written document when ``refresh_s: 0``). Enrichment: its
    vCPU-seconds. Instances and storage are billed by bucket
    (:mod:`sim.components.pipeline.report`, :mod:`sim.components.pipeline.storage`).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from sim import checks
from sim.components.metering import BusyMeter
from sim.components.pipeline.lag import Freshness
from sim.components.pipeline.storage import StoredVolume
from sim.components.request import Request
from sim.engine.context import SimContext
from sim.kernels.blocks import BlockDraws, lognormal_draws
from sim.metrics.histogram import LogHistogram

LAYER = "data_pipeline"
SERVICE_DISTRIBUTIONS = ("lognormal", "exponential")
PARTS = ("instances", "embedding", "writes", "refreshes", "storage", "enrichment")


def _factor_draws(rng: np.random.Generator, service: str, cv: float) -> BlockDraws:
    """Factors of mean 1 on the mean service time: exponential, or lognormal with CV ``cv``."""
    if service == "exponential":
        return BlockDraws(lambda n: rng.exponential(1.0, n))
    sigma = math.sqrt(math.log1p(cv * cv))
    return BlockDraws(lambda n: rng.lognormal(-sigma * sigma / 2, sigma, n))


class IngestWorkers:
    """Documents flow arrival -> queue -> worker -> refresh -> visible (see module)."""

    def __init__(
        self,
        name: str,
        ctx: SimContext,
        *,
        docs_per_day: float,
        doc_kb_median: float,
        doc_kb_sigma: float,
        new_share: float,
        workers: int,
        usd_per_worker_hour: float,
        overhead_s: float,
        mb_per_s: float,
        service: str,
        service_cv: float,
        tokens_per_kb: float,
        chunk_tokens: int,
        embed_usd_per_mtok: float,
        record_kb: float,
        usd_per_million_write_units: float,
        refresh_s: float,
        refresh_usd: float,
        raw_usd_per_gb_month: float,
        index_usd_per_gb_month: float,
        fresh_query_share: float,
        fresh_window_s: float,
        enrich_median_s: float,
        enrich_sigma: float,
        usd_per_vcpu_hour: float,
        rng: np.random.Generator,
    ) -> None:
        self.name = name
        self._env: simpy.Environment = ctx.env
        self._ledger = ctx.ledger
        self._warmup_s = ctx.warmup_s
        self.docs_per_day = checks.non_negative("docs_per_day", docs_per_day)
        checks.positive("doc_kb_median", doc_kb_median)
        checks.non_negative("doc_kb_sigma", doc_kb_sigma)
        self.new_share = checks.probability("new_share", new_share)
        self.workers = checks.integer("workers", workers, 1)
        self.usd_per_worker_hour = checks.non_negative("usd_per_worker_hour", usd_per_worker_hour)
        self.overhead_s = checks.non_negative("overhead_s", overhead_s)
        self.mb_per_s = checks.positive("mb_per_s", mb_per_s)
        checks.choice("service", service, SERVICE_DISTRIBUTIONS)
        checks.non_negative("service_cv", service_cv)
        self.tokens_per_kb = checks.positive("tokens_per_kb", tokens_per_kb)
        self.chunk_tokens = checks.integer("chunk_tokens", chunk_tokens, 1)
        self.usd_per_token = checks.non_negative("embed_usd_per_mtok", embed_usd_per_mtok) / 1e6
        self.record_kb = checks.positive("record_kb", record_kb)
        self.usd_per_wu = (
            checks.non_negative("usd_per_million_write_units", usd_per_million_write_units) / 1e6
        )
        self.refresh_s = checks.non_negative("refresh_s", refresh_s)
        self.refresh_usd = checks.non_negative("refresh_usd", refresh_usd)
        self.storage = StoredVolume(
            raw_usd_per_gb_month=raw_usd_per_gb_month,
            index_usd_per_gb_month=index_usd_per_gb_month,
            warmup_s=self._warmup_s,
        )
        self.freshness = Freshness(
            fresh_query_share=fresh_query_share,
            fresh_window_s=fresh_window_s,
            docs_per_day=self.docs_per_day,
        )
        checks.non_negative("enrich_median_s", enrich_median_s)
        checks.non_negative("enrich_sigma", enrich_sigma)
        self.usd_per_vcpu_s = checks.non_negative("usd_per_vcpu_hour", usd_per_vcpu_hour) / 3600
        # independent streams: arrivals and sizes do not change when the workers do
        r_gap, r_size, r_new, r_service, r_enrich = checks.rng("rng", rng).spawn(5)
        rate = self.docs_per_day / 86400.0
        self._gap = BlockDraws(lambda n: r_gap.exponential(1.0 / rate, n)) if rate > 0 else None
        self._size = lognormal_draws(r_size, doc_kb_median, doc_kb_sigma)
        self._new = BlockDraws(r_new.random)
        self._factor = _factor_draws(r_service, service, service_cv)
        self._enrich = (
            lognormal_draws(r_enrich, enrich_median_s, enrich_sigma)
            if enrich_median_s > 0
            else None
        )
        # expected service time, for the capacity in the report
        mean_kb = doc_kb_median * math.exp(doc_kb_sigma**2 / 2)
        self.mean_service_s = self.overhead_s + mean_kb / 1000.0 / self.mb_per_s

        self._queue = simpy.Store(self._env)  # (arrived_at, kb, counted, new), FIFO
        self._in_service: dict[int, float] = {}  # worker -> arrival time of its document
        self._pending: list[tuple[float, float, bool, bool]] = []  # processed, not visible
        self.meter = BusyMeter(self.workers)
        # statistics (documents that arrived after the warm-up)
        self.arrived = self.started = self.processed = self.visible = 0
        self.wait_s_total = 0.0
        self.lag = LogHistogram()
        # what happened after the warm-up
        self.embed_tokens = 0
        self.write_units = 0.0
        self.refreshes = 0
        self.enriched = 0
        self.usd = dict.fromkeys(PARTS, 0.0)
        ctx.ledger.series(LAYER, name)

    # -- processes -----------------------------------------------------------------
    def start(self) -> None:
        """Start the arrivals, the workers and the refresh clock."""
        env = self._env
        if self._gap is not None:
            env.process(self._arrivals())
        for i in range(self.workers):
            env.process(self._worker(i))
        if self.refresh_s > 0:
            env.process(self._refresher())

    def _arrivals(self) -> Generator[simpy.Event, Any, None]:
        env, gap, size, new = self._env, self._gap, self._size, self._new
        while True:
            yield env.timeout(gap.next())  # type: ignore[union-attr]
            self.arrive(size.next(), new.next() < self.new_share)

    def arrive(self, kb: float, new: bool = True) -> None:
        """A document of ``kb`` KB arrives now (the arrival process calls it; tests may too)."""
        t = self._env.now
        counted = t >= self._warmup_s
        self.arrived += counted
        self.freshness.arrived(t)
        if new:
            self.storage.grow(t, kb / 1e6, 0.0)  # the raw document lands in object storage
        self._queue.put((t, kb, counted, new))

    def _worker(self, i: int) -> Generator[simpy.Event, Any, None]:
        env = self._env
        while True:
            doc = yield self._queue.get()
            arrived_at, kb, counted, new = doc
            now = env.now
            if counted:
                self.started += 1
                self.wait_s_total += now - arrived_at
            self._in_service[i] = arrived_at
            self.meter.begin(i, now)
            mean_s = self.overhead_s + kb / 1000.0 / self.mb_per_s
            yield env.timeout(mean_s * self._factor.next())
            now = env.now
            self.meter.end(i, now)
            del self._in_service[i]
            tokens = max(1, round(kb * self.tokens_per_kb))
            if self._charge(now, "embedding", tokens * self.usd_per_token):
                self.embed_tokens += tokens
            self.processed += counted
            records_kb = math.ceil(tokens / self.chunk_tokens) * self.record_kb
            self._pending.append((arrived_at, records_kb, counted, new))
            if self.refresh_s == 0:
                self._publish()

    def _refresher(self) -> Generator[simpy.Event, Any, None]:
        while True:
            yield self._env.timeout(self.refresh_s)
            self._publish()

    def _publish(self) -> None:
        """Write the processed documents to the index: they become visible now."""
        now = self._env.now
        written_kb = grown_kb = 0.0
        for arrived_at, records_kb, counted, new in self._pending:
            written_kb += records_kb
            if new:
                grown_kb += records_kb
            if counted:
                self.visible += 1
                self.lag.add(now - arrived_at)
        self.freshness.published(len(self._pending))
        self._pending.clear()
        if grown_kb:
            self.storage.grow(now, 0.0, grown_kb / 1e6)
        if self._charge(now, "writes", written_kb * self.usd_per_wu):  # 1 WU per KB
            self.write_units += written_kb
            self.refreshes += 1
        self._charge(now, "refreshes", self.refresh_usd)

    # -- per-request enrichment (when named on a path) -----------------------------------
    def handle(self, req: Request) -> Generator[simpy.Event, Any, None]:
        """Input processing on the CPU tier: one timeout, its vCPU-time charged."""
        if self._enrich is not None:
            s = self._enrich.next()
            yield self._env.timeout(s)
            self._charge(self._env.now, "enrichment", s * self.usd_per_vcpu_s)
            self.enriched += req.arrived_at >= self._warmup_s

    # -- what a store asks ---------------------------------------------------------
    def stale_share(self, now: float | None = None) -> float:
        """Probability that a query asks about a document not yet visible (see lag)."""
        return self.freshness.stale_share(self._env.now if now is None else now)

    def _charge(self, t: float, part: str, usd: float) -> bool:
        """Charge ``usd`` at ``t``; True when it falls after the warm-up (it is counted)."""
        if usd > 0.0:
            self._ledger.charge(t, LAYER, self.name, usd)
        counted = t >= self._warmup_s
        if counted:
            self.usd[part] += usd
        return counted

    def _oldest_invisible_at(self) -> float | None:
        times = [t for t, *_ in self._pending] + list(self._in_service.values())
        if self._queue.items:
            times.append(self._queue.items[0][0])
        return min(times) if times else None
