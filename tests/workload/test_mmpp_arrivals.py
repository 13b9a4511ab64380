"""Markov-modulated Poisson arrivals: long-run rate and burstiness."""

from __future__ import annotations

import numpy as np
import pytest

from sim.workload import MmppArrivals


def _times(proc: MmppArrivals) -> np.ndarray:
    return np.concatenate([b.times_s for b in proc.blocks()])


def test_mean_rate_formula() -> None:
    proc = MmppArrivals([0.2, 20.0], [600.0, 30.0], rng=np.random.default_rng(0), horizon_s=1.0)
    assert proc.mean_rate_rps == pytest.approx((0.2 * 600 + 20 * 30) / 630)


def test_interarrival_cv_formula() -> None:
    rng = np.random.default_rng(0)
    assert MmppArrivals([2.0, 2.0], [5.0, 9.0], rng=rng, horizon_s=1.0).interarrival_cv == (
        pytest.approx(1.0)
    )
    bursty = MmppArrivals([0.2, 20.0], [600.0, 30.0], rng=rng, horizon_s=1.0)
    assert bursty.interarrival_cv == pytest.approx(3.13, abs=0.01)


def test_long_run_rate_and_cv_far_above_one() -> None:
    horizon = 400_000.0
    rates, cvs = [], []
    for seed in range(5):
        proc = MmppArrivals(
            [0.2, 20.0], [600.0, 30.0], rng=np.random.default_rng(seed), horizon_s=horizon
        )
        t = _times(proc)
        rates.append(len(t) / horizon)
        gaps = np.diff(t)
        cvs.append(gaps.std() / gaps.mean())
    # ~640 on/off cycles per run: the count's relative sd is ~4 % per run
    assert abs(np.mean(rates) / proc.mean_rate_rps - 1) < 0.08
    # the sample CV converges slowly (heavy tail of long quiet gaps): band over seeds
    assert np.mean(cvs) > 3.0
    assert abs(np.mean(cvs) - proc.interarrival_cv) < 0.15


def test_three_states_time_shares() -> None:
    """With one silent state, the share of gaps longer than typical shows the silences."""
    horizon = 100_000.0
    counts = []
    for seed in range(4):
        proc = MmppArrivals(
            [1.0, 0.0, 4.0],
            [100.0, 100.0, 50.0],
            rng=np.random.default_rng(seed),
            horizon_s=horizon,
        )
        counts.append(len(_times(proc)))
    assert abs(np.mean(counts) / (proc.mean_rate_rps * horizon) - 1) < 0.05
    assert proc.mean_rate_rps == pytest.approx((100 + 0 + 200) / 250)


def test_rejects_bad_arguments() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="same length"):
        MmppArrivals([1.0, 2.0], [1.0], rng=rng, horizon_s=1.0)
    with pytest.raises(ValueError, match="mean_sojourn_s"):
        MmppArrivals([1.0, 2.0], [1.0, 0.0], rng=rng, horizon_s=1.0)
