"""Retraining cycles: what starts them, their phases, and what each phase costs.

Triggers
    **Scheduled** cycles start every ``interval_days`` (at ``k × interval``, k = 1, 2, …);
    **triggered** cycles start when the monitor named by ``monitor`` (a ``monitors``
    component) raises a drift alarm, if ``on_drift``. One cycle runs at a time: a tick or
    an alarm that comes while a cycle runs is counted as skipped.

A cycle (phases in order)
    1. ``prep_hours``: engineers collect and label fresh data; the model will be trained
       on data up to the cycle's start (its data cut-off);
    2. ``train_hours``: training — through a fine-tuning API (``method: api``:
       ``train_examples × tokens_per_example × epochs`` training tokens at
       ``usd_per_mtok_training``, charged when the job ends) or on rented GPUs
       (``method: gpu``: ``train_gpus`` devices of ``hardware`` at its catalog
       ``usd_per_hour``, billed for every second the job runs);
    3. ``eval_hours``: an evaluation run of ``eval_items`` items, each judged by
       ``judge_model`` (``eval_prompt_tokens`` in, ``eval_output_tokens`` out, list
       prices), charged when it ends;
    4. redeployment: the new model serves ``canary_share`` of requests for
       ``canary_hours`` (a canary), then all of them. The monitor's quality follows
       (:meth:`sim.components.monitoring.DriftMonitor.restore`): drift that began
       before the data cut-off is gone, later drift still applies.
    Engineers (``engineer_hours`` at ``usd_per_engineer_hour``) are billed evenly over
    phases 1–3. Everything goes to layer ``iteration``, when it happens: a cycle cut off
    by the horizon has paid only for what it did (:meth:`RetrainingCycles.charged_usd`
    tells how much).

Not modelled: the fine-tuned model's own inference price (OpenAI bills fine-tuned
gpt-4o-mini at twice the base rate; set the serving API's model for that), and a canary
replica's extra capacity on a self-hosted pool.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from sim import checks
from sim.engine.context import SimContext

LAYER = "iteration"
SECONDS_PER_DAY = 86400.0
SECONDS_PER_HOUR = 3600.0
KINDS = ("scheduled", "triggered")
PHASES = ("preparation", "training", "evaluation", "canary")
LISTED_CYCLES = 20  # cycles listed one by one in the report (all are counted)


class RetrainingCycles:
    """Scheduled and drift-triggered retraining cycles, charged as they run (see module)."""

    def __init__(
        self,
        name: str,
        ctx: SimContext,
        *,
        monitor: Any = None,
        interval_s: float | None,
        on_drift: bool,
        prep_s: float,
        train_s: float,
        eval_s: float,
        canary_s: float,
        canary_share: float,
        training_usd: float,
        gpu_usd_per_hour: float,
        eval_usd: float,
        engineering_usd: float,
    ) -> None:
        self.name = name
        self._env: simpy.Environment = ctx.env
        self._ledger = ctx.ledger
        self._warmup_s = ctx.warmup_s
        self.monitor = monitor
        self.interval_s = checks.positive("interval_s", interval_s, none_ok=True)
        self.on_drift = bool(on_drift) and monitor is not None
        if self.interval_s is None and not self.on_drift:
            raise checks.ConfigError(
                "interval_s=null and no monitor to trigger on: the loop would never run"
            )
        self.prep_s = checks.non_negative("prep_s", prep_s)
        self.train_s = checks.non_negative("train_s", train_s)
        self.eval_s = checks.non_negative("eval_s", eval_s)
        self.canary_s = checks.non_negative("canary_s", canary_s)
        self.canary_share = checks.fraction("canary_share", canary_share)
        self.training_usd = checks.non_negative("training_usd", training_usd)
        self.gpu_usd_per_hour = checks.non_negative("gpu_usd_per_hour", gpu_usd_per_hour)
        self.eval_usd = checks.non_negative("eval_usd", eval_usd)
        self.engineering_usd = checks.non_negative("engineering_usd", engineering_usd)
        self.busy = False
        self.running: dict[str, Any] | None = None  # the cycle under way: kind, start, phase
        # costs billed by time: [start, end, usd per second]
        self._accruals: list[list[float]] = []
        self.started = dict.fromkeys(KINDS, 0)
        self.completed = dict.fromkeys(KINDS, 0)
        self.skipped = dict.fromkeys(KINDS, 0)
        self.usd_charged = 0.0
        self.restore_delays_s: list[float] = []  # alarm -> full rollout, per triggered cycle
        self.cycles: list[dict[str, Any]] = []
        ctx.ledger.series(LAYER, name)

    @property
    def usd_per_cycle(self) -> dict[str, float]:
        """What one whole cycle costs, by part."""
        gpu = self.gpu_usd_per_hour * self.train_s / SECONDS_PER_HOUR
        parts = {
            "training": self.training_usd + gpu,
            "evaluation": self.eval_usd,
            "engineering": self.engineering_usd,
        }
        return {**parts, "total": sum(parts.values())}

    @property
    def cycle_s(self) -> float:
        """How long a cycle keeps the loop busy: its four phases."""
        return self.prep_s + self.train_s + self.eval_s + self.canary_s

    # -- processes ------------------------------------------------------------------------
    def start(self) -> None:
        """Start the schedule and subscribe to the monitor's alarms."""
        if self.interval_s is not None:
            self._env.process(self._schedule())
        if self.on_drift:
            self.monitor.on_detect(self._on_detect)

    def _schedule(self) -> Generator[simpy.Event, Any, None]:
        env = self._env
        k = 1
        while True:
            yield env.timeout(k * self.interval_s - env.now)
            self._begin("scheduled", None)
            k += 1

    def _on_detect(self, at_s: float) -> None:
        self._begin("triggered", at_s)

    def _begin(self, kind: str, detected_at: float | None) -> None:
        counted = self._env.now >= self._warmup_s
        if self.busy:
            self.skipped[kind] += counted
            return
        self.busy = True
        self.started[kind] += counted
        self._env.process(self._cycle(kind, detected_at, counted))

    def _cycle(
        self, kind: str, detected_at: float | None, counted: bool
    ) -> Generator[simpy.Event, Any, None]:
        env = self._env
        t0 = env.now
        record: dict[str, Any] = {"kind": kind, "started_s": t0, "detected_s": detected_at}
        if counted and len(self.cycles) < LISTED_CYCLES:
            self.cycles.append(record)
        running = self.running = {"kind": kind, "started_s": t0, "phase": "preparation"}
        work_s = self.prep_s + self.train_s + self.eval_s
        if self.engineering_usd > 0.0:
            self._accrue(t0, work_s, self.engineering_usd)
        yield env.timeout(self.prep_s)
        running["phase"] = "training"
        if self.gpu_usd_per_hour > 0.0:
            self._accrue(env.now, self.train_s, self.gpu_usd_per_hour * self.train_s / 3600.0)
        yield env.timeout(self.train_s)
        self._charge(env.now, self.training_usd)
        running["phase"] = "evaluation"
        yield env.timeout(self.eval_s)
        self._charge(env.now, self.eval_usd)
        running["phase"] = "canary"
        if self.monitor is not None and self.canary_share < 1.0 and self.canary_s > 0.0:
            self.monitor.restore(t0, self.canary_share)
            record["canary_s"] = env.now
            yield env.timeout(self.canary_s)
        if self.monitor is not None:
            self.monitor.restore(t0, 1.0)
        record["restored_s"] = env.now
        self.completed[kind] += counted
        if detected_at is not None and counted:
            self.restore_delays_s.append(env.now - detected_at)
        self.busy = False
        self.running = None

    # -- accounting -----------------------------------------------------------------------
    def _charge(self, t: float, usd: float) -> None:
        if usd > 0.0:
            self._ledger.charge(t, LAYER, self.name, usd)
            if t >= self._warmup_s:
                self.usd_charged += usd

    def _accrue(self, start_s: float, duration_s: float, usd: float) -> None:
        """``usd`` spread evenly over ``[start_s, start_s + duration_s)`` (at once if 0 s)."""
        if duration_s <= 0.0:
            self._charge(start_s, usd)
        else:
            self._accruals.append([start_s, start_s + duration_s, usd / duration_s])

    def bill(self, start_s: float, end_s: float) -> None:
        """Engineers and training GPUs for the part of ``[start_s, end_s)`` they worked."""
        usd = 0.0
        for a, b, rate in self._accruals:
            overlap = min(b, end_s) - max(a, start_s)
            if overlap > 0.0:
                usd += rate * overlap
        self._accruals = [acc for acc in self._accruals if acc[1] > end_s]
        if usd > 0.0:
            self._ledger.charge(start_s, LAYER, self.name, usd)
            if start_s >= self._warmup_s:
                self.usd_charged += usd

    def charged_usd(self, now: float | None = None) -> float:
        """What the cycle under way has cost by ``now`` (once billed to it), 0 if none runs.

        Engineers accrue evenly over preparation, training and evaluation; GPUs over
        training; the fine-tuning job and the evaluation run when their phase ends.
        """
        running = self.running
        if running is None:
            return 0.0
        elapsed = (self._env.now if now is None else now) - running["started_s"]
        phase = PHASES.index(running["phase"])
        work_s = self.prep_s + self.train_s + self.eval_s
        usd = self.engineering_usd * (min(1.0, elapsed / work_s) if work_s > 0.0 else 1.0)
        if phase >= 1:  # training began
            trained_s = min(max(elapsed - self.prep_s, 0.0), self.train_s)
            usd += self.gpu_usd_per_hour * trained_s / SECONDS_PER_HOUR
        if phase >= 2:
            usd += self.training_usd
        if phase >= 3:
            usd += self.eval_usd
        return usd
