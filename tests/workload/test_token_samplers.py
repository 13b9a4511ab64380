"""Token samplers: lognormal (rounded, clipped), fixed, and resampled from a trace."""

from __future__ import annotations

import numpy as np
import pytest

from sim.workload import EmpiricalTokens, FixedTokens, LognormalTokens, TokenSampler


def _lognormal(seed: int, **kw: float) -> LognormalTokens:
    args = dict(
        prompt_median=1000.0,
        prompt_sigma=1.0,
        prompt_min=1,
        prompt_max=32768,
        output_median=100.0,
        output_sigma=0.8,
        output_min=5,
        output_max=300,
    )
    args.update(kw)
    return LognormalTokens(**args, rng=np.random.default_rng(seed))  # type: ignore[arg-type]


def test_lognormal_medians_means_and_clipping() -> None:
    for seed in range(3):
        s = _lognormal(seed)
        assert isinstance(s, TokenSampler)
        p, o = s.sample(100_000)
        assert p.dtype == o.dtype == np.int64 and len(p) == len(o) == 100_000
        assert abs(np.median(p) / 1000 - 1) < 0.03 and abs(np.median(o) / 100 - 1) < 0.03
        assert p.min() >= 1 and p.max() <= 32768
        assert o.min() >= 5 and o.max() <= 300
        assert np.sum(o == 300) > 0 and np.sum(o == 5) > 0  # both clips bind
        assert abs(p.mean() / s.mean_prompt_tokens - 1) < 0.02
        assert abs(o.mean() / s.mean_output_tokens - 1) < 0.01


def test_lognormal_mean_accounts_for_clipping() -> None:
    s = _lognormal(0)
    unclipped = 100.0 * np.exp(0.8**2 / 2)
    assert s.mean_output_tokens < unclipped - 5
    assert s.mean_prompt_tokens == pytest.approx(1000 * np.exp(0.5), rel=0.01)
    wide = _lognormal(0, prompt_max=10_000_000)  # closed-form branch
    assert wide.mean_prompt_tokens == pytest.approx(1000 * np.exp(0.5), rel=1e-3)
    narrow = _lognormal(0, prompt_sigma=0.0)
    assert narrow.mean_prompt_tokens == 1000.0 and set(narrow.sample(10)[0]) == {1000}


def test_lognormal_small_and_large_calls_are_consistent() -> None:
    s = _lognormal(1)
    singles = [s.sample(1) for _ in range(20_000)]
    p = np.concatenate([x[0] for x in singles])
    assert abs(np.median(p) / 1000 - 1) < 0.05
    a = _lognormal(2)
    first = a.sample(5)[0].copy()
    assert not np.array_equal(first, a.sample(5)[0])  # the buffer is never handed out twice
    sizes = [len(a.sample(n)[0]) for n in (3, 8190, 5, 20_000, 1, 0)]
    assert sizes == [3, 8190, 5, 20_000, 1, 0]


def test_fixed_tokens() -> None:
    s = FixedTokens(500, 20)
    p, o = s.sample(4)
    assert p.tolist() == [500] * 4 and o.tolist() == [20] * 4 and p.dtype == np.int64
    assert s.mean_prompt_tokens == 500 and s.mean_output_tokens == 20
    with pytest.raises(ValueError, match="output_tokens"):
        FixedTokens(1, 0)


def test_empirical_tokens_keep_the_trace_distribution() -> None:
    for seed in range(3):
        s = EmpiricalTokens("azure_llm_2023_code.csv", rng=np.random.default_rng(seed))
        p, o = s.sample(50_000)
        assert abs(np.median(p) - 1469) < 60
        assert abs(np.median(o) - 13) <= 1
        assert abs(p.mean() / s.mean_prompt_tokens - 1) < 0.02
    assert s.mean_prompt_tokens == pytest.approx(2048, abs=1)
    assert s.mean_output_tokens == pytest.approx(27.9, abs=0.1)


def test_empirical_tokens_resample_pairs() -> None:
    """Pairs come from the trace together: the prompt-output correlation is the trace's."""
    s = EmpiricalTokens("azure_llm_2023_conv.csv", rng=np.random.default_rng(0))
    p, o = s.sample(100_000)
    assert np.corrcoef(p, o)[0, 1] == pytest.approx(-0.11, abs=0.03)


def test_samplers_reject_bad_arguments() -> None:
    with pytest.raises(ValueError, match="prompt_min"):
        _lognormal(0, prompt_min=0)
    with pytest.raises(ValueError, match="output_median"):
        _lognormal(0, output_median=0.0)
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        EmpiricalTokens("missing.csv", rng=np.random.default_rng(0))
