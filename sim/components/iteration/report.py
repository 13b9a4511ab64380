"""The retraining loop as a run sees it: report, notes, and what a month costs.

Statistics (cycles that started after the warm-up) go to ``summary.json`` through
:meth:`RetrainingLoop.report`.

What a month costs (:meth:`RetrainingLoop.expected_monthly_usd`)
    Cycles are rare and lumpy: a 1-day run of a monthly schedule sees none, a 1-week
    run that happens to hold one would extrapolate it to 4.35 a month. So the monthly
    figure counts cycles, not the window's dollars: a month (30.4375 days) holds

    * ``30.4375 / interval_days`` scheduled cycles, fewer when a cycle outlasts the
      interval (the ticks that fall while it runs are skipped: one cycle per
      ``ceil(cycle / interval)`` intervals) and fewer by the share of time triggered
      cycles keep the loop busy (a tick in that time is skipped too);
    * the triggered cycles the run started, per second of the measured window, times a
      month: drift alarms are extrapolated at the rate the run saw them (a run too
      short to see drift reports none);

    each at :attr:`~RetrainingCycles.usd_per_cycle` ``total``. The result is keyed by
    layer (``{"iteration": usd}``), for the summary's monthly column.

Notes (:meth:`RetrainingLoop.notes`, into ``summary.json`` ``notes``): a cycle still in
preparation, training or evaluation at the horizon — its cost is partly charged to the
run (the note gives how much of one cycle's cost the window holds).
"""

from __future__ import annotations

import math
from typing import Any

from sim.components.iteration.cycles import SECONDS_PER_DAY, SECONDS_PER_HOUR, RetrainingCycles

MONTH_S = 30.4375 * SECONDS_PER_DAY  # the average Gregorian month


class RetrainingLoop(RetrainingCycles):
    """Scheduled and drift-triggered retraining cycles with their costs (see the package)."""

    def scheduled_per_month(self, triggered_per_month: float = 0.0) -> float:
        """Scheduled cycles a month in steady state (see the module for the rule)."""
        if self.interval_s is None:
            return 0.0
        every = self.interval_s * max(1, math.ceil(self.cycle_s / self.interval_s - 1e-9))
        busy_share = min(1.0, triggered_per_month * self.cycle_s / MONTH_S)
        return MONTH_S / every * (1.0 - busy_share)

    def triggered_per_month(self, measured_s: float) -> float:
        """Triggered cycles a month, at the rate the measured window started them."""
        if measured_s <= 0.0:
            return 0.0
        return self.started["triggered"] * MONTH_S / measured_s

    def expected_monthly_usd(self, measured_s: float) -> dict[str, float]:
        """What a month of this loop costs by layer in steady state (see the module)."""
        triggered = self.triggered_per_month(measured_s)
        cycles = self.scheduled_per_month(triggered) + triggered
        return {"iteration": cycles * self.usd_per_cycle["total"]}

    def report(self) -> dict[str, Any]:
        """What ``summary.json`` shows of this loop."""
        delays = self.restore_delays_s
        return {
            "kind": "retraining",
            "monitor": getattr(self.monitor, "name", None),
            "interval_days": self.interval_s / SECONDS_PER_DAY if self.interval_s else None,
            "on_drift": self.on_drift,
            "cycles_started": dict(self.started),
            "cycles_completed": dict(self.completed),
            "cycles_skipped_busy": dict(self.skipped),
            "cycle_hours": (self.prep_s + self.train_s + self.eval_s + self.canary_s)
            / SECONDS_PER_HOUR,
            "usd_per_cycle": self.usd_per_cycle,
            "usd_charged": self.usd_charged,
            "detection_to_restore_s": {
                "n": len(delays),
                "mean": sum(delays) / len(delays) if delays else None,
                "max": max(delays) if delays else None,
            },
            "cycles": [dict(c) for c in self.cycles],
        }

    def notes(self) -> list[str]:
        """A warning for ``summary.json`` ``notes`` when a cycle is cut off by the horizon."""
        running = self.running
        if running is None:
            return []
        total = self.usd_per_cycle["total"]
        charged = self.charged_usd()
        if charged >= total * (1.0 - 1e-9):
            return []  # only the canary is left: the whole cost is in the run
        now = self._env.now
        return [
            f"retraining.{self.name}: a {running['kind']} cycle that started at day "
            f"{running['started_s'] / SECONDS_PER_DAY:,.2f} was still in {running['phase']} "
            f"at the horizon (day {now / SECONDS_PER_DAY:,.2f}): the run holds "
            f"${charged:,.2f} of its ${total:,.2f}, the rest falls after it; run longer "
            f"(horizon_s) to see it whole — the monthly figure counts whole cycles"
        ]

    def __repr__(self) -> str:
        return (
            f"RetrainingLoop({self.name!r}, interval_s={self.interval_s}, on_drift={self.on_drift})"
        )
