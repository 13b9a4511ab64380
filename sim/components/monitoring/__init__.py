"""The ``monitors`` kind: logging, LLM-judge evaluation and drift detection after the model.

A monitor is a stage placed on the path after the model call (``path: [llm, monitor]``).
It adds no SimPy event: for each response it updates counters, and for the sampled ones
it makes one arithmetic charge (layer ``monitoring``). The parts of the mechanism, one
module each:

* :mod:`~sim.components.monitoring.logs` — every response logged, ingestion billed per
  GB and storage per GB-month for ``retention_days`` (:class:`RetainedVolume`,
  :class:`RequestLog`).
* :mod:`~sim.components.monitoring.evaluation` — an LLM judge on a sample
  (``eval_share``) that errs with ``judge_error``, and human raters (:class:`LlmJudge`,
  :class:`HumanRaters`).
* :mod:`~sim.components.monitoring.drift` — quality drift (gradual and steps, undone by
  a restore) and its detection by a Bernoulli CUSUM on the judge's verdicts
  (:class:`QualityDrift`, :class:`BernoulliCusum`).
* :mod:`~sim.components.monitoring.monitor` — the stage itself, drift episodes, the API
  the ``retraining`` kind uses, the report and notes (:class:`DriftMonitor`).
* :mod:`~sim.components.monitoring.config` — the typed config (:class:`MonitorConfig`)
  and the builder registered for the ``monitors`` section.
"""

from __future__ import annotations

from sim.components.monitoring.config import MonitorConfig, build_monitor
from sim.components.monitoring.drift import BernoulliCusum, QualityDrift
from sim.components.monitoring.evaluation import HumanRaters, LlmJudge
from sim.components.monitoring.logs import (
    BYTES_PER_GB,
    SECONDS_PER_DAY,
    SECONDS_PER_MONTH,
    RequestLog,
    RetainedVolume,
)
from sim.components.monitoring.monitor import LAYER, DriftMonitor

__all__ = [
    "BYTES_PER_GB",
    "LAYER",
    "SECONDS_PER_DAY",
    "SECONDS_PER_MONTH",
    "BernoulliCusum",
    "DriftMonitor",
    "HumanRaters",
    "LlmJudge",
    "MonitorConfig",
    "QualityDrift",
    "RequestLog",
    "RetainedVolume",
    "build_monitor",
]
