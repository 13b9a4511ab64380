"""The ``retraining`` section: typed config (phases, prices with sources) and the builder.

``retraining.NAME`` in a scenario declares one loop (:class:`RetrainingConfig`);
:func:`build_retraining` checks its monitor, prices the training (fine-tuning API or
rented GPUs from the ``hardware`` catalog) and the evaluation run (``api_models``), and
turns hours into seconds. It is registered for the section, so importing
:mod:`sim.components.iteration` makes the kind known.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sim import checks
from sim.checks import knob
from sim.components.iteration.cycles import SECONDS_PER_DAY, SECONDS_PER_HOUR
from sim.components.iteration.report import RetrainingLoop
from sim.components.kinds import register

METHODS = ("api", "gpu")


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
