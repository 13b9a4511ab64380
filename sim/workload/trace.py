"""Replay of a recorded trace as arrivals (reading and checking files: :mod:`trace_file`).

Formats: Azure's CSV ``TIMESTAMP,ContextTokens,GeneratedTokens`` (Azure LLM inference
dataset 2023) and Mooncake's JSONL with prefix block hashes (``sim/data/README.md``).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from sim import checks
from sim.checks import InputFileError
from sim.workload.base import ArrivalBlock
from sim.workload.trace_file import (
    HEADER,
    TraceNotFoundError,
    _load_checked,
    load_azure_trace,
    resolve_trace_path,
    shipped_traces,
)

__all__ = [
    "HEADER",
    "TraceArrivals",
    "TraceNotFoundError",
    "load_azure_trace",
    "resolve_trace_path",
    "shipped_traces",
]


class TraceArrivals:
    """Replay of a recorded trace: its arrival times and its token counts.

    Times are relative to the first request and divided by ``speedup``. With ``loop``
    the trace starts over after its span plus one mean gap, so repetitions keep the
    trace's mean rate, until the horizon; without it the arrivals stop when the trace
    ends. Blocks carry ``prompt_tokens`` and ``output_tokens`` from the trace. A trace
    needs at least two distinct timestamps (a span > 0), else
    :class:`~sim.checks.InputFileError`.
    """

    def __init__(
        self,
        path: str,
        speedup: float = 1.0,
        loop: bool = True,
        *,
        horizon_s: float,
        block_size: int = 8192,
    ) -> None:
        self.path = str(path)
        self.speedup = checks.positive("speedup", speedup)
        self.loop = bool(loop)
        self.horizon_s = checks.positive("horizon_s", horizon_s)
        self.block_size = checks.integer("block_size", block_size, 1)
        loaded = _load_checked(self.path)
        self._times_s, self._prompt, self._output = loaded.times_s, loaded.prompt, loaded.output
        self._hash_flat, self._hash_offsets = loaded.hash_flat, loaded.hash_offsets
        n = len(self._times_s)
        if not self._times_s[-1] > 0:
            when = loaded.start
            what = (
                f"has a single data row (at {when})"
                if n == 1
                else f"all {n} timestamps are equal ({when})"
            )
            raise InputFileError(
                self.path, None, f"{what}: a trace needs at least two distinct times to replay"
            )

    @property
    def has_prefix_hashes(self) -> bool:
        """Whether the trace gives each request's prefix block hashes (JSONL)."""
        return self._hash_flat is not None

    def prefix_blocks(self, rows: np.ndarray) -> list[list[int]]:
        """The prefix block hashes of the given trace rows."""
        flat, off = self._hash_flat, self._hash_offsets
        if flat is None or off is None:
            raise ValueError(f"trace {self.path!r} carries no prefix block hashes")
        return [flat[off[i] : off[i + 1]].tolist() for i in rows.tolist()]

    @property
    def period_s(self) -> float:
        """Replayed length of one pass: span plus one mean gap, over ``speedup``."""
        t = self._times_s
        n = len(t)
        span = float(t[-1])
        gap = span / (n - 1) if n > 1 else 1.0
        return (span + gap) / self.speedup

    @property
    def mean_rate_rps(self) -> float:
        """Requests per pass over the length of a pass (the trace's rate times speedup)."""
        return len(self._times_s) / self.period_s

    def blocks(self) -> Iterator[ArrivalBlock]:
        """Blocks of up to ``block_size`` arrivals in ``[0, horizon_s)``."""
        with np.errstate(over="ignore"):  # a tiny speedup pushes times to inf: past any horizon
            base = self._times_s / self.speedup
        n = len(base)
        period = self.period_s  # > 0: span > 0 and speedup finite (checked in __init__)
        offset = 0.0
        while offset < self.horizon_s:
            for lo in range(0, n, self.block_size):
                hi = min(lo + self.block_size, n)
                times = offset + base[lo:hi]
                cut = bool(times[-1] >= self.horizon_s)
                if cut:
                    hi = lo + int(np.searchsorted(times, self.horizon_s))
                    times = times[: hi - lo]
                if hi > lo:
                    yield ArrivalBlock(
                        times,
                        prompt_tokens=self._prompt[lo:hi].copy(),
                        output_tokens=self._output[lo:hi].copy(),
                        rows=np.arange(lo, hi, dtype=np.int64),
                    )
                if cut:
                    return
            if not self.loop:
                return
            if not offset + period > offset:  # rounding would stall: never repeat a pass
                return
            offset += period
