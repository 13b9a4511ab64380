"""Recorder: counts every request's fate and streams latency statistics and time series.

Only requests that *arrive* after the warm-up are counted, and each is counted exactly
once on arrival and once when it ends, so at any time::

    arrived == completed + failed + dropped + in_flight

Latency is end-to-end (arrival to done) for completed requests; time to first token is
recorded where a stage set it. Time series (arrivals, completions and sampled gauges
per bucket) share the ledger's bucket grid; arrivals are also counted per month
(:data:`sim.months.MONTH_S` from t=0).

**Per user** (requests that carry a user id, ``req.user >= 0``: the session model), the
recorder keeps two counters per user, not a list of requests: the requests that arrived
after the warm-up and their tokens (prompt + output as the request arrived, before a
retrieval stage adds context). Each arrival appends one integer, ``user << 32 | tokens``,
to a buffer that is added to the per-user arrays every :data:`USER_FLUSH` arrivals
(``np.add.at``); a request costs one list append and nothing when it ends.
:func:`allocate_user_costs` then shares the run's cost among users (the rule is there).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any

import numpy as np

from sim.components.request import Request, Status
from sim.metrics.histogram import LogHistogram
from sim.months import MONTH_S

USER_FLUSH = 1 << 15  # arrivals between two updates of the per-user arrays (a power of 2)
_TOKEN_BITS = 32  # a buffered arrival is user << 32 | min(tokens, 2^32 - 1)
_TOKEN_MASK = (1 << _TOKEN_BITS) - 1
TOKEN_LAYERS = ("inference",)  # layers shared among users by tokens; the others by requests


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
        # arrivals per month of 30.4375 days from t=0 (arrivals come in time order): the
        # count of arrivals before the first one of each month
        self._month_end = MONTH_S
        self._month_starts: list[tuple[int, int]] = [(0, 0)]
        # per user: requests that arrived and their tokens (see the docstring)
        self._user_requests = np.zeros(0, dtype=np.int64)
        self._user_tokens = np.zeros(0, dtype=np.int64)
        self._user_buffer: list[int] = []
        self._push_user = self._user_buffer.append

    def _bucket(self, t: float) -> int:
        return int((t - self.warmup_s) // self.bucket_s)

    def on_arrival(self, req: Request) -> None:
        t = req.arrived_at
        if t >= self.warmup_s:
            self.arrived += 1
            self.arrivals_per_bucket[int((t - self.warmup_s) // self.bucket_s)] += 1
            if t >= self._month_end:
                month = int(t // MONTH_S)
                self._month_end = (month + 1) * MONTH_S
                self._month_starts.append((month, self.arrived - 1))
            u = req.user
            if u >= 0:
                tokens = req.prompt_tokens + req.output_tokens
                self._push_user(u << 32 | (tokens if tokens <= _TOKEN_MASK else _TOKEN_MASK))
                if not self.arrived & (USER_FLUSH - 1):
                    self._flush_users()

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

    def _flush_users(self) -> None:
        """Add the buffered arrivals to the per-user arrays (grown to the largest user id)."""
        if not self._user_buffer:
            return
        packed = np.asarray(self._user_buffer, dtype=np.int64)
        self._user_buffer.clear()
        users = packed >> _TOKEN_BITS
        top = int(users.max()) + 1
        if top > len(self._user_requests):
            size = max(top, 2 * len(self._user_requests))
            for name in ("_user_requests", "_user_tokens"):
                old = getattr(self, name)
                new = np.zeros(size, dtype=np.int64)
                new[: len(old)] = old
                setattr(self, name, new)
        np.add.at(self._user_requests, users, 1)
        np.add.at(self._user_tokens, users, packed & _TOKEN_MASK)

    # -- reading -----------------------------------------------------------------
    @property
    def arrivals_by_month(self) -> dict[int, int]:
        """Arrivals after the warm-up per month (0: the first 30.4375 days from t=0)."""
        marks = [*self._month_starts, (None, self.arrived)]
        out = {m: b - a for (m, a), (_, b) in zip(marks[:-1], marks[1:])}
        return {m: n for m, n in out.items() if n}

    def user_usage(self, users: int) -> tuple[np.ndarray, np.ndarray]:
        """Per user ``0 .. users-1``: requests that arrived after the warm-up, and their
        tokens (prompt + output as they arrived). Users who sent nothing have zeros."""
        self._flush_users()
        out = []
        for a in (self._user_requests, self._user_tokens):
            if a[users:].any():
                raise ValueError(f"requests from user {int(np.flatnonzero(a)[-1])} of {users}")
            full = np.zeros(users, dtype=np.int64)
            full[: min(len(a), users)] = a[:users]
            out.append(full)
        return out[0], out[1]

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


def allocate_user_costs(
    by_layer: Mapping[str, float], requests: np.ndarray, tokens: np.ndarray
) -> np.ndarray:
    """The run's cost shared among users (USD per user); it adds up to the total.

    The rule (a choice, stated for a FinOps reader): a layer in :data:`TOKEN_LAYERS`
    (``inference``: token prices of an API, busy replica time that grows with tokens) is
    shared in proportion to each user's tokens (prompt + output of the user's requests);
    every other layer — idle replicas (``infrastructure``), retrieval, caches,
    monitoring, reviewers, whether billed per request or by the hour — in proportion to
    each user's requests. A user who sent nothing pays nothing; if no user sent anything
    the cost is shared equally, and without tokens ``inference`` goes by requests.
    """
    n = len(requests)
    req = np.asarray(requests, dtype=np.float64)
    tok = np.asarray(tokens, dtype=np.float64)
    equal = np.full(n, 1.0 / n) if n else np.zeros(0)
    req_share = req / req.sum() if req.sum() > 0 else equal
    tok_share = tok / tok.sum() if tok.sum() > 0 else req_share
    by_tokens = sum(usd for layer, usd in by_layer.items() if layer in TOKEN_LAYERS)
    by_requests = sum(usd for layer, usd in by_layer.items() if layer not in TOKEN_LAYERS)
    return by_tokens * tok_share + by_requests * req_share


def user_cost_figures(cost_usd: np.ndarray, month_factor: float) -> dict[str, Any]:
    """Cost per user-month at the ``p50``/``p90``/``p99`` user and the ``mean``, and the
    share of the cost paid by the top 1 % and 10 % of users (at least one user each)."""
    per_month = np.asarray(cost_usd, dtype=np.float64) * month_factor
    n = len(per_month)
    if n == 0:
        return {"quantiles": None, "top_share": None}
    p50, p90, p99 = np.quantile(per_month, [0.5, 0.9, 0.99])
    ordered = np.sort(per_month)[::-1]
    total = ordered.sum()
    top = {
        name: (float(ordered[: max(1, math.ceil(share * n))].sum() / total) if total > 0 else None)
        for name, share in (("top_1pct", 0.01), ("top_10pct", 0.10))
    }
    return {
        "quantiles": {
            "p50": float(p50),
            "p90": float(p90),
            "p99": float(p99),
            "mean": float(per_month.mean()),
        },
        "top_share": top,
    }
