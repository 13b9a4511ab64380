"""LogHistogram: streamed quantiles with bounded memory and a known relative error.

Values are buffered in a list and folded into geometric bins in vectorised blocks, so
recording one value costs one list append. Bins grow by ``ratio`` (1 % by default): a
quantile is reported at the geometric middle of its bin, within ``sqrt(ratio) - 1``
(≈ 0.5 %) of the exact sample quantile. The mean, minimum and maximum are exact.
"""

from __future__ import annotations

import math

import numpy as np


class LogHistogram:
    """Histogram over ``[lo, hi)`` with geometric bins, plus under/overflow bins."""

    def __init__(
        self, lo: float = 1e-6, hi: float = 1e7, ratio: float = 1.01, flush_every: int = 1 << 16
    ):
        if not (0 < lo < hi) or ratio <= 1:
            raise ValueError(f"need 0 < lo < hi and ratio > 1, got lo={lo}, hi={hi}, ratio={ratio}")
        self.lo, self.hi, self.ratio = lo, hi, ratio
        self._log_lo = math.log(lo)
        self._log_ratio = math.log(ratio)
        self.n_bins = int(math.ceil(math.log(hi / lo) / self._log_ratio))
        # index 0: underflow (< lo, zeros included), 1..n_bins: bins, n_bins+1: overflow
        self.counts = np.zeros(self.n_bins + 2, dtype=np.int64)
        self._buf: list[float] = []
        self._flush_every = flush_every
        self._n = 0  # folded samples; ``n`` adds the buffered ones
        self.sum = 0.0
        self.min = math.inf
        self.max = -math.inf

    def add(self, x: float) -> None:
        buf = self._buf
        buf.append(x)
        if len(buf) >= self._flush_every:
            self._flush()

    def add_many(self, xs: np.ndarray) -> None:
        self._flush()
        self._fold(np.asarray(xs, dtype=np.float64))

    def _flush(self) -> None:
        if self._buf:
            arr = np.fromiter(self._buf, dtype=np.float64, count=len(self._buf))
            self._buf.clear()
            self._fold(arr)

    def _fold(self, arr: np.ndarray) -> None:
        if arr.size == 0:
            return
        if not np.all(np.isfinite(arr)):
            raise ValueError("LogHistogram got a non-finite value")
        self._n += arr.size
        self.sum += float(arr.sum())
        self.min = min(self.min, float(arr.min()))
        self.max = max(self.max, float(arr.max()))
        with np.errstate(divide="ignore"):
            idx = np.floor((np.log(np.maximum(arr, 0.0)) - self._log_lo) / self._log_ratio)
        idx = np.clip(np.nan_to_num(idx, nan=-1.0, neginf=-1.0), -1, self.n_bins) + 1
        self.counts += np.bincount(idx.astype(np.int64), minlength=self.n_bins + 2)

    def merge(self, other: LogHistogram) -> None:
        if (other.lo, other.hi, other.ratio) != (self.lo, self.hi, self.ratio):
            raise ValueError("cannot merge histograms with different bins")
        self._flush()
        other._flush()
        self.counts += other.counts
        self._n += other._n
        self.sum += other.sum
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)

    @property
    def n(self) -> int:
        """Number of samples recorded (buffered ones included)."""
        return self._n + len(self._buf)

    @property
    def mean(self) -> float:
        self._flush()
        return self.sum / self.n if self.n else math.nan

    def quantile(self, q: float) -> float:
        """Value below which a fraction ``q`` of the samples lie (NaN when empty)."""
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"quantile q={q!r} must be in [0, 1]")
        self._flush()
        if self.n == 0:
            return math.nan
        rank = q * (self.n - 1)
        i = int(np.searchsorted(np.cumsum(self.counts), rank, side="right"))
        if i == 0:
            value = self.min  # underflow bin (zeros, sub-microsecond values)
        elif i > self.n_bins:
            value = self.max
        else:
            value = math.exp(self._log_lo + (i - 0.5) * self._log_ratio)
        return min(max(value, self.min), self.max)

    def edges(self) -> np.ndarray:
        """Edges of the geometric bins (``n_bins + 1`` values)."""
        return np.exp(self._log_lo + np.arange(self.n_bins + 1) * self._log_ratio)

    def summary(self) -> dict[str, float | None]:
        """mean, p50, p95, p99, max (None where there were no samples)."""
        if self.mean != self.mean:  # flushes; NaN when empty
            return {"mean": None, "p50": None, "p95": None, "p99": None, "max": None, "n": 0}
        return {
            "mean": self.mean,
            "p50": self.quantile(0.50),
            "p95": self.quantile(0.95),
            "p99": self.quantile(0.99),
            "max": self.max,
            "n": self.n,
        }
