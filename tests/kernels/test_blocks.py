import numpy as np
import pytest

from sim.kernels.blocks import BlockDraws, lognormal_draws


def test_values_are_the_blocks_in_order():
    d = BlockDraws(np.random.default_rng(3).random, block=7)
    got = [d.next() for _ in range(20)]
    ref = np.random.default_rng(3)
    want = np.concatenate([ref.random(7) for _ in range(3)])[:20]
    assert np.array_equal(got, want)


def test_lognormal_median():
    d = lognormal_draws(np.random.default_rng(0), median=0.5, sigma=0.4)
    x = np.array([d.next() for _ in range(20_000)])
    assert np.median(x) == pytest.approx(0.5, rel=0.03)


def test_bad_block():
    with pytest.raises(ValueError, match="block"):
        BlockDraws(np.random.default_rng(0).random, block=0)
