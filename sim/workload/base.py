"""Contracts of the workload: arrival processes yield blocks of arrival times; token
samplers give prompt/output sizes in blocks.

Arrivals are produced in blocks (a few thousand at a time) by vectorised or numba
kernels, so the request source pays one Python-level loop step per request and memory
stays bounded however long the horizon.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass
class ArrivalBlock:
    """Consecutive arrivals, in non-decreasing time order.

    ``users`` (int64) is set by user models; ``prompt_tokens``/``output_tokens`` (int64)
    by processes that carry their own sizes (trace replay); otherwise None and the
    source samples sizes from the token sampler. ``rows`` (int64) are the trace rows
    replayed, for what else the trace says of each request (prefix block hashes).
    """

    times_s: np.ndarray
    users: np.ndarray | None = None
    prompt_tokens: np.ndarray | None = None
    output_tokens: np.ndarray | None = None
    rows: np.ndarray | None = None  # trace replay: the rows of the trace (prefix hashes)

    def __len__(self) -> int:
        return int(self.times_s.shape[0])


@runtime_checkable
class ArrivalProcess(Protocol):
    """Absolute arrival times in ``[0, horizon_s)``, block after block."""

    def blocks(self) -> Iterator[ArrivalBlock]:
        """Blocks in time order; the iterator ends at the horizon."""
        ...

    @property
    def mean_rate_rps(self) -> float:
        """Long-run mean arrival rate implied by the parameters (for checks and summaries)."""
        ...


@runtime_checkable
class TokenSampler(Protocol):
    """Prompt and output token counts."""

    def sample(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` (prompt_tokens, output_tokens) pairs as two int64 arrays (each >= 1)."""
        ...

    @property
    def mean_prompt_tokens(self) -> float: ...

    @property
    def mean_output_tokens(self) -> float: ...
