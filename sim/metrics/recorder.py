"""Recorder: counts every request's fate and streams latency statistics and time series.

Only requests that *arrive* after the warm-up are counted, and each is counted exactly
once on arrival and once when it ends, so at any time::

    arrived == completed + failed + dropped + in_flight

Latency is end-to-end (arrival to done) for completed requests; time to first token is
recorded where a stage set it. Time series (arrivals, completions and sampled gauges
per bucket) share the ledger's bucket grid.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict

from sim.components.request import Request, Status
from sim.metrics.histogram import LogHistogram


class Recorder:
    """Streaming request statistics of one run."""

    def __init__(self, warmup_s: float = 0.0, bucket_s: float = 60.0) -> None:
        self.warmup_s = float(warmup_s)
        self.bucket_s = float(bucket_s)
        self.arrived = 0
        self.ended = [0, 0, 0, 0]  # indexed by Status
        self.reasons: Counter[str] = Counter()
        self.latency = LogHistogram()
        self.ttft = LogHistogram()
        self.prompt_tokens = 0
        self.output_tokens = 0
        self.not_acceptable = 0  # completed requests whose answer is not acceptable
        self.route_completed: Counter[str] = Counter()
        self.route_acceptable: Counter[str] = Counter()
        self.arrivals_per_bucket: defaultdict[int, int] = defaultdict(int)
        self.completions_per_bucket: defaultdict[int, int] = defaultdict(int)
        self.gauges: dict[str, dict[int, float]] = defaultdict(dict)
        # coarse (5 %) latency histograms per completion bucket, for latency over time
        self.latency_by_bucket: dict[int, LogHistogram] = {}

    def _bucket(self, t: float) -> int:
        return int((t - self.warmup_s) // self.bucket_s)

    def on_arrival(self, req: Request) -> None:
        t = req.arrived_at
        if t >= self.warmup_s:
            self.arrived += 1
            self.arrivals_per_bucket[int((t - self.warmup_s) // self.bucket_s)] += 1

    def on_end(self, req: Request) -> None:
        if req.arrived_at < self.warmup_s:
            return
        status = req.status
        self.ended[status] += 1
        if status == Status.COMPLETED:
            latency = req.done_at - req.arrived_at
            self.latency.add(latency)
            b = int((req.done_at - self.warmup_s) // self.bucket_s)
            h = self.latency_by_bucket.get(b)
            if h is None:
                h = self.latency_by_bucket[b] = LogHistogram(1e-4, 1e5, 1.05, flush_every=4096)
            h.add(latency)
            ft = req.first_token_at
            if ft == ft:  # not NaN
                self.ttft.add(ft - req.arrived_at)
            self.prompt_tokens += req.prompt_tokens
            self.output_tokens += req.output_tokens
            if not req.ok:
                self.not_acceptable += 1
            if req.route is not None:
                self.route_completed[req.route] += 1
                self.route_acceptable[req.route] += req.ok
            self.completions_per_bucket[b] += 1
        else:
            self.reasons[req.reason or status.name.lower()] += 1

    def sample_gauge(self, t: float, name: str, value: float) -> None:
        """Record a gauge (utilization, queue length) for the bucket that starts at ``t``."""
        if t >= self.warmup_s and math.isfinite(value):
            self.gauges[name][self._bucket(t)] = value

    # -- reading -----------------------------------------------------------------
    @property
    def completed(self) -> int:
        return self.ended[Status.COMPLETED]

    @property
    def failed(self) -> int:
        return self.ended[Status.FAILED]

    @property
    def dropped(self) -> int:
        return self.ended[Status.DROPPED]

    @property
    def in_flight(self) -> int:
        return self.arrived - self.completed - self.failed - self.dropped

    def quality(self) -> dict:
        """Share of completed requests whose answer is acceptable, overall and per route."""
        done = self.completed
        return {
            "acceptable_share": (done - self.not_acceptable) / done if done else None,
            "acceptable": done - self.not_acceptable,
            "completed": done,
            "by_route": {
                r: {"completed": n, "acceptable_share": self.route_acceptable[r] / n}
                for r, n in sorted(self.route_completed.items())
            },
        }

    def counts(self) -> dict[str, int]:
        return {
            "arrived": self.arrived,
            "completed": self.completed,
            "failed": self.failed,
            "dropped": self.dropped,
            "in_flight": self.in_flight,
        }
