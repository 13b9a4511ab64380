"""Azure LLM inference traces: loading (numpy, cached per path) and replay as arrivals.

The format is ``TIMESTAMP,ContextTokens,GeneratedTokens`` with timestamps like
``2023-11-16 18:17:03.9799600`` (Azure LLM inference dataset 2023; see
``sim/data/README.md``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from sim.paths import data_dir
from sim.workload._checks import check_block_size, check_positive
from sim.workload.base import ArrivalBlock


def shipped_traces() -> list[str]:
    """File names of the traces shipped in ``sim/data``."""
    return sorted(p.name for p in data_dir().glob("*.csv"))


def resolve_trace_path(path: str | Path) -> Path:
    """A bare file name is looked up in ``sim/data``; anything else is a filesystem path.

    Raises ``FileNotFoundError`` naming the path and listing the shipped traces.
    """
    p = Path(path)
    resolved = data_dir() / p if p.parent == Path(".") and str(path) == p.name else p
    if not resolved.is_file():
        raise FileNotFoundError(
            f"trace {str(path)!r} not found (looked at {str(resolved)!r}); a bare file name "
            f"is looked up in {str(data_dir())!r}, which ships: {', '.join(shipped_traces())}"
        )
    return resolved


@functools.lru_cache(maxsize=16)
def _load(resolved: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    raw = np.loadtxt(resolved, delimiter=",", skiprows=1, dtype=str, ndmin=2)
    if raw.shape[0] == 0 or raw.shape[1] != 3:
        raise ValueError(
            f"trace {resolved!r}: expected rows of TIMESTAMP,ContextTokens,GeneratedTokens"
        )
    stamps = raw[:, 0].astype("datetime64[ns]")
    order = np.argsort(stamps, kind="stable")
    stamps = stamps[order]
    times_s = (stamps - stamps[0]).astype(np.int64) / 1e9
    prompt = raw[order, 1].astype(np.int64)
    output = raw[order, 2].astype(np.int64)
    for a in (times_s, prompt, output):
        a.setflags(write=False)
    return times_s, prompt, output


def load_azure_trace(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(times_s, prompt_tokens, output_tokens)`` of a trace, sorted by time.

    ``times_s`` is seconds since the first request (float64); token counts are int64.
    Parsed once per path and process (the arrays are shared and read-only).
    """
    return _load(str(resolve_trace_path(path).resolve()))


class TraceArrivals:
    """Replay of a recorded trace: its arrival times and its token counts.

    Times are relative to the first request and divided by ``speedup``. With ``loop``
    the trace starts over after its span plus one mean gap, so repetitions keep the
    trace's mean rate, until the horizon; without it the arrivals stop when the trace
    ends. Blocks carry ``prompt_tokens`` and ``output_tokens`` from the trace.
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
        self.speedup = check_positive("speedup", speedup)
        self.loop = bool(loop)
        self.horizon_s = check_positive("horizon_s", horizon_s)
        self.block_size = check_block_size(block_size)
        self._times_s, self._prompt, self._output = load_azure_trace(self.path)

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
        base = self._times_s / self.speedup
        n = len(base)
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
                    )
                if cut:
                    return
            if not self.loop:
                return
            offset += self.period_s
