"""How much work a config asks for, before anything is built.

:func:`expected_rate_rps` is the long-run mean arrival rate the workload implies (grown
on average over the horizon as ``workload.growth`` asks). :func:`check_work` refuses a
run that would take days: more than ``MAX_REQUESTS`` expected requests, or arrival
kernels that would step more than ``MAX_KERNEL_STEPS`` times (an MMPP state change of a
nanosecond, a session model over too many users and windows), naming the knob.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.checks import ConfigError, show

MAX_REQUESTS = 1e9  # expected requests per run; beyond this a run takes many hours
MAX_KERNEL_STEPS = 1e11  # arrival-kernel steps (state changes, user windows) per run
REQUESTS_PER_S = 50_000.0  # order of the simulator's speed on one core (benchmarks/)


def expected_rate_rps(cfg: Any) -> float | None:
    """Long-run mean arrival rate implied by the workload config, grown on average over the
    horizon as ``workload.growth`` asks (None where it cannot be known: a missing trace)."""
    base = _base_rate_rps(cfg)
    if base is None:
        return None
    from sim.months import volume_schedule

    schedule = volume_schedule(cfg.workload.growth, float(cfg.horizon_s))
    return base * schedule.mean(float(cfg.horizon_s)) if schedule is not None else base


def _base_rate_rps(cfg: Any) -> float | None:
    w = cfg.workload
    if w.arrival in ("poisson", "diurnal"):
        return float(w.rate_rps)
    if w.arrival == "mmpp":
        rates = np.asarray(list(w.mmpp.rates_rps), dtype=float)
        sojourn = np.asarray(list(w.mmpp.mean_sojourn_s), dtype=float)
        return float(rates @ sojourn / sojourn.sum())
    if w.arrival == "sessions" and w.users is not None:
        s = w.sessions
        return w.users * s.requests_per_user_day * (5 + 2 * s.weekend_factor) / 7 / 86400
    if w.arrival == "trace":
        from sim.checks import InputFileError
        from sim.workload.trace import load_azure_trace

        try:
            times, _, _ = load_azure_trace(w.trace.path)
        except InputFileError:
            return None  # reported with its key when the run is built
        span = float(times[-1]) if len(times) > 1 else 0.0
        if span <= 0:
            return None
        return len(times) / (span + span / (len(times) - 1)) * w.trace.speedup
    return None


def _kernel_steps(cfg: Any) -> tuple[float, str, str] | None:
    """Steps the arrival kernels would take besides emitting requests: ``(steps, key, knobs)``.

    MMPP arrivals step once per change of state; the session model steps once per user
    and window (windows shrink as the peak rate grows) and once per change between
    active and idle. Absurd values (a sojourn of a nanosecond) would run for days.
    """
    w = cfg.workload
    if w.arrival == "mmpp":
        sojourn = np.asarray(list(w.mmpp.mean_sojourn_s), dtype=float)
        steps = (cfg.horizon_s + w.clock_start_h * 3600) / float(sojourn.mean())
        return (
            steps,
            "workload.mmpp.mean_sojourn_s",
            f"workload.mmpp.mean_sojourn_s={show(list(sojourn))}",
        )
    if w.arrival == "sessions" and w.users is not None:
        from sim.workload.sessions import expected_active_s

        s = w.sessions
        span = cfg.horizon_s + w.clock_start_h * 3600
        shift_s = s.workday_hours * 3600
        active = expected_active_s(shift_s, s.active_period_s, s.idle_period_s)
        peak = w.users * s.requests_per_user_day / active
        window = float(np.clip(25_000 / peak, 1e-3, 86400.0)) if peak > 0 else 86400.0
        days = span / 86400 * (5 + 2 * s.weekend_factor) / 7 + 1
        phases = days * 2 * shift_s / (s.active_period_s + s.idle_period_s)
        windows = cfg.horizon_s * _working_share(cfg) / window + 1  # idle stretches skipped
        knobs = (
            f"workload.users={w.users} with workload.sessions.active_period_s="
            f"{show(s.active_period_s)} and requests_per_user_day={show(s.requests_per_user_day)}"
        )
        return w.users * (windows + phases), "workload.users", knobs
    return None


def _working_share(cfg: Any) -> float:
    """Share of the simulated window in which some user may be working (minute grid).

    The session model jumps over stretches where nobody works (nights, weekends), so
    only this share of the horizon costs a pass over all users per window.
    """
    w = cfg.workload
    s = w.sessions
    minutes = np.arange(int(min(cfg.horizon_s, 7 * 86400) // 60) + 1) / 60.0
    t_h = (w.clock_start_h + minutes) % 168.0
    day, hour = t_h // 24, t_h % 24
    margin = 3 * s.start_jitter_h + s.timezone_spread_h
    lo, hi = s.workday_start_h - margin, s.workday_start_h + s.workday_hours + margin
    in_hours = ((hour - lo) % 24 <= hi - lo) if hi - lo < 24 else np.ones_like(hour, bool)
    workday = (day < 5) | (s.weekend_factor > 0)
    return float(np.mean(in_hours & workday))


def check_work(cfg: Any) -> None:
    """Refuse a run that would take days: too many requests or arrival-kernel steps."""
    w = cfg.workload
    steps = _kernel_steps(cfg)
    if steps is not None and steps[0] > MAX_KERNEL_STEPS:
        n, key, knobs = steps
        raise ConfigError(
            f"{knobs} over horizon_s={show(cfg.horizon_s)} make about {n:,.3g} steps of the "
            f"arrival model, far more than the {MAX_KERNEL_STEPS:,.0g} a run can take in "
            "minutes; use longer periods, fewer users or a shorter horizon_s",
            key=key,
        )
    rate = expected_rate_rps(cfg)
    if rate is None:
        return
    expected = rate * cfg.horizon_s
    if expected <= MAX_REQUESTS:
        return
    knob = {
        "sessions": f"workload.users={w.users}",
        "poisson": f"workload.rate_rps={w.rate_rps}",
        "diurnal": f"workload.rate_rps={w.rate_rps}",
        "trace": f"workload.trace.speedup={w.trace.speedup}",
    }
    what = knob.get(w.arrival, f"workload.arrival={w.arrival!r}")
    hours = expected / REQUESTS_PER_S / 3600
    raise ConfigError(
        f"{what} over horizon_s={show(cfg.horizon_s)} brings about {expected:,.3g} requests, "
        f"about {hours:,.3g} hours of simulation at ~{REQUESTS_PER_S:,.0f} requests per "
        f"second; the limit is {MAX_REQUESTS:,.0g}: simulate a shorter horizon_s (a busy "
        "hour, with workload.clock_start_h) or less traffic",
        key=what.split("=")[0],
    )
