"""BusyMeter: busy and idle time of provisioned units, for billing by time.

A provisioned unit (a GPU replica today; a CPU instance, a cache node or a reviewer on
shift tomorrow) costs money every second it exists. The meter records when each unit
is busy, so a bill for ``[start, end)`` can split the provisioned unit-seconds into the
busy share (charged to one layer, e.g. ``inference``) and the idle share (another layer,
e.g. ``infrastructure``): idle headroom stays visible.

Closed busy periods are kept only until they have been billed, so memory stays bounded
by the periods of one bucket.

Units that come and go (an autoscaled pool, spot replicas replaced after a preemption)
need the provisioned side too: :class:`UnitCount` is the number of units provisioned as
a step function of time, integrated over a bill's interval, and :class:`FleetMeter`
pairs it with a :class:`BusyMeter` so that a bill splits *provisioned* unit-seconds,
whatever their number was, into busy and idle. With a constant number of units it
charges exactly what :meth:`BusyMeter.bill` charges.
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

    def busy_in(self, start_s: float, end_s: float, clamp: bool = True) -> float:
        """Busy unit-seconds inside ``[start_s, end_s)``; forgets periods that ended by ``end_s``.

        Exact when ``end_s`` is not in the future; a unit busy now counts as busy until ``end_s``.
        ``clamp`` caps the result at ``units`` busy units (a fleet whose size changes caps
        it at its provisioned unit-seconds instead: :class:`FleetMeter`).
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
        return min(busy, self.units * (end_s - start_s)) if clamp else busy

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


class UnitCount:
    """How many units are provisioned, as a step function of time (changes at any time).

    Change points are kept until a bill has covered them, like the busy periods of a
    :class:`BusyMeter`; the running integral from time 0 is kept as well (gauges).
    """

    def __init__(self, units: int = 0, t: float = 0.0) -> None:
        self.count = checks.integer("units", units, 0)
        self.peak = self.count
        self.last_change_s = float(t)  # time of the latest change
        self._area = 0.0  # unit-seconds from time 0 to last_change_s
        self._times = array("d")  # change points not yet billed ...
        self._before = array("q")  # ... and the count just before each

    def change(self, t: float, delta: int) -> None:
        """``delta`` units are added (or removed, if negative) at time ``t``."""
        if t < self.last_change_s:
            raise ValueError(f"change at t={t!r} is before the last one ({self.last_change_s!r})")
        if self.count + delta < 0:
            raise ValueError(f"cannot remove {-delta} of {self.count} units")
        self._area += self.count * (t - self.last_change_s)
        self._times.append(t)
        self._before.append(self.count)
        self.count += delta
        self.last_change_s = t
        if self.count > self.peak:
            self.peak = self.count

    def unit_s(self, now: float) -> float:
        """Provisioned unit-seconds from time 0 to ``now``."""
        return self._area + self.count * (now - self.last_change_s)

    def unit_s_in(self, start_s: float, end_s: float) -> float:
        """Provisioned unit-seconds inside ``[start_s, end_s)``; forgets changes up to ``end_s``.

        Bills come in time order, so a change is not needed once a bill has covered it.
        """
        times, before = self._times, self._before
        n = len(times)
        i = bisect_right(times, start_s)  # first change after start_s
        total = 0.0
        lo = start_s
        while i < n and times[i] < end_s:
            total += before[i] * (times[i] - lo)
            lo = times[i]
            i += 1
        after = before[i] if i < n else self.count  # units during [lo, end_s)
        total += after * (end_s - lo)
        done = bisect_right(times, end_s)
        if done:
            del times[:done]
            del before[:done]
        return total


class FleetMeter:
    """Busy time of units that come and go: a :class:`BusyMeter` and a :class:`UnitCount`.

    ``bill`` splits the provisioned unit-seconds of an interval (the integral of the
    count) into busy (``busy_layer``) and idle (``idle_layer``). Unit indices may be any
    integers (units that are released are not reused).
    """

    def __init__(self, units: int = 0, t: float = 0.0) -> None:
        self.count = UnitCount(units, t)
        self.busy = BusyMeter(max(int(units), 1))  # capped by the provisioned time, not units

    def bill(
        self,
        ledger: Ledger,
        component: str,
        start_s: float,
        end_s: float,
        usd_per_unit_hour: float,
        busy_layer: str = "inference",
        idle_layer: str = "infrastructure",
    ) -> tuple[float, float]:
        """Charge ``[start_s, end_s)``; returns its (busy, provisioned) unit-seconds."""
        busy = self.busy.busy_in(start_s, end_s, clamp=False)
        provisioned = self.count.unit_s_in(start_s, end_s)
        busy = min(busy, provisioned)
        usd_per_s = usd_per_unit_hour / 3600.0
        ledger.charge(start_s, busy_layer, component, busy * usd_per_s)
        ledger.charge(start_s, idle_layer, component, (provisioned - busy) * usd_per_s)
        return busy, provisioned
