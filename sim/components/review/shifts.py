"""The reviewers' roster: when each shift is on, in simulated seconds.

``shifts`` is a roster: each shift has ``headcount`` people who work ``hours`` from
``start_h`` on each of ``days`` of *their* week, whose clock is the simulation's plus
``tz_offset_h`` (t = 0 is ``workload.clock_start_h`` hours after Monday 00:00 of the
simulation clock). A shift may run past midnight; adjacent or overlapping periods merge
(seven 24-hour days: always on). :class:`ShiftCalendar` turns one shift into its
on-periods ``(on, off)``; :func:`shift_process`, one small SimPy process per shift,
puts the shift on and off at those times in the reviewers' queue
(:mod:`sim.components.review.queue`), and the pay (:mod:`sim.components.review.report`)
counts the on-seconds of each bucket.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Iterator
from typing import Any

import simpy

from sim import checks

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEK_S = 7 * 86400.0


class ShiftCalendar:
    """When one shift is on, in simulated seconds: a weekly pattern, merged and periodic.

    A shift that starts on local day ``d`` at ``start_h`` lasts ``hours`` (it may run
    past midnight). Local time is the simulation clock plus ``tz_offset_h``; the
    simulation's t = 0 is ``clock_start_h`` hours after Monday 00:00 of its clock.
    Adjacent or overlapping periods merge (seven 24-hour days: always on).
    """

    def __init__(
        self,
        headcount: int,
        start_h: float,
        hours: float,
        days: list[int],
        tz_offset_h: float = 0.0,
        clock_start_h: float = 0.0,
    ) -> None:
        self.headcount = checks.integer("headcount", headcount, 1)
        checks.number("start_h", start_h, ge=0, lt=24)
        self.hours = checks.number("hours", hours, gt=0, le=24)
        checks.number("tz_offset_h", tz_offset_h, ge=-24, le=24)
        checks.number("clock_start_h", clock_start_h, ge=0, lt=168)
        if not days or any(d not in range(7) for d in days):
            raise ValueError(f"days={days!r} must be day numbers 0 (Monday) to 6, at least one")
        spans = []
        for d in sorted(set(days)):  # local week-hour -> simulated seconds, modulo a week
            a = ((24.0 * d + start_h - tz_offset_h - clock_start_h) * 3600.0) % WEEK_S
            spans.append((a, a + hours * 3600.0))
        self._spans = sorted(spans)

    def windows(self, start_s: float, end_s: float) -> Iterator[tuple[float, float]]:
        """The on-periods ``(on, off)`` that overlap ``[start_s, end_s)``, merged, in order."""
        cur: list[float] | None = None
        k = math.floor(start_s / WEEK_S) - 1  # a period may begin in the week before
        while True:
            for a, b in self._spans:
                a, b = a + k * WEEK_S, b + k * WEEK_S
                if a >= end_s:  # (a period still open here already reaches end_s)
                    if cur is not None and cur[1] > start_s:
                        yield cur[0], cur[1]
                    return
                if cur is not None and a <= cur[1]:
                    cur[1] = max(cur[1], b)
                    continue
                if cur is not None and cur[1] > start_s:
                    yield cur[0], cur[1]
                cur = [a, b]
            k += 1

    def on_s(self, start_s: float, end_s: float) -> float:
        """Seconds of ``[start_s, end_s)`` the shift is on."""
        return sum(
            max(0.0, min(b, end_s) - max(a, start_s)) for a, b in self.windows(start_s, end_s)
        )


def shift_process(
    env: simpy.Environment,
    first: tuple[float, float],
    rest: Iterator[tuple[float, float]],
    horizon_s: float,
    *,
    is_on: Callable[[], bool],
    on: Callable[[], None],
    off: Callable[[], None],
) -> Generator[simpy.Event, Any, None]:
    """One shift's calendar: call ``on()`` and ``off()`` at its on-periods ``first, *rest``.

    The shift may already be on (``is_on()``) when it starts; an off-time at or after
    ``horizon_s`` is never reached.
    """
    on_at, off_at = first
    while True:
        if not is_on():
            yield env.timeout(on_at - env.now)
            on()
        if off_at >= horizon_s:
            return
        yield env.timeout(off_at - env.now)
        off()
        nxt = next(rest, None)
        if nxt is None:
            return
        on_at, off_at = nxt
