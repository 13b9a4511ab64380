"""The reviewers as a run sees them: pay by the shift-hour, gauges, report and notes.

Accounting (layer ``human_oversight``)
    Reviewers are paid ``usd_per_hour`` for every shift-hour, busy or idle:
    ``bill(start, end)`` charges the on-shift headcount × hours × rate in ``[start, end)``.
    Overtime to finish a review is not paid (at most one review per reviewer per shift).

Statistics (items of requests that arrived after the warm-up; time after the warm-up):
:meth:`Reviewers.report` goes into ``summary.json`` under ``components``; gauges
``backlog`` and ``on_shift`` go into the time series.

Notes (:meth:`Reviewers.notes`, into ``summary.json`` ``notes``), only when they apply:

* the **backlog** at the end holds more work than the largest shift does in one shift
  (items × their mean review or escalation time > headcount × hours): the team falls
  behind;
* more than :data:`SLA_MISS_NOTE` of the items picked up waited longer than ``sla_s``.
  When most of the late items were queued while no shift was on, the note names the
  hours the shifts cover; otherwise (late while reviewers were on shift: too few of
  them) it names the headcount.
"""

from __future__ import annotations

from typing import Any

from sim.components.review.queue import ESC_BAD, ESC_FAIL, LAYER, REVIEW_BAD, REVIEW_OK, ReviewQueue
from sim.engine.context import SimContext

SLA_MISS_NOTE = 0.10  # share of items picked up after sla_s above which a note is shown


class Reviewers(ReviewQueue):
    """Human review and escalation on the request path (see :mod:`sim.components.review`)."""

    def __init__(self, name: str, ctx: SimContext, **kwargs: Any) -> None:
        super().__init__(name, ctx, **kwargs)
        self._billed = (0.0, 0.0)  # the busy and overtime areas at the last bill
        self.paid_s = self.busy_s = self.overtime_s = self.usd = 0.0

    def bill(self, start_s: float, end_s: float) -> None:
        """Every on-shift reviewer-hour of ``[start_s, end_s)``, busy or idle."""
        paid_s = sum(sh.headcount * sh.on_s(start_s, end_s) for sh in self.shifts)
        usd = paid_s / 3600.0 * self.usd_per_hour
        self._ledger.charge(start_s, LAYER, self.name, usd)
        self._advance()  # busy time since the last bill (the run bills at end_s = now)
        busy, over = self._busy_area - self._billed[0], self._over_area - self._billed[1]
        self._billed = (self._busy_area, self._over_area)
        if start_s >= self._warmup_s:
            self.paid_s += paid_s
            self.busy_s += busy
            self.overtime_s += over
            self.usd += usd

    def gauges(self) -> dict[str, float]:
        """Items waiting and reviewers on shift, at the bucket edge."""
        on = sum(sh.headcount for sh, on in zip(self.shifts, self._on) if on)
        return {"backlog": float(len(self._queues[0]) + len(self._queues[1])), "on_shift": on}

    def report(self) -> dict[str, Any]:
        """What ``summary.json`` shows of these reviewers."""
        now = self._env.now
        over_sla = sum(
            1 for q in self._queues for item in q if item[2] and now - item[0] > self.sla_s
        )
        reviewed = sum(self.done)
        caught = self.done[REVIEW_BAD]
        return {
            "kind": "reviewers",
            "policy": self.policy,
            "mode": self.mode,
            "answers": self.answers,
            "unacceptable_answers": self.unacceptable,
            "failures": self.failures,
            "queued": {
                "reviews": self.queued[REVIEW_OK] + self.queued[REVIEW_BAD],
                "escalated_unacceptable": self.queued[ESC_BAD],
                "escalated_failures": self.queued[ESC_FAIL],
            },
            "escalated": self.queued[ESC_BAD] + self.queued[ESC_FAIL],
            "reviewed": reviewed,
            "reviews_done": self.done[REVIEW_OK] + self.done[REVIEW_BAD],
            "escalations_done": self.done[ESC_BAD] + self.done[ESC_FAIL],
            "backlog": self.backlog,
            "in_review": self._busy_total + self._over_total,
            "caught": caught,
            "caught_share": caught / self.unacceptable if self.unacceptable else None,
            "fixed": self.fixed,
            "wait_s": self.wait.summary(),
            "escalation_wait_s": self.escalation_wait.summary(),
            "mean_review_s": self.review_s_total / reviewed if reviewed else None,
            "sla_s": self.sla_s,
            "sla_misses": self.sla_misses,
            "sla_miss_share": self.sla_misses / self.started if self.started else None,
            "backlog_over_sla": over_sla,
            "paid_reviewer_hours": self.paid_s / 3600.0,
            "busy_reviewer_hours": self.busy_s / 3600.0,
            "overtime_hours": self.overtime_s / 3600.0,
            # (busy on shift <= paid by construction; min() hides float rounding only)
            "utilization": min(1.0, self.busy_s / self.paid_s) if self.paid_s else None,
            "usd": self.usd,
            "usd_per_reviewed_item": self.usd / reviewed if reviewed else None,
        }

    def notes(self) -> list[str]:
        """Warnings for ``summary.json`` ``notes``: a backlog that outgrows a shift, SLA misses."""
        out = []
        key = f"reviewers.{self.name}"
        escalations, reviews = (len(q) for q in self._queues)
        work_h = (escalations * self.mean_escalation_s + reviews * self.mean_review_s) / 3600.0
        shift_h = max((sh.headcount * sh.hours for sh in self.shifts), default=0.0)
        if escalations + reviews and work_h > shift_h:
            out.append(
                f"{key}: {escalations + reviews:,} items wait at the end, about {work_h:,.1f} "
                f"reviewer-hours of work, more than one shift does (the largest: "
                f"{shift_h:,.1f} reviewer-hours): the reviewers fall behind; add people "
                f"({key}.shifts[i].headcount) or shifts ({key}.shifts)"
            )
        share = self.sla_misses / self.started if self.started else 0.0
        if share > SLA_MISS_NOTE:
            off = self.sla_misses_off_shift
            if 2 * off > self.sla_misses:
                why = (
                    f"{off:,} of them were queued while nobody was on shift: cover those "
                    f"hours ({key}.shifts: hours, days, or another shift)"
                )
            else:
                busy = self.busy_s / self.paid_s if self.paid_s else 0.0
                why = (
                    f"{self.sla_misses - off:,} of them were queued while reviewers were on "
                    f"shift (busy {busy:.0%} of their paid time): add people "
                    f"({key}.shifts[i].headcount)"
                )
            out.append(
                f"{key}: {share:.0%} of the items picked up ({self.sla_misses:,} of "
                f"{self.started:,}) waited longer than the SLA ({key}.sla_s="
                f"{self.sla_s:g} s); {why}"
            )
        return out

    def __repr__(self) -> str:
        return f"Reviewers({self.name!r}, policy={self.policy!r}, mode={self.mode!r})"
