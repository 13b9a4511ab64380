"""Trace loading and replay of the shipped Azure LLM traces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.paths import data_dir
from sim.workload import TraceArrivals, load_azure_trace, shipped_traces

CODE = "azure_llm_2023_code.csv"


def test_load_shipped_trace() -> None:
    t, p, o = load_azure_trace(CODE)
    assert len(t) == len(p) == len(o) == 8819
    assert t[0] == 0.0 and np.all(np.diff(t) >= 0)
    assert 55 * 60 < t[-1] < 60 * 60  # ~57 minutes
    assert p.dtype == o.dtype == np.int64
    assert np.median(p) == 1469 and np.median(o) == 13
    assert load_azure_trace(CODE)[0] is t  # cached
    assert load_azure_trace(data_dir() / CODE)[0] is t  # same file, same cache entry
    assert not t.flags.writeable


def test_load_from_a_filesystem_path(tmp_path: Path) -> None:
    f = tmp_path / "tiny.csv"
    f.write_text(
        "TIMESTAMP,ContextTokens,GeneratedTokens\n"
        "2023-11-16 18:00:01.5000000,10,2\n"
        "2023-11-16 18:00:00.5000000,20,3\n"
        "2023-11-16 18:00:03.0000000,30,4\n"
    )
    t, p, o = load_azure_trace(str(f))
    np.testing.assert_allclose(t, [0.0, 1.0, 2.5])
    np.testing.assert_array_equal(p, [20, 10, 30])
    np.testing.assert_array_equal(o, [3, 2, 4])


def test_missing_trace_names_the_path_and_lists_shipped() -> None:
    with pytest.raises(FileNotFoundError) as err:
        TraceArrivals("no_such_trace.csv", horizon_s=10.0)
    assert "no_such_trace.csv" in str(err.value) and CODE in str(err.value)
    with pytest.raises(FileNotFoundError, match="/tmp/nowhere/x.csv"):
        load_azure_trace("/tmp/nowhere/x.csv")
    assert CODE in shipped_traces()


def _replay(**kw) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    blocks = list(TraceArrivals(CODE, **kw).blocks())
    return (
        np.concatenate([b.times_s for b in blocks]),
        np.concatenate([b.prompt_tokens for b in blocks]),  # type: ignore[misc]
        np.concatenate([b.output_tokens for b in blocks]),  # type: ignore[misc]
    )


def test_replay_reproduces_count_and_tokens() -> None:
    t0, p0, o0 = load_azure_trace(CODE)
    t, p, o = _replay(horizon_s=float(t0[-1]) + 1e-6, loop=False, block_size=1000)
    assert len(t) == len(t0)
    np.testing.assert_allclose(t, t0)
    assert p.sum() == p0.sum() and o.sum() == o0.sum()


def test_speedup_doubles_the_rate() -> None:
    one = len(_replay(horizon_s=1200.0, loop=False)[0])
    two = len(_replay(horizon_s=600.0, speedup=2.0, loop=False)[0])
    assert one == two  # the same requests in half the time
    assert TraceArrivals(CODE, 2.0, horizon_s=1.0).mean_rate_rps == pytest.approx(
        2 * TraceArrivals(CODE, horizon_s=1.0).mean_rate_rps
    )


def test_loop_continues_past_the_span() -> None:
    t0, p0, _ = load_azure_trace(CODE)
    proc = TraceArrivals(CODE, horizon_s=3.5 * 3600.0)
    t, p, _ = _replay(horizon_s=3.5 * 3600.0)
    assert t[-1] > 3 * 3600.0 and np.all(np.diff(t) >= 0)
    assert len(t) > 3 * len(t0)
    # the second pass starts one mean gap after the end of the first
    np.testing.assert_allclose(t[len(t0)], proc.period_s)
    np.testing.assert_array_equal(p[len(t0) : 2 * len(t0)], p0)
    assert (
        not list(TraceArrivals(CODE, loop=False, horizon_s=1e6).blocks())[-1].times_s[-1] > t0[-1]
    )


def test_rate_matches_the_trace() -> None:
    proc = TraceArrivals(CODE, horizon_s=1.0)
    assert proc.mean_rate_rps == pytest.approx(2.57, abs=0.01)
