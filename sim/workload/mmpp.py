"""Markov-modulated Poisson arrivals: bursts and lulls, inter-arrival CV well above 1."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from sim import checks
from sim.workload.base import ArrivalBlock

_UNIFORMS = 1 << 16


class MmppArrivals:
    """Poisson arrivals whose rate is set by a hidden continuous-time Markov chain.

    State ``i`` has rate ``rates_rps[i]`` and lasts an exponential time of mean
    ``mean_sojourn_s[i]``; the chain then jumps to a uniformly chosen other state (two
    states alternate). The embedded jump chain is doubly stochastic, so its stationary
    law is uniform and the share of time in state ``i`` is ``sojourn_i / sum(sojourn)``;
    the start state is drawn from that law, so the process is stationary from ``t = 0``.
    Long-run rate: ``sum(rate_i * sojourn_i) / sum(sojourn_i)``.

    Example: rates ``[0.2, 20]`` and sojourns ``[600, 30]`` give a mean of 1.14 req/s
    with inter-arrival CV above 3.
    """

    def __init__(
        self,
        rates_rps: Sequence[float],
        mean_sojourn_s: Sequence[float],
        *,
        rng: np.random.Generator,
        horizon_s: float,
        block_size: int = 8192,
    ) -> None:
        rates = np.asarray(list(rates_rps), dtype=np.float64)
        sojourn = np.asarray(list(mean_sojourn_s), dtype=np.float64)
        if rates.ndim != 1 or rates.shape[0] < 2 or sojourn.shape != rates.shape:
            checks.both(
                "rates_rps",
                rates.tolist(),
                "mean_sojourn_s",
                sojourn.tolist(),
                "must be lists of the same length >= 2",
            )
        for i, (r, m) in enumerate(zip(rates, sojourn)):
            checks.non_negative(f"rates_rps[{i}]", float(r))
            checks.positive(f"mean_sojourn_s[{i}]", float(m))
        if not rates.max() > 0:
            checks.fail("rates_rps", rates.tolist(), "must not be all zero")
        self.rates_rps = rates
        self.mean_sojourn_s = sojourn
        self.rng = checks.rng("rng", rng)
        self.horizon_s = checks.positive("horizon_s", horizon_s)
        self.block_size = checks.integer("block_size", block_size, 1)

    @property
    def stationary(self) -> np.ndarray:
        """Long-run share of time in each state."""
        return self.mean_sojourn_s / self.mean_sojourn_s.sum()

    @property
    def mean_rate_rps(self) -> float:
        """``sum(rate_i * sojourn_i) / sum(sojourn_i)``."""
        return float(self.rates_rps @ self.stationary)

    @property
    def interarrival_cv(self) -> float:
        """Coefficient of variation of the gap between consecutive arrivals, long run.

        The gap after an arrival is phase-type with sub-generator ``D0 = Q - diag(rates)``
        started from the state law at arrivals (``∝ share_i * rate_i``); its moments are
        ``E[T^k] = k! a (-D0)^-k 1``.
        """
        k = len(self.rates_rps)
        leave = 1.0 / self.mean_sojourn_s
        q = np.repeat((leave / (k - 1))[:, None], k, axis=1)
        np.fill_diagonal(q, -leave)
        a = self.stationary * self.rates_rps
        a /= a.sum()
        m = np.linalg.inv(np.diag(self.rates_rps) - q)
        m1 = a @ m @ np.ones(k)
        m2 = 2.0 * a @ m @ m @ np.ones(k)
        return float(np.sqrt(m2 - m1 * m1) / m1)

    def blocks(self) -> Iterator[ArrivalBlock]:
        """Blocks of ``block_size`` arrival times in ``[0, horizon_s)`` (the last fewer)."""
        from sim.kernels.sampling import mmpp_fill

        rng = self.rng
        state = int(rng.choice(len(self.rates_rps), p=self.stationary))
        t = 0.0
        state_end = float(rng.exponential(self.mean_sojourn_s[state]))
        u = rng.random(_UNIFORMS)
        pos = 0
        while t < self.horizon_s:
            out = np.empty(self.block_size)
            n = 0
            while n < self.block_size and t < self.horizon_s:
                k, pos, state, t, state_end = mmpp_fill(
                    self.rates_rps,
                    self.mean_sojourn_s,
                    state,
                    t,
                    state_end,
                    self.horizon_s,
                    u,
                    pos,
                    out[n:],
                )
                n += k
                if n < self.block_size and t < self.horizon_s:
                    u = rng.random(_UNIFORMS)
                    pos = 0
            if n:
                yield ArrivalBlock(out[:n])
