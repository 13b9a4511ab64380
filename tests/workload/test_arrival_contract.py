"""Every arrival process honours the ArrivalProcess contract and is reproducible."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from sim.workload import (
    ArrivalBlock,
    ArrivalProcess,
    DiurnalArrivals,
    MmppArrivals,
    PoissonArrivals,
    SessionArrivals,
    TraceArrivals,
)

HORIZON_S = 2 * 86400.0
HOURLY = [0.2] * 8 + [1.0] * 10 + [0.5] * 6


def _make(name: str, seed: int, horizon_s: float = HORIZON_S) -> ArrivalProcess:
    rng = np.random.default_rng(seed)
    makers: dict[str, Callable[[], ArrivalProcess]] = {
        "poisson": lambda: PoissonArrivals(0.5, rng=rng, horizon_s=horizon_s, block_size=1000),
        "diurnal": lambda: DiurnalArrivals(
            0.5, HOURLY, [1.0] * 7, rng=rng, horizon_s=horizon_s, block_size=1000
        ),
        "mmpp": lambda: MmppArrivals(
            [0.1, 5.0], [600.0, 60.0], rng=rng, horizon_s=horizon_s, block_size=1000
        ),
        "sessions": lambda: SessionArrivals(
            300, 50.0, 9.0, 8.0, 1.0, 0.1, 1800.0, 1200.0, 2.0, rng=rng, horizon_s=horizon_s
        ),
        "trace": lambda: TraceArrivals(
            "azure_llm_2023_conv.csv", 0.1, horizon_s=horizon_s, block_size=1000
        ),
    }
    return makers[name]()


NAMES = ["poisson", "diurnal", "mmpp", "sessions", "trace"]


def _concat(blocks: list[ArrivalBlock]) -> np.ndarray:
    return np.concatenate([b.times_s for b in blocks])


@pytest.mark.parametrize("name", NAMES)
def test_blocks_are_sorted_and_inside_the_horizon(name: str) -> None:
    proc = _make(name, 0)
    assert isinstance(proc, ArrivalProcess)
    blocks = list(proc.blocks())
    assert blocks and all(len(b) > 0 for b in blocks)
    t = _concat(blocks)
    assert t.dtype == np.float64
    assert np.all(np.diff(t) >= 0)
    assert t[0] >= 0 and t[-1] < HORIZON_S
    for b in blocks:
        for extra in (b.users, b.prompt_tokens, b.output_tokens):
            assert extra is None or (extra.dtype == np.int64 and len(extra) == len(b))
    assert proc.mean_rate_rps > 0


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_blocks_different_seed_different(name: str) -> None:
    a = list(_make(name, 7).blocks())
    b = list(_make(name, 7).blocks())
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.times_s, y.times_s)
        if x.users is not None:
            np.testing.assert_array_equal(x.users, y.users)
    if name != "trace":  # a replay has no randomness
        c = _concat(list(_make(name, 8).blocks()))
        ta = _concat(a)
        assert len(c) != len(ta) or not np.array_equal(c, ta)


@pytest.mark.parametrize("name", NAMES)
def test_long_run_rate_matches_mean_rate(name: str) -> None:
    """Over a week, the count is near mean_rate_rps * horizon (loose band, one seed each)."""
    week = 7 * 86400.0
    counts, expected = [], 0.0
    for seed in range(3):
        proc = _make(name, 100 + seed, horizon_s=week)
        counts.append(sum(len(b) for b in proc.blocks()))
        expected = proc.mean_rate_rps * week
    assert abs(np.mean(counts) / expected - 1) < 0.05
