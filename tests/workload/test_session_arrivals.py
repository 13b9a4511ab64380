"""Users with working days: daily totals, working hours, weekends, a million users."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.workload import SessionArrivals
from sim.workload.sessions import expected_active_s

DAY_S = 86400.0


def _sessions(seed: int, horizon_s: float, **kw: float) -> SessionArrivals:
    args = dict(
        users=400,
        requests_per_user_day=50.0,
        workday_start_h=9.0,
        workday_hours=8.0,
        start_jitter_h=1.0,
        weekend_factor=0.1,
        active_period_s=1800.0,
        idle_period_s=1200.0,
        timezone_spread_h=0.0,
    )
    args.update(kw)
    return SessionArrivals(**args, rng=np.random.default_rng(seed), horizon_s=horizon_s)  # type: ignore[arg-type]


def _all(proc: SessionArrivals) -> tuple[np.ndarray, np.ndarray]:
    blocks = list(proc.blocks())
    return (
        np.concatenate([b.times_s for b in blocks]),
        np.concatenate([b.users for b in blocks]),  # type: ignore[misc]
    )


def test_expected_active_time() -> None:
    assert expected_active_s(28800.0, 1800.0, 0.0) == 28800.0
    assert expected_active_s(28800.0, 1800.0, 1200.0) == pytest.approx(0.6 * 28800 + 288, rel=1e-6)
    # a very long day: the share tends to active / (active + idle)
    assert expected_active_s(1e9, 1800.0, 1200.0) / 1e9 == pytest.approx(0.6, rel=1e-6)


def test_weekday_total_is_users_times_requests_per_day() -> None:
    totals = [len(_all(_sessions(seed, DAY_S))[0]) for seed in range(4)]
    expected = 400 * 50.0  # Monday only
    assert abs(np.mean(totals) / expected - 1) < 0.03


def test_no_requests_outside_working_hours_without_jitter() -> None:
    t, users = _all(_sessions(1, 5 * DAY_S, start_jitter_h=0.0, timezone_spread_h=0.0))
    hour_of_day = (t % DAY_S) / 3600.0
    assert hour_of_day.min() >= 9.0 and hour_of_day.max() < 17.0
    assert users.min() >= 0 and users.max() < 400
    assert len(np.unique(users)) > 390  # nearly everyone works


def test_weekend_share() -> None:
    wf = 0.3
    weekday, weekend = 0, 0
    for seed in range(3):
        t, _ = _all(_sessions(seed, 7 * DAY_S, weekend_factor=wf))
        dow = (t // DAY_S).astype(np.int64)
        weekday += int(np.sum(dow < 5))
        weekend += int(np.sum(dow >= 5))
    ratio = (weekend / 2) / (weekday / 5)  # per weekend day over per weekday
    assert abs(ratio - wf) < 0.03


def test_timezone_spread_widens_the_day() -> None:
    t, _ = _all(_sessions(2, DAY_S, start_jitter_h=0.0, timezone_spread_h=4.0))
    hour_of_day = t / 3600.0
    assert hour_of_day.min() < 6.0 and hour_of_day.max() > 20.0
    assert hour_of_day.min() >= 5.0 and hour_of_day.max() < 21.0


def test_users_per_block_and_sorting() -> None:
    for b in _sessions(3, DAY_S).blocks():
        assert np.all(np.diff(b.times_s) >= 0)
        assert b.users is not None and b.users.dtype == np.int64


def test_mean_rate_formula() -> None:
    proc = _sessions(0, DAY_S, weekend_factor=0.5)
    assert proc.mean_rate_rps == pytest.approx(400 * 50 * 6 / 7 / DAY_S)


def test_million_users_sixty_seconds_at_ten() -> None:
    """All users start at 09:45 (no jitter): the rate at 10:00 has a closed form."""
    users, start_h = 1_000_000, 9.75
    proc = SessionArrivals(
        users, 100.0, start_h, 8.0, 0.0, 0.0, 1800.0, 1200.0, 0.0,
        rng=np.random.default_rng(0), horizon_s=10 * 3600.0 + 60.0,
    )  # fmt: skip
    count = 0
    n_blocks = 0
    for b in proc.blocks():
        n_blocks += 1
        assert len(b) < 60_000
        count += int(np.sum(b.times_s >= 10 * 3600.0))
    a, i = 1800.0, 1200.0
    since = (10.0 - start_h) * 3600.0  # seconds into the shift at 10:00 (+30 s mid-window)
    p_active = a / (a + i) + i / (a + i) * math.exp(-(since + 30.0) * (a + i) / (a * i))
    expected = users * proc.rate_active_rps * p_active * 60.0
    assert abs(count / expected - 1) < 0.03
    assert n_blocks > 10


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="users"):
        _sessions(0, DAY_S, users=0)
    with pytest.raises(ValueError, match="weekend_factor"):
        _sessions(0, DAY_S, weekend_factor=1.5)
    with pytest.raises(ValueError, match="workday_hours"):
        _sessions(0, DAY_S, workday_hours=30.0)
