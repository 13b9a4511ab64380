"""ShiftedArrivals: start the simulated clock later in the week.

Calendar-driven workloads (diurnal profiles, users with working hours) put t=0 at
Monday 00:00. To simulate, say, the busiest hours of a large population without the
empty night before them, the inner process runs to ``horizon + offset`` and its
arrivals are shifted back by ``offset``; those before the offset are discarded.
"""

from __future__ import annotations

from collections.abc import Iterator

from sim import checks
from sim.workload.base import ArrivalBlock, ArrivalProcess


class ShiftedArrivals:
    """Arrivals of ``inner`` from ``offset_s`` on, re-timed so that ``offset_s`` becomes 0."""

    def __init__(self, inner: ArrivalProcess, offset_s: float) -> None:
        self.inner = inner
        self.offset_s = checks.non_negative("offset_s", offset_s)

    @property
    def mean_rate_rps(self) -> float:
        return self.inner.mean_rate_rps

    def blocks(self) -> Iterator[ArrivalBlock]:
        off = self.offset_s
        for block in self.inner.blocks():
            times = block.times_s
            if times.size == 0 or times[-1] < off:
                continue
            keep = times >= off
            yield ArrivalBlock(
                times[keep] - off,
                None if block.users is None else block.users[keep],
                None if block.prompt_tokens is None else block.prompt_tokens[keep],
                None if block.output_tokens is None else block.output_tokens[keep],
                None if block.rows is None else block.rows[keep],
            )
