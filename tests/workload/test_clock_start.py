"""Starting the clock later in the week (workload.clock_start_h)."""

import numpy as np

from sim.workload import PoissonArrivals, SessionArrivals
from sim.workload.shift import ShiftedArrivals


def _sessions(seed, horizon_s, start_s=0.0):
    return SessionArrivals(
        2000, 115.0, 9.0, 8.0, 1.0, 0.1, 1800.0, 1200.0, 0.0,
        rng=np.random.default_rng(seed), horizon_s=horizon_s, start_s=start_s,
    )  # fmt: skip


def _times(proc):
    blocks = [b.times_s for b in proc.blocks()]
    return np.concatenate(blocks) if blocks else np.empty(0)


def test_sessions_started_late_match_the_same_hour_from_midnight():
    late, full = [], []
    for seed in range(4):
        t = _times(_sessions(seed, 3600.0, start_s=10 * 3600.0))
        assert t.min() >= 0 and t.max() < 3600.0
        late.append(t.size)
        f = _times(_sessions(100 + seed, 11 * 3600.0))
        full.append(np.count_nonzero(f >= 10 * 3600.0))
    assert abs(np.mean(late) / np.mean(full) - 1) < 0.05
    assert np.mean(late) > 10_000  # the 10:00 hour is busy


def test_shifted_wrapper_keeps_rate_and_retimes():
    inner = PoissonArrivals(5.0, rng=np.random.default_rng(1), horizon_s=3600.0 + 1800.0)
    t = _times(ShiftedArrivals(inner, 1800.0))
    assert t.min() >= 0 and t.max() < 3600.0
    assert abs(t.size / (5.0 * 3600) - 1) < 0.05
