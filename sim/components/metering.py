"""BusyMeter: busy and idle time of provisioned units, for billing by time.

A provisioned unit (a GPU replica today; a CPU instance, a cache node or a reviewer on
shift tomorrow) costs money every second it exists. The meter records when each unit
is busy, so a bill for ``[start, end)`` can split the provisioned unit-seconds into the
busy share (charged to one layer, e.g. ``inference``) and the idle share (another layer,
e.g. ``infrastructure``): idle headroom stays visible.

Closed busy periods are kept only until they have been billed, so memory stays bounded
by the periods of one bucket.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right

from sim import checks
from sim.costs.ledger import Ledger


class BusyMeter:
    """Busy periods of ``units`` interchangeable units (indices ``0..units-1``)."""

    def __init__(self, units: int) -> None:
        self.units = checks.integer("units", units, 1)
        self._open: dict[int, float] = {}  # unit -> busy since
        self._closed_total_s = 0.0
        self._starts = array("d")  # closed periods not yet billed, in order of their end
        self._ends = array("d")

    def begin(self, unit: int, t: float) -> None:
        """Unit ``unit`` becomes busy at ``t``."""
        if unit in self._open:
            raise ValueError(f"unit {unit} is already busy")
        self._open[unit] = t

    def end(self, unit: int, t: float) -> None:
        """Unit ``unit`` becomes idle at ``t``."""
        since = self._open.pop(unit)
        self._closed_total_s += t - since
        self._starts.append(since)
        self._ends.append(t)

    def is_busy(self, unit: int) -> bool:
        return unit in self._open

    def busy_s(self, now: float) -> float:
        """Busy unit-seconds from time 0 to ``now``."""
        return self._closed_total_s + sum(now - since for since in self._open.values())

    def busy_in(self, start_s: float, end_s: float) -> float:
        """Busy unit-seconds inside ``[start_s, end_s)``; forgets periods that ended by ``end_s``.

        Exact when ``end_s`` is not in the future; a unit busy now counts as busy until ``end_s``.
        """
        if not end_s >= start_s:
            raise ValueError(f"interval [{start_s!r}, {end_s!r}) must have end_s >= start_s")
        starts, ends = self._starts, self._ends
        busy = 0.0
        for s, e in zip(starts, ends):
            lo = s if s > start_s else start_s
            hi = e if e < end_s else end_s
            if hi > lo:
                busy += hi - lo
        for since in self._open.values():
            lo = since if since > start_s else start_s
            if end_s > lo:
                busy += end_s - lo
        done = bisect_right(ends, end_s)
        if done:
            del starts[:done]
            del ends[:done]
        return min(busy, self.units * (end_s - start_s))

    def bill(
        self,
        ledger: Ledger,
        component: str,
        start_s: float,
        end_s: float,
        usd_per_unit_hour: float,
        busy_layer: str = "inference",
        idle_layer: str = "infrastructure",
    ) -> None:
        """Charge ``[start_s, end_s)``: busy unit-time to ``busy_layer``, the rest to ``idle_layer``."""
        busy = self.busy_in(start_s, end_s)
        provisioned = self.units * (end_s - start_s)
        usd_per_s = usd_per_unit_hour / 3600.0
        ledger.charge(start_s, busy_layer, component, busy * usd_per_s)
        ledger.charge(start_s, idle_layer, component, (provisioned - busy) * usd_per_s)
