"""Sampling kernels of the workload: arrays in, arrays out.

Each kernel is written once as plain Python loops (the ``*_py`` twin, readable and
debuggable) and compiled with ``numba.njit(cache=True)`` from that same source, so the
two cannot drift apart; ``tests/kernels`` checks that the compiled kernel gives what the
twin gives on the same inputs.

No kernel draws random numbers. Randomness comes in as arrays the caller drew from its
``np.random.Generator`` (uniforms in ``[0, 1)``, or unit exponentials). A kernel that
needs an unknown number of uniforms takes a buffer and a read position, returns the new
position, and stops before it would run past the end; its state lives in the caller's
arrays or comes back as return values, so the caller refills the buffer and calls again.
Exponentials are ``-mean * log(1 - u)`` and normals Box-Muller ``sqrt(-2 log(1 - u1))
cos(2 pi u2)``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# --- non-homogeneous Poisson by time rescaling ---------------------------------------


def invert_cumulative_py(
    s: np.ndarray, edges_s: np.ndarray, cum: np.ndarray, rates: np.ndarray, out: np.ndarray
) -> None:
    """Times at which a periodic piecewise-constant intensity reaches ``s`` (into ``out``).

    One period has segments ``[edges_s[k], edges_s[k+1])`` of intensity ``rates[k]``;
    ``cum[k]`` is the integrated intensity at ``edges_s[k]`` (``cum[0] == 0``, ``cum[-1]``
    the integral over one period, > 0). Points ``s`` of a unit-rate Poisson process map
    to an exact Poisson process of that intensity. Zero-rate segments receive no points.
    """
    k_seg = rates.shape[0]
    period_s = edges_s[k_seg]
    per_period = cum[k_seg]
    for j in range(s.shape[0]):
        w = np.floor(s[j] / per_period)  # a float: an int64 would overflow for tiny rates
        r = s[j] - w * per_period
        # largest k in [0, k_seg - 1] with cum[k] <= r (binary search)
        lo = 0
        hi = k_seg - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if cum[mid] <= r:
                lo = mid
            else:
                hi = mid - 1
        x = edges_s[lo] + (r - cum[lo]) / rates[lo]
        if x > edges_s[lo + 1]:  # rounding at the end of the period
            x = edges_s[lo + 1]
        out[j] = w * period_s + x


# --- Markov-modulated Poisson --------------------------------------------------------


def mmpp_fill_py(
    rates_rps: np.ndarray,
    sojourn_s: np.ndarray,
    state: int,
    t: float,
    state_end: float,
    t_end: float,
    u: np.ndarray,
    pos: int,
    out: np.ndarray,
) -> tuple[int, int, int, float, float]:
    """Arrivals of a Markov-modulated Poisson process, from time ``t`` on, into ``out``.

    In state ``i`` arrivals come at rate ``rates_rps[i]`` until ``state_end``; the chain
    then moves to a uniformly chosen other state for an exponential sojourn of mean
    ``sojourn_s[i]``. Stops when ``out`` is full, when the next event is at or after
    ``t_end`` (then the returned ``t`` is ``t_end``), or before the uniforms in ``u`` run
    out. Resuming from the returned ``(state, t, state_end)`` is exact (memorylessness).

    Returns ``(n_written, pos, state, t, state_end)``.
    """
    k = rates_rps.shape[0]
    cap = out.shape[0]
    nu = u.shape[0]
    n = 0
    while n < cap and pos + 3 <= nu:
        r = rates_rps[state]
        if r > 0.0:
            nt = t - math.log(1.0 - u[pos]) / r
            pos += 1
        else:
            nt = math.inf
        if nt < state_end:
            if nt >= t_end:
                t = t_end
                break
            out[n] = nt
            n += 1
            t = nt
        else:
            if state_end >= t_end:
                t = t_end
                break
            t = state_end
            j = int((k - 1) * u[pos])
            pos += 1
            if j > k - 2:
                j = k - 2
            if j >= state:
                j += 1
            state = j
            state_end = t - sojourn_s[state] * math.log(1.0 - u[pos])
            pos += 1
    return n, pos, state, t, state_end


# --- users with working days and bursts of activity ----------------------------------

PLAN = 0  # wake: end of the last shift; next step plans the next working day
REQ = 1  # wake: time of the user's next request (inside an active period)
ACT_END = 2  # wake: end of an active period
IDLE_END = 3  # wake: end of an idle period
SESSION_UNIFORMS_PER_STEP = 6  # at most: two weekend coin flips, a normal, two exponentials

# params of session_window: indices into a float64 array
P_START_S = 0  # local start of the working day, seconds after midnight
P_JITTER_S = 1  # std-dev of the start, seconds
P_SHIFT_S = 2  # length of the working day, seconds
P_WEEKEND = 3  # probability of working on a Saturday / Sunday
P_ACTIVE_S = 4  # mean active period
P_IDLE_S = 5  # mean idle period
P_RATE_ACTIVE = 6  # request rate while active, per second
P_EMIT_FROM = 7  # requests before this time are simulated but not written
N_SESSION_PARAMS = 8


def session_window_py(
    w_end: float,
    first_user: int,
    kind: np.ndarray,
    wake: np.ndarray,
    phase_end: np.ndarray,
    shift_end: np.ndarray,
    day: np.ndarray,
    offset_s: np.ndarray,
    params: np.ndarray,
    u: np.ndarray,
    pos: int,
    out_t: np.ndarray,
    out_u: np.ndarray,
    n_out: int,
    activity: np.ndarray | None = None,
) -> tuple[int, int, int]:
    """Advance users ``first_user, first_user + 1, ...`` until each one's next event is at
    or after ``w_end``, writing their requests at times >= ``params[P_EMIT_FROM]`` to
    ``out_t``/``out_u``.

    Per-user state (arrays indexed by user): ``kind`` (PLAN, REQ, ACT_END, IDLE_END),
    ``wake`` (time of the pending event), ``phase_end`` (end of the current active
    period), ``shift_end`` (end of the current working day), ``day`` (the user's local day
    index of that working day) and ``offset_s`` (the user's clock offset, local = global +
    offset). Day ``d`` of a user starts at global ``d * 86400 - offset_s``; day 0 is a
    Monday. A new state starts with ``kind = PLAN``, ``wake = -inf``, ``day = -2``.

    A working day starts at ``start + jitter * N(0, 1)`` (never before the previous one
    ended) and lasts ``shift``; it alternates exponential active and idle periods,
    starting active, and is cut at its end. Requests are Poisson at ``rate_active``
    within active periods. Saturdays and Sundays are worked with probability
    ``weekend``. ``activity`` (optional, one float per user) multiplies each user's
    rate: user ``i`` sends requests at ``rate_active * activity[i]`` while active; without
    it every user sends at ``rate_active``.

    Each step updates one user's state in full, so stopping between steps is safe: the
    kernel stops when ``out_t`` is full or fewer than ``SESSION_UNIFORMS_PER_STEP``
    uniforms remain. Returns ``(n_out, pos, next_user)``; ``next_user ==
    len(wake)`` means the window is done, otherwise refill/grow and call again from
    ``next_user``.
    """
    start_s = params[P_START_S]
    jitter_s = params[P_JITTER_S]
    shift_s = params[P_SHIFT_S]
    weekend = params[P_WEEKEND]
    mean_active_s = params[P_ACTIVE_S]
    mean_idle_s = params[P_IDLE_S]
    base_rate = params[P_RATE_ACTIVE]
    emit_from = params[P_EMIT_FROM]
    n_users = wake.shape[0]
    cap = out_t.shape[0]
    nu = u.shape[0]
    i = first_user
    while i < n_users:
        rate = base_rate
        if activity is not None:
            rate = base_rate * activity[i]
        while wake[i] < w_end:
            if pos + 6 > nu or n_out >= cap:
                return n_out, pos, i
            k = kind[i]
            t = wake[i]
            begin_active = False
            if k == REQ:
                if t >= emit_from:
                    out_t[n_out] = t
                    out_u[n_out] = i
                    n_out += 1
                nt = math.inf
                if rate > 0.0:
                    nt = t - math.log(1.0 - u[pos]) / rate
                pos += 1
                if nt < phase_end[i]:
                    wake[i] = nt
                else:
                    kind[i] = ACT_END
                    wake[i] = phase_end[i]
            elif k == ACT_END:
                idle_end = t - mean_idle_s * math.log(1.0 - u[pos])
                pos += 1
                if idle_end >= shift_end[i]:
                    kind[i] = PLAN
                    wake[i] = shift_end[i]
                else:
                    kind[i] = IDLE_END
                    wake[i] = idle_end
            elif k == IDLE_END:
                begin_active = True
            else:  # PLAN the next working day
                d = day[i] + 1
                while d % 7 >= 5:  # Saturday or Sunday
                    x = u[pos]
                    pos += 1
                    if x < weekend:
                        break
                    d += 1
                z = math.sqrt(-2.0 * math.log(1.0 - u[pos])) * math.cos(2.0 * math.pi * u[pos + 1])
                pos += 2
                begin = d * 86400.0 + start_s + jitter_s * z - offset_s[i]
                if begin < t:
                    begin = t
                day[i] = d
                shift_end[i] = begin + shift_s
                t = begin
                begin_active = True
            if begin_active:
                pe = t - mean_active_s * math.log(1.0 - u[pos])
                pos += 1
                if pe > shift_end[i]:
                    pe = shift_end[i]
                phase_end[i] = pe
                nt = math.inf
                if rate > 0.0:
                    nt = t - math.log(1.0 - u[pos]) / rate
                pos += 1
                if nt < pe:
                    kind[i] = REQ
                    wake[i] = nt
                else:
                    kind[i] = ACT_END
                    wake[i] = pe
        i += 1
    return n_out, pos, n_users


# --- request sizes ----------------------------------------------------------------------


def lognormal_counts_py(
    z: np.ndarray, median: float, sigma: float, lo: int, hi: int, out: np.ndarray
) -> None:
    """Token counts ``clip(rint(median * exp(sigma * z)), lo, hi)`` into ``out`` (int64).

    ``z`` holds standard normals drawn by the caller. Rounding is to the nearest integer,
    halves to even, like ``np.rint``.
    """
    for i in range(z.shape[0]):
        x = median * math.exp(sigma * z[i])
        if not x < hi:  # also inf: clip before converting, an int64 would overflow
            out[i] = hi
            continue
        r = math.floor(x + 0.5)
        if r - x == 0.5 and r % 2 != 0:  # a tie rounds to even
            r -= 1
        if r < lo:
            r = lo
        elif r > hi:
            r = hi
        out[i] = r


_SQRT1_2 = math.sqrt(0.5)


def lognormal_tail_sum_py(mu: float, sigma: float, lo: int, hi: int) -> float:
    """``sum_{k=lo}^{hi-1} P(X > k + 1/2)`` for ``X = exp(mu + sigma * Z)``, ``sigma > 0``.

    ``lo`` plus this sum is the mean of ``clip(rint(X), lo, hi)``. Each term is
    ``ndtr(-w) = erfc(w / sqrt(2)) / 2`` with ``w = (log(k + 1/2) - mu) / sigma``, accurate
    in the far tail too. Terms are added smallest first (``k`` from ``hi - 1`` down) with
    compensated (Neumaier) summation, so two million terms keep ~1e-15 relative accuracy.
    """
    total = 0.0
    comp = 0.0
    for k in range(hi - 1, lo - 1, -1):
        w = (math.log(k + 0.5) - mu) / sigma
        term = 0.5 * math.erfc(w * _SQRT1_2)
        t = total + term
        if abs(total) >= abs(term):
            comp += (total - t) + term
        else:
            comp += (term - t) + total
        total = t
    return total + comp


invert_cumulative = njit(cache=True)(invert_cumulative_py)
lognormal_counts = njit(cache=True)(lognormal_counts_py)
lognormal_tail_sum = njit(cache=True)(lognormal_tail_sum_py)
mmpp_fill = njit(cache=True)(mmpp_fill_py)
session_window = njit(cache=True)(session_window_py)
