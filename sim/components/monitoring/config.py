"""The ``monitors`` section: typed config (prices and assumptions, with sources) and builder.

``monitors.NAME`` in a scenario declares one monitor (:class:`MonitorConfig`);
:func:`build_monitor` looks the judge's prices up in ``api_models`` and pairs the drift
steps' days with their drops. It is registered for the section, so importing
:mod:`sim.components.monitoring` makes the kind known.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sim import checks
from sim.checks import knob
from sim.components.kinds import register
from sim.components.monitoring.monitor import DriftMonitor


@dataclass
class MonitorConfig:
    """Logging, LLM-judge evaluation and drift of the answers (prices: see the comments)."""

    # Log volume. OpenAI: "1 token ~ 4 characters of English text" (help.openai.com,
    # "What are tokens and how to count them?"); 1 byte per character (UTF-8, ASCII).
    bytes_per_token: float = knob(4.0, ge=0)
    # Assumption: a JSON envelope per request (ids, timestamps, model, token counts,
    # latency, route, status) of about 1 kB.
    metadata_bytes: int = knob(1000, ge=0, integer=True)
    # AWS CloudWatch Logs, Standard class, us-east-1: ingestion $0.50 per GB, storage
    # $0.03 per GB-month (c3x.dev "CloudWatch Logs cost optimization", prices as of
    # June 2026; hykell.com CloudWatch Logs pricing guide; read 2026-11 via stored copies).
    ingest_usd_per_gb: float = knob(0.50, ge=0)
    storage_usd_per_gb_month: float = knob(0.03, ge=0)
    retention_days: float = knob(30.0, gt=0, le=36500)  # assumption: a 30-day retention policy
    # Evaluation. Assumption: 5 % of responses judged.
    eval_share: float = knob(0.05, ge=0, le=1)
    judge_model: str = "gpt_4o_mini"  # a key of api_models: its list prices
    rubric_tokens: int = knob(400, ge=0, integer=True)  # assumption: judge instructions
    judge_output_tokens: int = knob(100, ge=0, integer=True)  # assumption: verdict + reason
    # Share of verdicts that are wrong (symmetric). Strong LLM judges agree with human
    # raters on ~80-85 % of judgements (Zheng et al., "Judging LLM-as-a-judge with
    # MT-Bench and Chatbot Arena", NeurIPS 2023, arXiv:2306.05685); assumption: 0.15.
    judge_error: float = knob(0.15, ge=0, lt=0.5)
    human_eval_share: float = knob(0.0, ge=0, le=1)
    # Assumption: 2 minutes of a rater at $30/h per item.
    human_usd_per_item: float = knob(1.0, ge=0)
    # Drift (none by default): gradual loss per day, and steps (days, drop) in pairs.
    drift_per_day: float = knob(0.0, ge=0)
    drift_start_days: float = knob(0.0, ge=0)
    drift_step_days: list[float] = knob(factory=list, ge=0)
    drift_step_drop: list[float] = knob(factory=list, ge=0, le=1)
    # Detection: Bernoulli CUSUM (Page 1954; Reynolds & Stoumbos 1999). Assumptions:
    # the baseline from the first 2,000 verdicts (null share: estimate it), tuned to a
    # 5-point drop in the acceptable share, threshold 6 log-likelihood units. With a
    # known baseline of 15 % "unacceptable" verdicts that is ~120,000 verdicts between
    # false alarms and ~1,070 verdicts to detect a 5-point drop (~120 for 30 points),
    # simulated for this module. An estimated baseline is itself noisy (Jones, Champ &
    # Rigdon, Technometrics 46(2), 2004, ask for large Phase I samples): from 2,000
    # verdicts its standard error is ~1 point at a 25 % rate, a quarter of the 3.5-point
    # shift the judge sees of a 5-point drop (judge_error 0.15); from 500 it was 2 points,
    # and an unlucky baseline could hide a 12-point drift for a week.
    baseline_evals: int = knob(2000, ge=1, integer=True)
    baseline_acceptable_share: float | None = knob(None, gt=0, lt=1, none_ok=True)
    detect_shift: float = knob(0.05, gt=0, lt=1)
    cusum_h: float = knob(6.0, gt=0)


@register("monitors", MonitorConfig)
def build_monitor(b: Any, name: str, c: Any) -> DriftMonitor:
    """A monitor after the model: logs, LLM-judge samples, drift and its detection."""
    key = f"monitors.{name}"
    judge = checks.lookup(f"{key}.judge_model", c.judge_model, b.cfg.api_models, "api_models")
    days, drops = list(c.drift_step_days), list(c.drift_step_drop)
    if len(days) != len(drops):
        checks.both(
            f"{key}.drift_step_days",
            days,
            f"{key}.drift_step_drop",
            drops,
            "need the same number of values (one drop per step)",
        )
    return DriftMonitor(
        name,
        b.ctx,
        bytes_per_token=c.bytes_per_token,
        metadata_bytes=c.metadata_bytes,
        ingest_usd_per_gb=c.ingest_usd_per_gb,
        storage_usd_per_gb_month=c.storage_usd_per_gb_month,
        retention_days=c.retention_days,
        eval_share=c.eval_share,
        judge_usd_per_mtok_input=judge.usd_per_mtok_input,
        judge_usd_per_mtok_output=judge.usd_per_mtok_output,
        rubric_tokens=int(c.rubric_tokens),
        judge_output_tokens=int(c.judge_output_tokens),
        judge_error=c.judge_error,
        human_eval_share=c.human_eval_share,
        human_usd_per_item=c.human_usd_per_item,
        drift_per_day=c.drift_per_day,
        drift_start_days=c.drift_start_days,
        drift_steps=list(zip(days, drops)),
        baseline_evals=int(c.baseline_evals),
        baseline_acceptable_share=c.baseline_acceptable_share,
        detect_shift=c.detect_shift,
        cusum_h=c.cusum_h,
        rng=b.ctx.rng.stream(f"monitors.{name}"),
    )
