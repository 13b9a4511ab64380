"""Poisson and diurnal arrivals: counts, dispersion and the daily profile."""

from __future__ import annotations

import numpy as np
import pytest

from sim.workload import DiurnalArrivals, PoissonArrivals

SEEDS = range(5)


def _times(proc) -> np.ndarray:
    return np.concatenate([b.times_s for b in proc.blocks()])


def test_poisson_count_and_cv() -> None:
    rate, horizon = 3.0, 20_000.0
    counts, cvs = [], []
    for seed in SEEDS:
        t = _times(PoissonArrivals(rate, rng=np.random.default_rng(seed), horizon_s=horizon))
        counts.append(len(t))
        gaps = np.diff(t)
        cvs.append(gaps.std() / gaps.mean())
    expected = rate * horizon  # sd of the mean of 5 counts ~ sqrt(60000 / 5) ~ 110
    assert abs(np.mean(counts) - expected) < 5 * np.sqrt(expected / len(SEEDS))
    assert 0.97 < np.mean(cvs) < 1.03


def test_poisson_block_size_and_zero_rate() -> None:
    proc = PoissonArrivals(10.0, rng=np.random.default_rng(0), horizon_s=1000.0, block_size=256)
    sizes = [len(b) for b in proc.blocks()]
    assert all(s == 256 for s in sizes[:-1]) and 0 < sizes[-1] <= 256
    assert list(PoissonArrivals(0.0, rng=np.random.default_rng(0), horizon_s=10.0).blocks()) == []


def test_poisson_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="rate_rps"):
        PoissonArrivals(-1.0, rng=np.random.default_rng(0), horizon_s=10.0)
    with pytest.raises(ValueError, match="horizon_s"):
        PoissonArrivals(1.0, rng=np.random.default_rng(0), horizon_s=0.0)
    with pytest.raises(TypeError, match="rng"):
        PoissonArrivals(1.0, rng=0, horizon_s=1.0)  # type: ignore[arg-type]


HOURLY = [0.0] * 7 + [1.0] + [4.0] * 10 + [2.0] * 4 + [0.0] * 2  # closed 22:00-07:00
WEEKLY = [1.0] * 5 + [0.5, 0.25]


def test_diurnal_follows_the_profile() -> None:
    rate = 0.5
    week = 7 * 86400.0
    per_hour = np.zeros(168)
    for seed in SEEDS:
        proc = DiurnalArrivals(
            rate, HOURLY, WEEKLY, rng=np.random.default_rng(seed), horizon_s=week
        )
        t = _times(proc)
        per_hour += np.bincount((t // 3600).astype(np.int64), minlength=168)
    expected = (
        DiurnalArrivals(
            rate, HOURLY, WEEKLY, rng=np.random.default_rng(0), horizon_s=week
        ).hourly_rates_rps()
        * 3600
        * len(SEEDS)
    )
    night = expected == 0
    assert per_hour[night].sum() == 0  # no arrivals while the multiplier is zero
    # busy (x4) vs quiet (x1) hour on weekdays: ratio 4
    busy = per_hour.reshape(7, 24)[:5, 8:18].sum() / 50
    quiet = per_hour.reshape(7, 24)[:5, 7].sum() / 5
    assert 3.6 < busy / quiet < 4.4
    # Sunday (0.25) vs Monday (1.0)
    days = per_hour.reshape(7, 24).sum(axis=1)
    assert 0.22 < days[6] / days[0] < 0.28
    total = per_hour.sum()
    assert abs(total / (rate * week * len(SEEDS)) - 1) < 0.01


def test_diurnal_flat_profile_is_poisson() -> None:
    proc = DiurnalArrivals(
        2.0, [1.0] * 24, [1.0] * 7, rng=np.random.default_rng(1), horizon_s=50_000.0
    )
    t = _times(proc)
    gaps = np.diff(t)
    assert 0.97 < gaps.std() / gaps.mean() < 1.03
    assert abs(len(t) / 100_000 - 1) < 0.02
    assert proc.rate_at(3600 * 30) == pytest.approx(2.0)


def test_diurnal_rejects_bad_profiles() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="hourly"):
        DiurnalArrivals(1.0, [1.0] * 23, [1.0] * 7, rng=rng, horizon_s=1.0)
    with pytest.raises(ValueError, match="weekly"):
        DiurnalArrivals(1.0, [1.0] * 24, [0.0] * 7, rng=rng, horizon_s=1.0)
