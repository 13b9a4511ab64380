"""Token samplers: prompt and output sizes per request (lognormal, fixed, from a trace)."""

from __future__ import annotations

import math

import numpy as np

from sim import checks
from sim.workload.trace import load_azure_trace

_BLOCK = 8192
_EXACT_MEAN_MAX_RANGE = 2_000_000
_SQRT1_2 = math.sqrt(0.5)


class _BlockSampler:
    """Hands out pairs from a buffer drawn ``_BLOCK`` (or ``n``) at a time."""

    def __init__(self) -> None:
        self._prompt = np.empty(0, dtype=np.int64)
        self._output = np.empty(0, dtype=np.int64)
        self._pos = 0

    def _draw(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def sample(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` (prompt_tokens, output_tokens) pairs as two int64 arrays (each >= 1)."""
        n = int(n)
        if n < 0:
            raise ValueError(f"n={n!r} must be >= 0")
        left = len(self._prompt) - self._pos
        if n <= left:
            lo = self._pos
            self._pos += n
            return self._prompt[lo : self._pos], self._output[lo : self._pos]
        head_p, head_o = self._prompt[self._pos :], self._output[self._pos :]
        self._prompt, self._output = self._draw(max(_BLOCK, n - left))
        self._pos = n - left
        return (
            np.concatenate((head_p, self._prompt[: self._pos])),
            np.concatenate((head_o, self._output[: self._pos])),
        )


def _clipped_rounded_lognormal_mean(median: float, sigma: float, lo: int, hi: int) -> float:
    """``E[clip(rint(X), lo, hi)]`` for ``X`` lognormal with this median and sigma.

    Exact (``lo + sum_{k=lo}^{hi-1} P(X > k + 1/2)``) when ``hi - lo`` is at most two
    million; beyond that the rounding is ignored and the closed form of the clipped
    lognormal mean is used (off by well under one token).
    """
    from sim.kernels.sampling import lognormal_tail_sum

    if sigma == 0:
        return float(min(max(round(median), lo), hi))
    mu = math.log(median)
    if hi - lo <= _EXACT_MEAN_MAX_RANGE:
        return float(lo + lognormal_tail_sum(mu, sigma, lo, hi))
    za = (math.log(lo) - mu) / sigma
    zb = (math.log(hi) - mu) / sigma
    partial = median * math.exp(sigma**2 / 2) * (_ndtr(zb - sigma) - _ndtr(za - sigma))
    return float(lo * _ndtr(za) + partial + hi * _ndtr(-zb))


def _ndtr(x: float) -> float:
    """The standard normal CDF, ``P(Z <= x)``."""
    return 0.5 * math.erfc(-x * _SQRT1_2)


class LognormalTokens(_BlockSampler):
    """Prompt and output sizes drawn independently from lognormals, rounded and clipped.

    ``tokens = clip(rint(median * exp(sigma * Z)), min, max)``. Draws are made in blocks
    of 8192, so ``sample(1)`` and ``sample(100_000)`` are both cheap. The means account
    for rounding and clipping (see :func:`_clipped_rounded_lognormal_mean`).
    """

    def __init__(
        self,
        prompt_median: float,
        prompt_sigma: float,
        prompt_min: int,
        prompt_max: int,
        output_median: float,
        output_sigma: float,
        output_min: int,
        output_max: int,
        *,
        rng: np.random.Generator,
    ) -> None:
        super().__init__()
        self.prompt_median = checks.positive("prompt_median", prompt_median)
        self.prompt_sigma = checks.non_negative("prompt_sigma", prompt_sigma)
        self.prompt_min, self.prompt_max = _check_bounds("prompt", prompt_min, prompt_max)
        self.output_median = checks.positive("output_median", output_median)
        self.output_sigma = checks.non_negative("output_sigma", output_sigma)
        self.output_min, self.output_max = _check_bounds("output", output_min, output_max)
        self.rng = checks.rng("rng", rng)

    def _draw(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        from sim.kernels.sampling import lognormal_counts

        z = self.rng.standard_normal((2, size))
        prompt = np.empty(size, dtype=np.int64)
        output = np.empty(size, dtype=np.int64)
        lognormal_counts(
            z[0], self.prompt_median, self.prompt_sigma, self.prompt_min, self.prompt_max, prompt
        )
        lognormal_counts(
            z[1], self.output_median, self.output_sigma, self.output_min, self.output_max, output
        )
        return prompt, output

    @property
    def mean_prompt_tokens(self) -> float:
        return _clipped_rounded_lognormal_mean(
            self.prompt_median, self.prompt_sigma, self.prompt_min, self.prompt_max
        )

    @property
    def mean_output_tokens(self) -> float:
        return _clipped_rounded_lognormal_mean(
            self.output_median, self.output_sigma, self.output_min, self.output_max
        )


def _check_bounds(name: str, lo: int, hi: int) -> tuple[int, int]:
    """``(lo, hi)`` as ints, if both are integers >= 1 and ``lo <= hi``."""
    lo = checks.integer(f"{name}_min", lo, 1)
    hi = checks.integer(f"{name}_max", hi, 1)
    if lo > hi:
        checks.both(f"{name}_min", lo, f"{name}_max", hi, "must satisfy min <= max")
    return lo, hi


class FixedTokens:
    """Every request has the same prompt and output size."""

    def __init__(self, prompt_tokens: int, output_tokens: int) -> None:
        self.prompt_tokens = checks.integer("prompt_tokens", prompt_tokens, 1)
        self.output_tokens = checks.integer("output_tokens", output_tokens, 1)

    def sample(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` copies of the fixed pair."""
        return (
            np.full(int(n), self.prompt_tokens, dtype=np.int64),
            np.full(int(n), self.output_tokens, dtype=np.int64),
        )

    @property
    def mean_prompt_tokens(self) -> float:
        return float(self.prompt_tokens)

    @property
    def mean_output_tokens(self) -> float:
        return float(self.output_tokens)


class EmpiricalTokens(_BlockSampler):
    """(prompt, output) pairs resampled with replacement from a trace.

    Pairs are drawn together, so the joint distribution (and the correlation of prompt
    and output sizes) is the trace's. Counts below 1 are raised to 1. ``path`` resolves
    like :class:`sim.workload.trace.TraceArrivals`'s.
    """

    def __init__(self, path: str, *, rng: np.random.Generator) -> None:
        super().__init__()
        self.path = str(path)
        self.rng = checks.rng("rng", rng)
        _, prompt, output = load_azure_trace(self.path)
        self._trace_prompt = np.maximum(prompt, 1)
        self._trace_output = np.maximum(output, 1)

    def _draw(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        idx = self.rng.integers(0, len(self._trace_prompt), size)
        return self._trace_prompt[idx], self._trace_output[idx]

    @property
    def mean_prompt_tokens(self) -> float:
        return float(self._trace_prompt.mean())

    @property
    def mean_output_tokens(self) -> float:
        return float(self._trace_output.mean())
