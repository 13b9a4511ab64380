"""Users with working days, bursts of activity and think time: a population-scale model.

All users advance together, window by window, in one numba kernel
(:func:`sim.kernels.sampling.session_window`) over per-user state arrays: no SimPy
process per user and nothing materialised beyond the current window, so a million
users cost a few tens of megabytes.

**Users differ.** Each user's request rate is scaled by an activity multiplier drawn
once per run from a lognormal with ``activity_sigma`` and divided by the population's
mean, so the multipliers average exactly 1 and ``requests_per_user_day`` stays the mean
per user (the total traffic is what identical users would send). For a lognormal
normalized to mean 1 the ``q``-quantile user sends ``exp(sigma z_q - sigma^2 / 2)`` times
the mean (the median user ``exp(-sigma^2 / 2)``), and the most active share ``s`` of
users sends ``1 - Phi(z_(1-s) - sigma)`` of all requests (:func:`lognormal_quantile`,
:func:`lognormal_top_share`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from sim import checks
from sim.workload.base import ArrivalBlock

DAY_S = 86400.0
_UNIFORMS = 1 << 20
_TARGET_BLOCK = 25_000  # arrivals per window at the peak rate


def _ndtr(x: float) -> float:
    """Standard normal CDF."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _ndtri(p: float) -> float:
    """Standard normal quantile (bisection on :func:`_ndtr`; exact to ~1e-12)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p={p!r} must be in (0, 1)")
    lo, hi = -40.0, 40.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if _ndtr(mid) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-13:
            break
    return 0.5 * (lo + hi)


def lognormal_quantile(q: float, sigma: float) -> float:
    """The ``q``-quantile of a lognormal with ``sigma`` normalized to mean 1."""
    return math.exp(sigma * _ndtri(q) - 0.5 * sigma * sigma)


def lognormal_top_share(share: float, sigma: float) -> float:
    """Share of the total held by the largest ``share`` of a lognormal population."""
    return 1.0 - _ndtr(_ndtri(1.0 - share) - sigma)


def expected_active_s(shift_s: float, active_s: float, idle_s: float) -> float:
    """Expected active time in a working day of ``shift_s`` that starts active.

    Active and idle periods alternate with exponential lengths (means ``active_s``,
    ``idle_s``): a two-state Markov chain with ``P(active at t) = a/(a+i) + i/(a+i) *
    exp(-t (a+i)/(a i))``; integrated over the day this is ``L a/(a+i) + a i^2/(a+i)^2
    (1 - exp(-L (a+i)/(a i)))``. Starting active adds the second term to the naive
    ``L a/(a+i)`` (+1.7 % for an 8 h day with 30 min active / 20 min idle).
    """
    if idle_s == 0:
        return shift_s
    a, i = active_s, idle_s
    return shift_s * a / (a + i) + a * i * i / (a + i) ** 2 * -math.expm1(
        -shift_s * (a + i) / (a * i)
    )


class SessionArrivals:
    """``users`` people who send requests during their working days.

    Each user's clock is offset by a uniform draw in ``+/- timezone_spread_h``. Day 0 is
    a Monday; a user works Monday to Friday, and a Saturday or Sunday with probability
    ``weekend_factor``. A working day starts at local ``workday_start_h + N(0,
    start_jitter_h)`` (never before the previous one ended) and lasts ``workday_hours``.
    Within it the user alternates active periods (exponential, mean ``active_period_s``)
    and idle periods (mean ``idle_period_s``), starting active. While active, requests
    are Poisson at ``rate_active_rps`` times the user's activity multiplier
    (:meth:`activity`: lognormal with ``activity_sigma``, mean exactly 1; 0 makes users
    alike), set so that a working day brings ``requests_per_user_day`` requests per user
    in expectation (see :func:`expected_active_s`). ``ArrivalBlock.users`` holds user
    indices ``0 .. users-1``.

    ``start_s`` starts the clock later in the week: users are simulated from Monday 00:00
    (without writing their requests) up to ``start_s``, and arrival times are reported
    relative to ``start_s``, over ``[0, horizon_s)``.

    ``mean_rate_rps = users * requests_per_user_day * (5 + 2 weekend_factor) / 7 / 86400``
    is the long-run mean over whole weeks; it is exact in expectation (the time of day
    does not change the count per working day), but any window shorter than a week
    differs by the daily and weekly cycle.
    """

    def __init__(
        self,
        users: int,
        requests_per_user_day: float,
        workday_start_h: float,
        workday_hours: float,
        start_jitter_h: float,
        weekend_factor: float,
        active_period_s: float,
        idle_period_s: float,
        timezone_spread_h: float,
        *,
        rng: np.random.Generator,
        horizon_s: float,
        start_s: float = 0.0,
        activity_sigma: float = 0.0,
    ) -> None:
        self.users = checks.integer("users", users, 1)
        self.requests_per_user_day = checks.non_negative(
            "requests_per_user_day", requests_per_user_day
        )
        self.workday_start_h = checks.number("workday_start_h", workday_start_h, ge=0, lt=24)
        self.workday_hours = checks.number("workday_hours", workday_hours, gt=0, le=24)
        self.start_jitter_h = checks.number("start_jitter_h", start_jitter_h, ge=0, le=24)
        self.weekend_factor = checks.probability("weekend_factor", weekend_factor)
        self.active_period_s = checks.positive("active_period_s", active_period_s)
        self.idle_period_s = checks.non_negative("idle_period_s", idle_period_s)
        self.timezone_spread_h = checks.number("timezone_spread_h", timezone_spread_h, ge=0, le=24)
        self.rng = checks.rng("rng", rng)
        self.horizon_s = checks.positive("horizon_s", horizon_s)
        self.start_s = checks.non_negative("start_s", start_s)
        self.activity_sigma = checks.number("activity_sigma", activity_sigma, ge=0, le=4)
        self._activity: np.ndarray | None = None

    @property
    def rate_active_rps(self) -> float:
        """Request rate of one user during an active period."""
        shift_s = self.workday_hours * 3600.0
        active = expected_active_s(shift_s, self.active_period_s, self.idle_period_s)
        return self.requests_per_user_day / active

    @property
    def mean_rate_rps(self) -> float:
        """Long-run mean over whole weeks (see the class docstring)."""
        days = (5.0 + 2.0 * self.weekend_factor) / 7.0
        return self.users * self.requests_per_user_day * days / DAY_S

    def activity(self) -> np.ndarray | None:
        """Each user's activity multiplier (mean exactly 1), None when users are alike.

        Drawn once, on first use, from a child of ``rng`` (``rng.spawn``), so the session
        draws themselves are the same with and without heterogeneity.
        """
        if self.activity_sigma == 0.0:
            return None
        if self._activity is None:
            z = self.rng.spawn(1)[0].standard_normal(self.users)
            m = np.exp(self.activity_sigma * z)
            self._activity = m / m.mean()
        return self._activity

    @property
    def window_s(self) -> float:
        """Width of a window: about 25k arrivals when every user is active at once."""
        peak = self.users * self.rate_active_rps
        if peak <= 0:
            return DAY_S
        return float(np.clip(_TARGET_BLOCK / peak, 1e-3, DAY_S))

    def blocks(self) -> Iterator[ArrivalBlock]:
        """One block per window that has arrivals; empty stretches (nights) are skipped."""
        from sim.kernels import sampling as k

        rng = self.rng
        n = self.users
        offset_s = rng.uniform(-1.0, 1.0, n) * (self.timezone_spread_h * 3600.0)
        kind = np.full(n, k.PLAN, dtype=np.int8)
        wake = np.full(n, -np.inf)
        phase_end = np.full(n, -np.inf)
        shift_end = np.full(n, -np.inf)
        day = np.full(n, -2, dtype=np.int64)
        activity = self.activity()
        params = np.zeros(k.N_SESSION_PARAMS)
        params[k.P_START_S] = self.workday_start_h * 3600.0
        params[k.P_JITTER_S] = self.start_jitter_h * 3600.0
        params[k.P_SHIFT_S] = self.workday_hours * 3600.0
        params[k.P_WEEKEND] = self.weekend_factor
        params[k.P_ACTIVE_S] = self.active_period_s
        params[k.P_IDLE_S] = self.idle_period_s
        params[k.P_RATE_ACTIVE] = self.rate_active_rps
        params[k.P_EMIT_FROM] = self.start_s

        u = rng.random(_UNIFORMS)
        pos = 0
        cap = 2 * _TARGET_BLOCK
        out_t = np.empty(cap)
        out_u = np.empty(cap, dtype=np.int64)
        window = self.window_s
        start = self.start_s
        end = start + self.horizon_s
        t0 = 0.0
        while t0 < end:
            # before ``start`` nothing is written, so one window reaches it
            w_end = start if t0 < start else min(t0 + window, end)
            n_out = 0
            user = 0
            while True:
                n_out, pos, user = k.session_window(
                    w_end, user, kind, wake, phase_end, shift_end, day, offset_s,
                    params, u, pos, out_t, out_u, n_out, activity,
                )  # fmt: skip
                if user >= n:
                    break
                if pos + k.SESSION_UNIFORMS_PER_STEP > len(u):
                    u = rng.random(_UNIFORMS)
                    pos = 0
                if n_out >= len(out_t):
                    out_t = np.concatenate((out_t, np.empty(len(out_t))))
                    out_u = np.concatenate((out_u, np.empty(len(out_u), dtype=np.int64)))
            if n_out:
                order = np.argsort(out_t[:n_out], kind="stable")
                yield ArrivalBlock(out_t[order] - start, users=out_u[order])
            t0 = max(w_end, float(wake.min()))  # skip ahead over stretches with no events
