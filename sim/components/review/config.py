"""The ``reviewers`` section: typed config (defaults and their sources) and the builder.

``reviewers.NAME`` in a scenario declares one team (:class:`ReviewConfig`); its
``shifts`` is a list of :class:`ShiftConfig` mappings, checked here with full keys
(``reviewers.NAME.shifts[0].days[1]``). :func:`build_reviewers` is registered for the
section, so importing :mod:`sim.components.review` makes the kind known.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sim import checks
from sim.checks import knob
from sim.components.kinds import register
from sim.components.review.queue import MODES, POLICIES, TIME_DISTS
from sim.components.review.report import Reviewers
from sim.components.review.shifts import DAYS, ShiftCalendar


@dataclass
class ShiftConfig:
    """One shift of the roster: who works when, in their own time zone."""

    headcount: int = knob(2, ge=1, le=1_000_000, integer=True)  # people on this shift
    start_h: float = knob(9.0, ge=0, lt=24)  # local start, hours after midnight
    hours: float = knob(8.0, gt=0, le=24)  # paid hours per day (may run past midnight)
    days: list[str] = field(default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"])
    # the reviewers' clock minus the simulation's, in hours (+13: Manila for New York)
    tz_offset_h: float = knob(0.0, ge=-24, le=24)


@dataclass
class ReviewConfig:
    """Human review and escalation (defaults: a small support team; see each comment)."""

    policy: str = knob("sample", choices=POLICIES)  # what levers.review switches
    mode: str = knob("async", choices=MODES)  # async: post-hoc | inline: the user waits
    sample_share: float = knob(0.05, ge=0, le=1)  # sample: share of answers reviewed
    # selective: review answers whose confidence is below threshold. Confidence =
    # (1 - difficulty, or 1 if not modelled) - separation * [bad answer] + N(0, noise).
    # Assumption: separation 0.2 and noise 0.2 make confidence an error detector with an
    # AUROC of about 0.76 (Phi(0.2 / (0.2 * sqrt 2))), the range reported for LLM
    # confidence as a predictor of wrong answers (0.6-0.8: Kadavath et al., "Language
    # Models (Mostly) Know What They Know", 2022; Xiong et al., ICLR 2024). The threshold
    # is the scenario's choice: with difficulty modelled, confidence centres on 1 - mean.
    threshold: float = knob(0.7, ge=-10, le=10)
    confidence_noise: float = knob(0.2, ge=0, le=10)
    confidence_separation: float = knob(0.2, ge=0, le=10)
    escalate_failures: bool = False  # failed requests go to a human (needs upstream)
    escalate_unacceptable: bool = False  # bad answers go to a human (someone flags them)
    upstream: list[str] = field(default_factory=list)  # walked first: its failures reach us
    # Assumption: checking one AI answer against the knowledge base and correcting it
    # takes a median 2 minutes.
    review_median_s: float = knob(120.0, gt=0)
    # A human taking over a chat: Comm100's Live Chat Benchmark Report 2021 measured an
    # average chat duration of 10 min 57 s (2020); lognormal median 8 min with sigma 0.7
    # has that mean (8 * e^0.245 = 10.2 min). Agents often hold 1-3 chats at once, so
    # this overstates agent time per chat (a conservative assumption).
    escalation_median_s: float = knob(480.0, gt=0)
    time_sigma: float = knob(0.7, ge=0, le=3)  # assumption: lognormal spread of both
    time_dist: str = knob("lognormal", choices=TIME_DISTS)  # exponential: same median
    sla_s: float = knob(3600.0, gt=0)  # assumption: an item is picked up within an hour
    # Loaded cost of a US customer service representative: median pay $20.59/h (BLS
    # Occupational Outlook Handbook, Customer Service Representatives, May 2024: $42,830
    # a year) divided by 0.705, the share of wages in private-industry employer
    # compensation costs (BLS ECEC, December 2024, released 2025-03-14) = $29.21/h.
    # Paid for every shift-hour; no overhead for seats, tools or supervision.
    usd_per_hour: float = knob(29.21, ge=0)
    # the roster: a list of shifts (ShiftConfig's keys; checked by the builder)
    shifts: list[Any] = field(default_factory=lambda: [ShiftConfig()])


def _shift_calendar(b: Any, key: str, entry: Any) -> ShiftCalendar:
    """One shift of ``shifts`` (a mapping of ShiftConfig's keys), checked with full keys."""
    from omegaconf import DictConfig, OmegaConf

    fields = {f.name: f for f in dataclasses.fields(ShiftConfig)}
    if not isinstance(entry, (dict, DictConfig)):
        checks.fail(key, entry, f"must be a shift: a mapping with {', '.join(fields)}")
    given: dict[str, Any] = {}
    for k in entry:
        if k not in fields:
            checks.fail(
                f"{key}.{k}",
                entry[k],
                f"is not a known key{checks.did_you_mean(k, fields)} (a shift has: "
                f"{', '.join(fields)})",
            )
        rule = fields[k].metadata.get(checks.RULE)
        given[k] = rule.number(f"{key}.{k}", entry[k]) if rule is not None else entry[k]
    sc = ShiftConfig(**given)  # the defaults for keys not given
    days = sc.days
    if isinstance(days, str) or not (OmegaConf.is_list(days) or isinstance(days, Sequence)):
        checks.fail(f"{key}.days", days, "must be a list of days, e.g. [mon, tue]")
    if not days:
        checks.fail(f"{key}.days", [], "is empty: name the days this shift works, e.g. [mon]")
    return ShiftCalendar(
        sc.headcount,
        sc.start_h,
        sc.hours,
        [DAYS.index(checks.choice(f"{key}.days[{j}]", d, DAYS)) for j, d in enumerate(days)],
        tz_offset_h=sc.tz_offset_h,
        clock_start_h=b.cfg.workload.clock_start_h,
    )


@register("reviewers", ReviewConfig)
def build_reviewers(b: Any, name: str, c: Any) -> Reviewers:
    """Human review and escalation: reviewers on shifts, paid for every shift-hour."""
    key = f"reviewers.{name}"
    shifts = [_shift_calendar(b, f"{key}.shifts[{i}]", sc) for i, sc in enumerate(c.shifts)]
    escalates = c.escalate_failures or c.escalate_unacceptable
    if not shifts and (c.policy != "none" or escalates):
        what = f"policy={c.policy}" if c.policy != "none" else "escalation"
        checks.fail(
            f"{key}.shifts",
            [],
            f"is empty but {what} sends items to reviewers: list at least one shift "
            "(headcount, start_h, hours, days, tz_offset_h) or set policy none",
        )
    if c.escalate_failures and not c.upstream:
        checks.both(
            f"{key}.escalate_failures",
            True,
            f"{key}.upstream",
            [],
            "do not go together: a failed request ends before a stage after it runs; put "
            f"the model call on the stage's upstream (e.g. {key}.upstream=[llm], path=[{name}])",
        )
    upstream = b.path(c.upstream, f"{key}.upstream") if c.upstream else None
    return Reviewers(
        name,
        b.ctx,
        shifts=shifts,
        policy=c.policy,
        mode=c.mode,
        usd_per_hour=c.usd_per_hour,
        review_median_s=c.review_median_s,
        escalation_median_s=c.escalation_median_s,
        time_sigma=c.time_sigma,
        time_dist=c.time_dist,
        rng=b.ctx.rng.stream(f"reviewers.{name}"),
        sample_share=c.sample_share,
        threshold=c.threshold,
        confidence_noise=c.confidence_noise,
        confidence_separation=c.confidence_separation,
        escalate_failures=c.escalate_failures,
        escalate_unacceptable=c.escalate_unacceptable,
        sla_s=c.sla_s,
        upstream=upstream,
    )
