"""The ``reviewers`` kind: human oversight — people who review answers and take over failures.

Placement
    A review stage sits on the request path after the model call (``path: [llm, review]``)
    and sees every answer that reaches it. A request that *fails* ends its path at the
    failing stage, so a stage after it never sees it: to escalate failures, put the model
    call on the stage's own ``upstream`` sub-path (``path: [review]``, ``upstream: [llm]``);
    the stage walks it first, then sees the request whether it failed or not.

The parts of the mechanism, one module each:

* :mod:`~sim.components.review.shifts` — the roster: when each shift is on
  (:class:`ShiftCalendar`).
* :mod:`~sim.components.review.policy` — which answers are reviewed: ``all``,
  ``sample``, ``selective`` by the model's confidence, ``none`` (:class:`ReviewPolicy`).
* :mod:`~sim.components.review.queue` — what reaches the reviewers (reviews, escalated
  failures and bad answers), the modes (async, inline), the queue and the reviewers
  serving it (:class:`ReviewQueue`).
* :mod:`~sim.components.review.report` — pay by the shift-hour, gauges, the report and
  the notes of ``summary.json`` (:class:`Reviewers`, the component a run builds).
* :mod:`~sim.components.review.config` — the typed config (:class:`ReviewConfig`,
  :class:`ShiftConfig`, defaults and their sources) and the builder registered for the
  ``reviewers`` section.
"""

from __future__ import annotations

from sim.components.review.config import ReviewConfig, ShiftConfig, build_reviewers
from sim.components.review.policy import POLICIES, ReviewPolicy
from sim.components.review.queue import (
    ESC_BAD,
    ESC_FAIL,
    LAYER,
    MODES,
    REVIEW_BAD,
    REVIEW_OK,
    TIME_DISTS,
    ReviewQueue,
)
from sim.components.review.report import Reviewers
from sim.components.review.shifts import DAYS, WEEK_S, ShiftCalendar

__all__ = [
    "DAYS",
    "ESC_BAD",
    "ESC_FAIL",
    "LAYER",
    "MODES",
    "POLICIES",
    "REVIEW_BAD",
    "REVIEW_OK",
    "TIME_DISTS",
    "WEEK_S",
    "ReviewConfig",
    "ReviewPolicy",
    "ReviewQueue",
    "Reviewers",
    "ShiftCalendar",
    "ShiftConfig",
    "build_reviewers",
]
