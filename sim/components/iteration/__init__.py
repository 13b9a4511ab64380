"""The ``retraining`` kind: retraining, testing and redeployment cycles beside the path.

A retraining loop is a service (``services: [retrain]``): it runs beside the request
path, started before the run, on a schedule and/or when a monitor detects drift, and
charges layer ``iteration``. The parts of the mechanism, one module each:

* :mod:`~sim.components.iteration.cycles` — triggers, the four phases of a cycle
  (preparation, training, evaluation, canary), the restore of the monitor's quality,
  and the charges (:class:`RetrainingCycles`).
* :mod:`~sim.components.iteration.report` — the report, the notes and what a month
  costs in steady state (:class:`RetrainingLoop`, the component a run builds).
* :mod:`~sim.components.iteration.config` — the typed config (:class:`RetrainingConfig`)
  and the builder registered for the ``retraining`` section.
"""

from __future__ import annotations

from sim.components.iteration.config import METHODS, RetrainingConfig, build_retraining
from sim.components.iteration.cycles import (
    KINDS,
    LAYER,
    LISTED_CYCLES,
    PHASES,
    SECONDS_PER_DAY,
    SECONDS_PER_HOUR,
    RetrainingCycles,
)
from sim.components.iteration.report import MONTH_S, RetrainingLoop

__all__ = [
    "KINDS",
    "LAYER",
    "LISTED_CYCLES",
    "METHODS",
    "MONTH_S",
    "PHASES",
    "SECONDS_PER_DAY",
    "SECONDS_PER_HOUR",
    "RetrainingConfig",
    "RetrainingCycles",
    "RetrainingLoop",
    "build_retraining",
]
