"""Poisson arrivals: constant rate, and a rate that follows the hour of day and day of week."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from sim import checks
from sim.workload.base import ArrivalBlock

HOUR_S = 3600.0
WEEK_S = 7 * 86400.0


class PoissonArrivals:
    """Homogeneous Poisson process of rate ``rate_rps`` (exponential gaps, CV 1).

    Each block holds ``block_size`` arrivals (the last one fewer); each call of
    :meth:`blocks` continues the generator's stream from time 0.
    """

    def __init__(
        self,
        rate_rps: float,
        *,
        rng: np.random.Generator,
        horizon_s: float,
        block_size: int = 8192,
    ) -> None:
        self.rate_rps = checks.non_negative("rate_rps", rate_rps)
        self.rng = checks.rng("rng", rng)
        self.horizon_s = checks.positive("horizon_s", horizon_s)
        self.block_size = checks.integer("block_size", block_size, 1)

    @property
    def mean_rate_rps(self) -> float:
        """The rate itself."""
        return self.rate_rps

    def blocks(self) -> Iterator[ArrivalBlock]:
        """Blocks of arrival times in ``[0, horizon_s)``."""
        if self.rate_rps == 0:
            return
        scale = 1.0 / self.rate_rps
        t0 = 0.0
        while True:
            times = t0 + np.cumsum(self.rng.exponential(scale, self.block_size))
            if times[-1] >= self.horizon_s:
                times = times[: int(np.searchsorted(times, self.horizon_s))]
                if len(times):
                    yield ArrivalBlock(times)
                return
            t0 = float(times[-1])
            yield ArrivalBlock(times)


class DiurnalArrivals:
    """Non-homogeneous Poisson process whose rate follows the hour of day and day of week.

    The intensity is constant within each hour: ``rate_rps * hourly[h] / mean(hourly) *
    weekly[d] / mean(weekly)`` for hour ``h`` of day ``d``, with ``t = 0`` at Monday
    00:00, so ``rate_rps`` is the long-run mean. Generation is exact: unit-rate Poisson
    points are mapped through the inverse of the integrated intensity (time rescaling,
    :func:`sim.kernels.sampling.invert_cumulative`); hours with multiplier 0 get no
    arrivals.
    """

    def __init__(
        self,
        rate_rps: float,
        hourly: Sequence[float],
        weekly: Sequence[float],
        *,
        rng: np.random.Generator,
        horizon_s: float,
        block_size: int = 8192,
    ) -> None:
        self.rate_rps = checks.non_negative("rate_rps", rate_rps)
        self.hourly = checks.profile("hourly", hourly, 24)
        self.weekly = checks.profile("weekly", weekly, 7)
        self.rng = checks.rng("rng", rng)
        self.horizon_s = checks.positive("horizon_s", horizon_s)
        self.block_size = checks.integer("block_size", block_size, 1)

    @property
    def mean_rate_rps(self) -> float:
        """``rate_rps``: the multipliers are normalised to mean 1 over a week."""
        return self.rate_rps

    def hourly_rates_rps(self) -> np.ndarray:
        """The 168 rates of one week, Monday 00:00 first."""
        h = self.hourly / self.hourly.mean()
        w = self.weekly / self.weekly.mean()
        return self.rate_rps * (w[:, None] * h[None, :]).ravel()

    def rate_at(self, t_s: float) -> float:
        """The intensity at time ``t_s``."""
        return float(self.hourly_rates_rps()[int(t_s // HOUR_S) % 168])

    def blocks(self) -> Iterator[ArrivalBlock]:
        """Blocks of arrival times in ``[0, horizon_s)``."""
        if self.rate_rps == 0:
            return
        from sim.kernels.sampling import invert_cumulative

        rates = self.hourly_rates_rps()
        edges = np.arange(169, dtype=np.float64) * HOUR_S
        cum = np.concatenate(([0.0], np.cumsum(rates * HOUR_S)))
        s0 = 0.0
        while True:
            s = s0 + np.cumsum(self.rng.standard_exponential(self.block_size))
            s0 = float(s[-1])
            times = np.empty_like(s)
            invert_cumulative(s, edges, cum, rates, times)
            if times[-1] >= self.horizon_s:
                times = times[: int(np.searchsorted(times, self.horizon_s))]
                if len(times):
                    yield ArrivalBlock(times)
                return
            yield ArrivalBlock(times)
