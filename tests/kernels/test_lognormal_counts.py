import numpy as np
import pytest

from sim.kernels.sampling import lognormal_counts, lognormal_counts_py


@pytest.mark.parametrize("seed", [0, 1])
def test_kernel_matches_twin_and_numpy(seed):
    z = np.random.default_rng(seed).standard_normal(2000)
    z[:3] = [np.log(2.5 / 10) / 0.5, np.log(3.5 / 10) / 0.5, 10.0]  # ties and a clip
    a = np.empty(z.size, dtype=np.int64)
    b = np.empty(z.size, dtype=np.int64)
    lognormal_counts(z, 10.0, 0.5, 1, 500, a)
    lognormal_counts_py(z, 10.0, 0.5, 1, 500, b)
    ref = np.clip(np.rint(10.0 * np.exp(0.5 * z)), 1, 500).astype(np.int64)
    assert np.array_equal(a, b)
    assert np.array_equal(a, ref)
    assert a.min() >= 1 and a.max() <= 500
