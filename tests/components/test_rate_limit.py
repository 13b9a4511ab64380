"""Tests of the GCRA token bucket: burst + rate bound, FIFO order, no capacity on peeks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.components.rate_limit import TokenBucket


def _admissions(bucket: TokenBucket, arrivals: np.ndarray, costs: np.ndarray) -> np.ndarray:
    return np.array(
        [bucket.reserve(float(t), float(c)) for t, c in zip(arrivals, costs, strict=True)]
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_admitted_cost_never_exceeds_rate_times_window_plus_capacity(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rate, cap = 10.0, 50.0
    bucket = TokenBucket(rate, cap)
    # bursty arrivals: far more offered than the rate allows
    arrivals = np.sort(rng.uniform(0.0, 20.0, 2000))
    costs = rng.integers(1, 20, arrivals.size).astype(float)
    at = _admissions(bucket, arrivals, costs)
    assert np.all(at >= arrivals)
    order = np.argsort(at, kind="stable")
    at_sorted, cost_sorted = at[order], costs[order]
    cum = np.concatenate([[0.0], np.cumsum(cost_sorted)])
    # every window [at_i, at_j]: sum of costs admitted in it <= rate * (at_j - at_i) + cap
    for i in range(0, at.size, 7):
        j = np.arange(i, at.size)
        admitted = cum[j + 1] - cum[i]
        bound = rate * (at_sorted[j] - at_sorted[i]) + cap
        assert np.all(admitted <= bound + 1e-6)
    # and the bucket is actually used: long-run admitted rate close to the limit
    span = at.max() - at.min()
    assert costs.sum() / span == pytest.approx(rate, rel=0.05)


def test_fifo_no_overtaking() -> None:
    bucket = TokenBucket(rate_per_s=1.0, capacity=10.0)
    assert bucket.reserve(0.0, 10.0) == 0.0  # drains the bucket
    big = bucket.reserve(0.0, 8.0)  # needs 8 units: t = 8
    small = bucket.reserve(0.0, 1.0)  # would fit at t = 1 alone, but waits its turn
    assert big == pytest.approx(8.0)
    assert small >= big
    times = [bucket.reserve(0.0, float(c)) for c in [3, 1, 5, 1, 1]]
    assert times == sorted(times)


def test_starts_full_and_refills_continuously() -> None:
    b = TokenBucket.per_minute(60.0)  # 1/s, capacity 60
    assert b.rate_per_s == 1.0 and b.capacity == 60.0
    assert [b.reserve(0.0, 1.0) for _ in range(60)] == [0.0] * 60
    assert b.reserve(0.0, 1.0) == pytest.approx(1.0)
    assert b.reserve(0.0, 1.0) == pytest.approx(2.0)
    # after a long idle period the bucket is full again, not more
    assert b.level(1000.0) == pytest.approx(60.0)
    assert b.reserve(1000.0, 60.0) == 1000.0
    assert b.reserve(1000.0, 1.0) == pytest.approx(1001.0)


def test_earliest_peeks_without_consuming() -> None:
    b = TokenBucket(rate_per_s=2.0, capacity=4.0)
    b.reserve(0.0, 4.0)
    first = b.earliest(0.0, 2.0)
    assert first == pytest.approx(1.0)
    assert b.earliest(0.0, 2.0) == first  # no commit: same answer
    b.commit(first, 2.0)
    assert b.earliest(0.0, 2.0) == pytest.approx(2.0)


def test_cost_above_capacity_is_never_admissible() -> None:
    b = TokenBucket(rate_per_s=1.0, capacity=5.0)
    assert b.reserve(0.0, 6.0) == math.inf
    assert b.reserve(0.0, 5.0) == 0.0  # nothing was committed by the impossible call


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rate_per_s": 0.0, "capacity": 1.0},
        {"rate_per_s": -1.0, "capacity": 1.0},
        {"rate_per_s": 1.0, "capacity": 0.0},
        {"rate_per_s": math.inf, "capacity": 1.0},
    ],
)
def test_rejects_bad_arguments(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="must be a finite number > 0"):
        TokenBucket(**kwargs)
