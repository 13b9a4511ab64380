"""The ``retraining`` kind: retraining, testing and redeployment cycles beside the path.

A retraining loop is a service (``services: [retrain]``): it runs beside the request
path, started before the run (:meth:`RetrainingLoop.start`).

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
    by the horizon has paid only for what it did.

Not modelled: the fine-tuned model's own inference price (OpenAI bills fine-tuned
gpt-4o-mini at twice the base rate; set the serving API's model for that), and a canary
replica's extra capacity on a self-hosted pool.

Statistics (cycles that started after the warm-up) go to ``summary.json`` through
:meth:`RetrainingLoop.report`.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import simpy

from sim import checks
from sim.checks import knob
from sim.components.kinds import register
from sim.engine.context import SimContext

LAYER = "iteration"
SECONDS_PER_DAY = 86400.0
SECONDS_PER_HOUR = 3600.0
METHODS = ("api", "gpu")
KINDS = ("scheduled", "triggered")
LISTED_CYCLES = 20  # cycles listed one by one in the report (all are counted)


class RetrainingLoop:
    """Scheduled and drift-triggered retraining cycles with their costs (see module)."""

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
        work_s = self.prep_s + self.train_s + self.eval_s
        if self.engineering_usd > 0.0:
            self._accrue(t0, work_s, self.engineering_usd)
        yield env.timeout(self.prep_s)
        if self.gpu_usd_per_hour > 0.0:
            self._accrue(env.now, self.train_s, self.gpu_usd_per_hour * self.train_s / 3600.0)
        yield env.timeout(self.train_s)
        self._charge(env.now, self.training_usd)
        yield env.timeout(self.eval_s)
        self._charge(env.now, self.eval_usd)
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

    def __repr__(self) -> str:
        return (
            f"RetrainingLoop({self.name!r}, interval_s={self.interval_s}, on_drift={self.on_drift})"
        )


@dataclass
class RetrainingConfig:
    """Retraining cycles: when they run, how long they take, what they cost (see comments)."""

    monitor: str | None = None  # a monitors component: restored by cycles, triggers them
    on_drift: bool = True  # start a cycle when the monitor detects drift
    interval_days: float | None = knob(30.0, gt=0, none_ok=True)  # assumption: monthly
    method: str = knob("api", choices=METHODS)
    # Phases. Assumptions: two working days of data preparation, a 2-hour fine-tuning
    # job, 2 hours of evaluation, a one-day canary on 10 % of traffic.
    prep_hours: float = knob(16.0, ge=0)
    train_hours: float = knob(2.0, ge=0)
    eval_hours: float = knob(2.0, ge=0)
    canary_hours: float = knob(24.0, ge=0)
    canary_share: float = knob(0.1, gt=0, le=1)
    # method api: OpenAI fine-tuning of gpt-4o-mini, $3.00 per 1M training tokens
    # (announced 2024-07-23; the same rate in tokonomics.ca's and tokenmix.ai's summaries
    # of OpenAI's pricing page, the latter "verified April 2026"; read 2026-11).
    # Assumption: 5,000 examples of 1,000 tokens, 3 epochs (OpenAI's usual default).
    usd_per_mtok_training: float = knob(3.0, ge=0)
    train_examples: int = knob(5000, ge=0, integer=True)
    tokens_per_example: int = knob(1000, ge=0, integer=True)
    epochs: int = knob(3, ge=1, integer=True)
    # method gpu: devices of a hardware catalog entry, for train_hours.
    hardware: str = "a100_80gb_sxm"
    train_gpus: int = knob(8, ge=1, integer=True)
    # Evaluation run. Assumption: 500 items, each a 1,500-token judge prompt (question,
    # answer, rubric) and a 100-token verdict, at judge_model's list prices.
    eval_items: int = knob(500, ge=0, integer=True)
    judge_model: str = "gpt_4o_mini"
    eval_prompt_tokens: int = knob(1500, ge=0, integer=True)
    eval_output_tokens: int = knob(100, ge=0, integer=True)
    # Engineering: assumption, three engineer-days per cycle. Rate: BLS median pay of
    # software developers, $132,270 a year = $63.59/h (Occupational Outlook Handbook,
    # May 2023), loaded with benefits: wages are 70.4 % of private-industry compensation
    # (BLS ECEC, September 2024: $31.25 of $44.40) => $63.59 / 0.704 = $90.33/h.
    engineer_hours: float = knob(24.0, ge=0)
    usd_per_engineer_hour: float = knob(90.33, ge=0)


@register("retraining", RetrainingConfig)
def build_retraining(b: Any, name: str, c: Any) -> RetrainingLoop:
    """Retraining cycles beside the path: on a schedule and/or when a monitor sees drift."""
    key = f"retraining.{name}"
    monitor = None
    if c.monitor is not None:
        monitor = b.component(c.monitor, f"{key}.monitor")
        if not (callable(getattr(monitor, "on_detect", None)) and hasattr(monitor, "restore")):
            checks.fail(
                f"{key}.monitor",
                c.monitor,
                "is not a monitor: name a component of the monitors section",
            )
    if c.interval_days is None and (monitor is None or not c.on_drift):
        checks.both(
            f"{key}.interval_days",
            None,
            f"{key}.monitor" if monitor is None else f"{key}.on_drift",
            c.monitor if monitor is None else c.on_drift,
            "leave the loop nothing to start it: set an interval or a monitor to trigger on",
        )
    judge = checks.lookup(f"{key}.judge_model", c.judge_model, b.cfg.api_models, "api_models")
    eval_usd = (
        c.eval_items
        * (
            c.eval_prompt_tokens * judge.usd_per_mtok_input
            + c.eval_output_tokens * judge.usd_per_mtok_output
        )
        * 1e-6
    )
    training_usd, gpu_usd_per_hour = 0.0, 0.0
    if c.method == "api":
        tokens = c.train_examples * c.tokens_per_example * c.epochs
        training_usd = tokens * c.usd_per_mtok_training * 1e-6
    else:
        hw = checks.lookup(f"{key}.hardware", c.hardware, b.cfg.hardware, "hardware")
        gpu_usd_per_hour = c.train_gpus * hw.usd_per_hour
    return RetrainingLoop(
        name,
        b.ctx,
        monitor=monitor,
        interval_s=c.interval_days * SECONDS_PER_DAY if c.interval_days is not None else None,
        on_drift=c.on_drift,
        prep_s=c.prep_hours * SECONDS_PER_HOUR,
        train_s=c.train_hours * SECONDS_PER_HOUR,
        eval_s=c.eval_hours * SECONDS_PER_HOUR,
        canary_s=c.canary_hours * SECONDS_PER_HOUR,
        canary_share=c.canary_share,
        training_usd=training_usd,
        gpu_usd_per_hour=gpu_usd_per_hour,
        eval_usd=eval_usd,
        engineering_usd=c.engineer_hours * c.usd_per_engineer_hour,
    )
