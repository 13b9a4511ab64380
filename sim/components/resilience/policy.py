"""Retry policies: capped exponential backoff with jitter, and a retry budget.

Backoff (AWS Architecture Blog, "Exponential Backoff And Jitter", M. Brooker, 2015)
    Before retry k (k = 0 for the first retry) a caller sleeps
    ``cap_k = min(backoff_max_s, backoff_base_s * 2**k)`` with ``jitter: none``, or a
    uniform draw in ``[0, cap_k]`` with ``jitter: full`` (mean ``cap_k / 2``): full
    jitter spreads the retries of callers that failed together, so they do not return
    together.

Retry budget (Finagle's RetryBudget, finagle.github.io/blog/2016/02/08/retry-budgets;
Envoy's ``retry_budget``)
    Over the last ``window_s`` seconds, retries may be at most ``ratio`` x first
    attempts plus ``min_per_s`` x ``window_s`` (a floor for callers with little
    traffic). A first attempt deposits, a retry withdraws; both expire after the
    window. The window slides over the exact times (two deques, amortised O(1)), where
    Finagle approximates it with time-bucketed counters.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from sim import checks
from sim.kernels.blocks import BlockDraws

JITTERS = ("full", "none")


class Backoff:
    """Capped exponential backoff, with full jitter or none (see the module)."""

    def __init__(self, base_s: float, max_s: float, jitter: str, rng: np.random.Generator):
        self.base_s = checks.non_negative("backoff_base_s", base_s)
        self.max_s = checks.non_negative("backoff_max_s", max_s)
        self.jitter = checks.choice("jitter", jitter, JITTERS)
        self._u = BlockDraws(checks.rng("rng", rng).random, 256)

    def cap_s(self, k: int) -> float:
        """The longest sleep before retry ``k`` (0: the first retry)."""
        return min(self.max_s, self.base_s * 2.0**k)

    def delay_s(self, k: int) -> float:
        """The sleep before retry ``k``: the cap, or uniform in [0, cap] with full jitter."""
        cap = self.cap_s(k)
        return cap * self._u.next() if self.jitter == "full" else cap


class RetryBudget:
    """Retries in the last ``window_s`` <= ``ratio`` x first attempts in it + a floor."""

    def __init__(self, ratio: float, window_s: float, min_per_s: float) -> None:
        self.ratio = checks.non_negative("retry_budget", ratio)
        self.window_s = checks.positive("budget_window_s", window_s)
        self.floor = checks.non_negative("min_retries_per_s", min_per_s) * self.window_s
        self._firsts: deque[float] = deque()
        self._retries: deque[float] = deque()

    def _expire(self, now: float) -> None:
        old = now - self.window_s
        for q in (self._firsts, self._retries):
            while q and q[0] <= old:
                q.popleft()

    def deposit(self, now: float) -> None:
        """A first attempt at ``now``."""
        self._expire(now)
        self._firsts.append(now)

    def withdraw(self, now: float) -> bool:
        """Whether a retry may go at ``now`` (and record it if so)."""
        self._expire(now)
        if len(self._retries) + 1 > self.ratio * len(self._firsts) + self.floor + 1e-9:
            return False
        self._retries.append(now)
        return True
