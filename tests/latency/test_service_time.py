"""ServiceTimeLatency: moments of the draws, block refills, contract."""

from __future__ import annotations

import numpy as np
import pytest

from sim.latency import LatencyModel, ServiceTimeLatency


@pytest.mark.parametrize("dist, cv", [("exponential", 1.0), ("lognormal", 0.5), ("lognormal", 2.0)])
def test_mean_and_cv_match_over_seeds(dist, cv):
    means, cvs = [], []
    for seed in range(4):
        lat = ServiceTimeLatency(0.2, cv, dist, rng=np.random.default_rng(seed))
        x = np.array([lat.draw() for _ in range(50_000)])  # crosses many block refills
        means.append(x.mean())
        cvs.append(x.std() / x.mean())
    assert np.mean(means) == pytest.approx(0.2, rel=0.03)
    assert np.mean(cvs) == pytest.approx(cv, rel=0.1 if cv < 2 else 0.25)


def test_prefill_is_sum_of_one_draw_per_request_and_decode_is_free():
    a = ServiceTimeLatency(1.0, rng=np.random.default_rng(7))
    b = ServiceTimeLatency(1.0, rng=np.random.default_rng(7))
    assert a.prefill_s([10, 2000, 5]) == pytest.approx(b.draw() + b.draw() + b.draw())
    assert a.decode_step_s(64, 10**6) == 0.0
    assert a.kv_capacity_tokens > 10**15
    assert isinstance(a, LatencyModel)


def test_same_seed_same_draws():
    a = ServiceTimeLatency(0.5, 1.5, "lognormal", rng=np.random.default_rng(3))
    b = ServiceTimeLatency(0.5, 1.5, "lognormal", rng=np.random.default_rng(3))
    assert [a.draw() for _ in range(5000)] == [b.draw() for _ in range(5000)]


@pytest.mark.parametrize(
    "args, match",
    [
        ((0.0, 1.0, "exponential"), "mean_s"),
        ((1.0, -1.0, "lognormal"), "cv"),
        ((1.0, 1.0, "gamma"), "dist"),
    ],
)
def test_bad_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        ServiceTimeLatency(*args, rng=np.random.default_rng(0))
