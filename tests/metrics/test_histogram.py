import math

import numpy as np
import pytest

from sim.metrics.histogram import LogHistogram


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_quantiles_within_bin_error(seed):
    rng = np.random.default_rng(seed)
    x = rng.lognormal(mean=-1.0, sigma=1.5, size=50_000)
    h = LogHistogram(flush_every=4096)
    for v in x[:10_000]:
        h.add(float(v))
    h.add_many(x[10_000:])
    assert h.n == x.size
    assert math.isclose(h.mean, x.mean(), rel_tol=1e-9)
    for q in (0.5, 0.9, 0.95, 0.99):
        exact = np.quantile(x, q)
        assert abs(h.quantile(q) / exact - 1) < 0.011, q
    assert h.quantile(0.0) == pytest.approx(x.min(), rel=0.011)
    assert h.quantile(1.0) == pytest.approx(x.max(), rel=0.011)


def test_zeros_and_empty():
    h = LogHistogram()
    assert math.isnan(h.quantile(0.5))
    assert h.summary()["mean"] is None
    h.add(0.0)
    h.add(0.0)
    h.add(2.0)
    assert h.quantile(0.0) == 0.0
    assert h.mean == pytest.approx(2 / 3)


def test_merge_equals_single():
    rng = np.random.default_rng(5)
    x = rng.exponential(size=1000)
    a, b, c = LogHistogram(), LogHistogram(), LogHistogram()
    a.add_many(x[:400])
    b.add_many(x[400:])
    c.add_many(x)
    a.merge(b)
    assert np.array_equal(a.counts, c.counts)
    assert a.quantile(0.9) == c.quantile(0.9)


def test_non_finite_rejected():
    with pytest.raises(ValueError):
        LogHistogram().add_many(np.array([1.0, np.nan]))


def test_count_includes_unflushed_values():
    h = LogHistogram(flush_every=1000)
    for v in (0.1, 0.2, 0.3):
        h.add(v)
    assert h.n == 3
    assert h.summary()["n"] == 3
