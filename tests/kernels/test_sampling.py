"""Each numba kernel of sim.kernels.sampling agrees with its pure-Python twin."""

from __future__ import annotations

import numpy as np
import pytest

from sim.kernels import sampling as k


def _week_profile() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rates = np.array([0.0, 2.0, 0.0, 0.0, 5.0, 1.0])
    edges = np.arange(7, dtype=np.float64) * 10.0
    cum = np.concatenate(([0.0], np.cumsum(rates * 10.0)))
    return edges, cum, rates


def test_invert_cumulative_matches_twin() -> None:
    edges, cum, rates = _week_profile()
    s = np.cumsum(np.random.default_rng(0).standard_exponential(500))
    got, want = np.empty_like(s), np.empty_like(s)
    k.invert_cumulative(s, edges, cum, rates, got)
    k.invert_cumulative_py(s, edges, cum, rates, want)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
    assert np.all(np.diff(got) >= 0)
    phase = got % 60.0
    # no points in zero-rate segments [0,10), [20,40)
    assert not np.any(phase < 10.0) and not np.any((phase >= 20.0) & (phase < 40.0))


def test_mmpp_fill_matches_twin() -> None:
    rates = np.array([0.5, 4.0, 0.0])
    sojourn = np.array([5.0, 2.0, 3.0])
    u = np.random.default_rng(1).random(3000)
    results = []
    for fn in (k.mmpp_fill, k.mmpp_fill_py):
        out = np.zeros(400)
        results.append((fn(rates, sojourn, 1, 0.0, 1.5, 1e9, u, 0, out), out))
    (r1, o1), (r2, o2) = results
    assert r1[0] == r2[0] and r1[1] == r2[1] and r1[2] == r2[2]
    np.testing.assert_allclose(r1[3:], r2[3:], rtol=1e-12)
    np.testing.assert_allclose(o1, o2, rtol=1e-12)
    assert r1[0] == 400  # stopped because out was full


def test_mmpp_fill_stops_at_t_end() -> None:
    u = np.random.default_rng(2).random(10_000)
    out = np.zeros(10_000)
    n, _, _, t, _ = k.mmpp_fill(
        np.array([1.0, 3.0]), np.array([4.0, 4.0]), 0, 0.0, 2.0, 50.0, u, 0, out
    )
    assert t == 50.0 and 0 < n < 10_000 and out[n - 1] < 50.0


def _session_state(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "kind": np.full(n, k.PLAN, dtype=np.int8),
        "wake": np.full(n, -np.inf),
        "phase_end": np.full(n, -np.inf),
        "shift_end": np.full(n, -np.inf),
        "day": np.full(n, -2, dtype=np.int64),
        "offset_s": rng.uniform(-3 * 3600, 3 * 3600, n),
    }


def _session_params() -> np.ndarray:
    p = np.zeros(k.N_SESSION_PARAMS)
    p[k.P_START_S] = 9 * 3600.0
    p[k.P_JITTER_S] = 3600.0
    p[k.P_SHIFT_S] = 8 * 3600.0
    p[k.P_WEEKEND] = 0.3
    p[k.P_ACTIVE_S] = 1800.0
    p[k.P_IDLE_S] = 1200.0
    p[k.P_RATE_ACTIVE] = 0.01
    return p


def _drive(fn, state, stream: np.ndarray, windows, chunk: int, cap: int) -> list[np.ndarray]:
    """Run windows, feeding the uniform stream ``chunk`` at a time (no uniform skipped)."""
    params = _session_params()
    n = len(state["wake"])
    offset = 0
    outs = []
    for w_end in windows:
        out_t, out_u = np.empty(cap), np.empty(cap, dtype=np.int64)
        n_out, user = 0, 0
        chunks_t, chunks_u = [], []
        while True:
            u = stream[offset : offset + chunk]
            n_out, pos, user = fn(
                w_end, user, state["kind"], state["wake"], state["phase_end"], state["shift_end"],
                state["day"], state["offset_s"], params, u, 0, out_t, out_u, n_out,
            )  # fmt: skip
            offset += pos
            if user >= n:
                break
            if n_out >= cap:
                chunks_t.append(out_t[:n_out].copy())
                chunks_u.append(out_u[:n_out].copy())
                n_out = 0
        chunks_t.append(out_t[:n_out].copy())
        chunks_u.append(out_u[:n_out].copy())
        outs += [np.concatenate(chunks_t), np.concatenate(chunks_u)]
    return outs


@pytest.mark.parametrize(("chunk", "cap"), [(1 << 16, 1 << 14), (37, 5)])
def test_session_window_matches_twin(chunk: int, cap: int) -> None:
    stream = np.random.default_rng(3).random(200_000)
    windows = [8 * 3600.0, 12 * 3600.0, 40 * 3600.0, 6 * 86400.0]
    s1 = _session_state(15, np.random.default_rng(4))
    s2 = {key: v.copy() for key, v in s1.items()}
    got = _drive(k.session_window, s1, stream, windows, chunk, cap)
    want = _drive(k.session_window_py, s2, stream, windows, chunk, cap)
    assert sum(len(a) for a in got[::2]) > 100
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    for key in s1:
        np.testing.assert_allclose(s1[key], s2[key], rtol=1e-12)


def test_session_window_resumes_exactly() -> None:
    """Stopping for a refill or a full output buffer changes nothing."""
    stream = np.random.default_rng(5).random(200_000)
    windows = [30 * 3600.0, 3 * 86400.0]
    s1 = _session_state(10, np.random.default_rng(6))
    s2 = {key: v.copy() for key, v in s1.items()}
    one_go = _drive(k.session_window, s1, stream, windows, len(stream), 1 << 16)
    pieces = _drive(k.session_window, s2, stream, windows, 11, 3)
    for a, b in zip(one_go, pieces, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("median", "sigma", "lo", "hi"),
    [
        (1000.0, 1.0, 1, 32768),
        (100.0, 0.8, 5, 300),
        (1e5, 2.0, 1, 20_000),  # every term strictly between 0 and 1
        (10.0, 0.5, 1000, 5000),  # far upper tail: terms ~1e-40 and below, then 0
        (1000.5, 1e-12, 1, 5000),  # tiny sigma: terms are exactly 1 or 0
        (7.3, 1e-300, 1, 100),  # w overflows to inf
        (3.0, 1.0, 10, 10),  # empty range
    ],
)
def test_lognormal_tail_sum_matches_twin(median: float, sigma: float, lo: int, hi: int) -> None:
    mu = np.log(median)
    got = k.lognormal_tail_sum(mu, sigma, lo, hi)
    want = k.lognormal_tail_sum_py(mu, sigma, lo, hi)
    assert got == pytest.approx(want, rel=1e-14, abs=1e-300)
    assert 0.0 <= got <= hi - lo


def test_lognormal_tail_sum_values() -> None:
    # tiny sigma: X is the median, so P(X > k + 1/2) is 1 for k < 1000 and 0 after
    assert k.lognormal_tail_sum(np.log(1000.2), 1e-9, 1, 5000) == 999.0
    # 1 + the sum is E[clip(rint(X), 1, hi)], close to the unclipped lognormal mean
    mean = 1 + k.lognormal_tail_sum(np.log(50.0), 0.5, 1, 1_000_000)
    assert mean == pytest.approx(50.0 * np.exp(0.125), abs=0.01)
    # the terms are ndtr(-w) = erfc(w / sqrt 2) / 2, here one term with w = 1
    one = k.lognormal_tail_sum(np.log(2.5) - 1.0, 1.0, 2, 3)
    assert one == pytest.approx(0.15865525393145707, rel=1e-15)
