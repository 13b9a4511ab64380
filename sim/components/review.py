"""The ``reviewers`` kind: human oversight — people who review answers and take over failures.

Placement
    A review stage sits on the request path after the model call (``path: [llm, review]``)
    and sees every answer that reaches it. A request that *fails* ends its path at the
    failing stage, so a stage after it never sees it: to escalate failures, put the model
    call on the stage's own ``upstream`` sub-path (``path: [review]``, ``upstream: [llm]``);
    the stage walks it first, then sees the request whether it failed or not.

What is reviewed
    * **Escalations** (priority over reviews): with ``escalate_failures`` a failed request
      (status failed; dropped requests, shed under load, are not escalated) and with
      ``escalate_unacceptable`` an answer that is not acceptable (the customer asks for a
      human: the flag assumes something recognises the bad answer) go to a human agent.
    * **Reviews**, by ``policy``: ``all`` every answer; ``sample`` each with probability
      ``sample_share``; ``selective`` the answers whose model confidence is below
      ``threshold``; ``none`` no answer. Confidence is a noisy signal of quality
      (assumption, documented in :class:`ReviewConfig`)::

          confidence = (1 - difficulty, or 1 when difficulty is not modelled)
                       - separation * [answer not acceptable] + N(0, noise)

      so low-confidence answers are more often the bad ones. A reviewer recognises every
      bad answer it reviews (assumption): a reviewed bad answer is **caught**.

Modes
    ``async`` (post-hoc review): the request goes on at once and costs nothing more; the
    item joins the queue. The user keeps the answer they got: a caught error is counted,
    not repaired, and a failed request stays failed (a human follows up).
    ``inline`` (the customer waits): the request waits in the queue and for the review.
    When the human is done a caught or escalated bad answer is replaced by the human's
    acceptable one, and an escalated failure becomes an answered request (status back to
    in flight, acceptable): it then completes, so the accounting stays exact — the status
    changes before the request ends. The user sees nothing before the human releases it:
    ``first_token_at`` is set to that moment, and latency includes the wait.

Reviewers and shifts
    ``shifts`` is a roster: each shift has ``headcount`` people who work ``hours`` from
    ``start_h`` on each of ``days`` of *their* week, whose clock is the simulation's plus
    ``tz_offset_h`` (t = 0 is ``workload.clock_start_h`` hours after Monday 00:00 of the
    simulation clock). A reviewer serves the queue only while on shift: items wait
    overnight. A review in progress at shift end is finished (unpaid overtime, reported);
    a reviewer then goes home. Items are served escalations first, then reviews, each
    FIFO; ``sla_s`` is the longest acceptable wait for a reviewer to pick an item up.
    Review time is lognormal (median, ``time_sigma``) or exponential with the same median.

Per-request cost
    With ``policy: none`` and no escalation the stage does nothing (no event, no draw).
    Otherwise an answer costs at most one uniform or normal draw; a queued item adds no
    process: reviewers are counters, a review is one timeout with a callback, shift
    changes are one small process per shift. A waiting async item holds no request.

Accounting (layer ``human_oversight``)
    Reviewers are paid ``usd_per_hour`` for every shift-hour, busy or idle:
    ``bill(start, end)`` charges the on-shift headcount × hours × rate in ``[start, end)``.
    Overtime to finish a review is not paid (at most one review per reviewer per shift).

Statistics (items of requests that arrived after the warm-up; time after the warm-up):
:meth:`Reviewers.report` goes into ``summary.json`` under ``components``; gauges
``backlog`` and ``on_shift`` go into the time series.
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from sim import checks
from sim.checks import knob
from sim.components.kinds import register
from sim.components.request import Request, Status
from sim.components.stage import SubPath
from sim.engine.context import SimContext
from sim.kernels.blocks import BlockDraws, lognormal_draws
from sim.metrics.histogram import LogHistogram

LAYER = "human_oversight"
POLICIES = ("none", "sample", "selective", "all")  # = sim.config.LEVERS["review"]
MODES = ("async", "inline")
TIME_DISTS = ("lognormal", "exponential")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEK_S = 7 * 86400.0

# item kinds: a reviewed answer (acceptable or not), an escalated bad answer or failure
REVIEW_OK, REVIEW_BAD, ESC_BAD, ESC_FAIL = 0, 1, 2, 3


class ShiftCalendar:
    """When one shift is on, in simulated seconds: a weekly pattern, merged and periodic.

    A shift that starts on local day ``d`` at ``start_h`` lasts ``hours`` (it may run
    past midnight). Local time is the simulation clock plus ``tz_offset_h``; the
    simulation's t = 0 is ``clock_start_h`` hours after Monday 00:00 of its clock.
    Adjacent or overlapping periods merge (seven 24-hour days: always on).
    """

    def __init__(
        self,
        headcount: int,
        start_h: float,
        hours: float,
        days: list[int],
        tz_offset_h: float = 0.0,
        clock_start_h: float = 0.0,
    ) -> None:
        self.headcount = checks.integer("headcount", headcount, 1)
        checks.number("start_h", start_h, ge=0, lt=24)
        self.hours = checks.number("hours", hours, gt=0, le=24)
        checks.number("tz_offset_h", tz_offset_h, ge=-24, le=24)
        checks.number("clock_start_h", clock_start_h, ge=0, lt=168)
        if not days or any(d not in range(7) for d in days):
            raise ValueError(f"days={days!r} must be day numbers 0 (Monday) to 6, at least one")
        spans = []
        for d in sorted(set(days)):  # local week-hour -> simulated seconds, modulo a week
            a = ((24.0 * d + start_h - tz_offset_h - clock_start_h) * 3600.0) % WEEK_S
            spans.append((a, a + hours * 3600.0))
        self._spans = sorted(spans)

    def windows(self, start_s: float, end_s: float) -> Iterator[tuple[float, float]]:
        """The on-periods ``(on, off)`` that overlap ``[start_s, end_s)``, merged, in order."""
        cur: list[float] | None = None
        k = math.floor(start_s / WEEK_S) - 1  # a period may begin in the week before
        while True:
            for a, b in self._spans:
                a, b = a + k * WEEK_S, b + k * WEEK_S
                if a >= end_s:  # (a period still open here already reaches end_s)
                    if cur is not None and cur[1] > start_s:
                        yield cur[0], cur[1]
                    return
                if cur is not None and a <= cur[1]:
                    cur[1] = max(cur[1], b)
                    continue
                if cur is not None and cur[1] > start_s:
                    yield cur[0], cur[1]
                cur = [a, b]
            k += 1

    def on_s(self, start_s: float, end_s: float) -> float:
        """Seconds of ``[start_s, end_s)`` the shift is on."""
        return sum(
            max(0.0, min(b, end_s) - max(a, start_s)) for a, b in self.windows(start_s, end_s)
        )


class Reviewers:
    """Human review and escalation on the request path (see the module docstring)."""

    def __init__(
        self,
        name: str,
        ctx: SimContext,
        *,
        shifts: list[ShiftCalendar],
        policy: str,
        mode: str,
        usd_per_hour: float,
        review_median_s: float,
        escalation_median_s: float,
        time_sigma: float,
        rng: np.random.Generator,
        time_dist: str = "lognormal",
        sample_share: float = 0.0,
        threshold: float = 0.7,
        confidence_noise: float = 0.2,
        confidence_separation: float = 0.2,
        escalate_failures: bool = False,
        escalate_unacceptable: bool = False,
        sla_s: float = 3600.0,
        upstream: SubPath | None = None,
    ) -> None:
        self.name = name
        self._env: simpy.Environment = ctx.env
        self._ledger = ctx.ledger
        self._warmup_s = ctx.warmup_s
        self._horizon_s = ctx.horizon_s
        self.policy = checks.choice("policy", policy, POLICIES)
        self.mode = checks.choice("mode", mode, MODES)
        self.usd_per_hour = checks.non_negative("usd_per_hour", usd_per_hour)
        self.sample_share = checks.probability("sample_share", sample_share)
        self.threshold = checks.number("threshold", threshold)
        self.noise = checks.non_negative("confidence_noise", confidence_noise)
        self.separation = checks.non_negative("confidence_separation", confidence_separation)
        self.escalate_failures = bool(escalate_failures)
        self.escalate_unacceptable = bool(escalate_unacceptable)
        self.sla_s = checks.positive("sla_s", sla_s)
        self.shifts = list(shifts)
        self._upstream = upstream if upstream is not None and len(upstream) else None
        self._inline = mode == "inline"
        self._active = policy != "none" or self.escalate_failures or self.escalate_unacceptable
        if self._active and not self.shifts:
            raise checks.ConfigError("shifts=[] is empty: nobody would ever review", key="shifts")
        # an inline review can replace an answer (and answer a failure)
        self.affects_quality = self._inline and self._active
        # random draws: independent sub-streams, so the selection never shifts review times
        r_select, r_review, r_escalate = checks.rng("rng", rng).spawn(3)
        self._u = BlockDraws(r_select.random)
        self._z = BlockDraws(r_select.standard_normal)
        self._review_time = _durations(r_review, review_median_s, time_sigma, time_dist)
        self._escalation_time = _durations(r_escalate, escalation_median_s, time_sigma, time_dist)
        self.time_dist = time_dist
        # reviewer state per shift: on shift?, idle on shift, busy on shift, busy overtime
        n = len(self.shifts)
        self._on = [False] * n
        self._idle = [0] * n
        self._busy = [0] * n
        self._over = [0] * n
        self._idle_total = self._busy_total = self._over_total = 0
        # queues: escalations first, then reviews; items (enqueued_at, kind, counted, req, event)
        self._queues: tuple[deque, deque] = (deque(), deque())
        # busy and overtime reviewer-seconds since t=0 (integrated at each change)
        self._t = 0.0
        self._busy_area = self._over_area = 0.0
        self._billed = (0.0, 0.0)  # the areas at the last bill
        # statistics of the measured window
        self.answers = self.unacceptable = self.failures = 0
        self.queued = [0, 0, 0, 0]  # by item kind
        self.done = [0, 0, 0, 0]
        self.started = self.sla_misses = 0
        self.fixed = 0  # answers made acceptable before the user got them (inline)
        self.wait = LogHistogram()
        self.escalation_wait = LogHistogram()
        self.review_s_total = 0.0
        self.paid_s = self.busy_s = self.overtime_s = self.usd = 0.0
        ctx.ledger.series(LAYER, name)

    # -- the request path --------------------------------------------------------------
    def handle(self, req: Request) -> Generator[simpy.Event, Any, None]:
        """Walk ``upstream``, then queue the answer (or failure) for a human if it is chosen."""
        if self._upstream is not None:
            yield from self._upstream.handle(req)
        if not self._active:
            return
        counted = req.arrived_at >= self._warmup_s
        if req.status == Status.IN_FLIGHT:
            ok = req.ok
            if counted:
                self.answers += 1
                self.unacceptable += not ok
            if not ok and self.escalate_unacceptable:
                kind = ESC_BAD
            elif self._chosen(req):
                kind = REVIEW_OK if ok else REVIEW_BAD
            else:
                return
        elif req.status == Status.FAILED and self.escalate_failures:
            kind = ESC_FAIL
            self.failures += counted
        else:
            return
        if counted:
            self.queued[kind] += 1
        if self._inline:
            done = self._env.event()
            self._enqueue((self._env.now, kind, counted, req, done))
            yield done
            req.first_token_at = self._env.now  # the user sees the answer the human released
        else:
            self._enqueue((self._env.now, kind, counted, None, None))

    def _chosen(self, req: Request) -> bool:
        """Whether the review policy picks this answer."""
        policy = self.policy
        if policy == "all":
            return True
        if policy == "sample":
            return self._u.next() < self.sample_share
        if policy == "selective":
            d = req.difficulty
            confidence = (1.0 - d if d == d else 1.0) + self.noise * self._z.next()
            if not req.ok:
                confidence -= self.separation
            return confidence < self.threshold
        return False

    # -- reviewers -----------------------------------------------------------------------
    def _advance(self) -> None:
        now = self._env.now
        dt = now - self._t
        if dt > 0.0:
            self._busy_area += self._busy_total * dt
            self._over_area += self._over_total * dt
            self._t = now

    def _enqueue(self, item: tuple) -> None:
        if self._idle_total > 0:
            for s, idle in enumerate(self._idle):
                if idle:
                    self._start(s, item)
                    return
        self._queues[0 if item[1] >= ESC_BAD else 1].append(item)

    def _next(self) -> tuple | None:
        q0, q1 = self._queues
        return q0.popleft() if q0 else (q1.popleft() if q1 else None)

    def _start(self, s: int, item: tuple) -> None:
        """An idle reviewer of shift ``s`` picks ``item`` up."""
        self._advance()
        self._idle[s] -= 1
        self._idle_total -= 1
        self._busy[s] += 1
        self._busy_total += 1
        enqueued_at, kind, counted = item[0], item[1], item[2]
        escalation = kind >= ESC_BAD
        duration = (self._escalation_time if escalation else self._review_time).next()
        if counted:
            wait = self._env.now - enqueued_at
            self.wait.add(wait)
            if escalation:
                self.escalation_wait.add(wait)
            self.started += 1
            self.sla_misses += wait > self.sla_s
        ev = self._env.timeout(duration)
        ev.callbacks.append(lambda _ev: self._finish(s, item, duration))

    def _finish(self, s: int, item: tuple, duration: float) -> None:
        """A review ends: apply what the human did, then the reviewer takes the next item."""
        self._advance()
        _, kind, counted, req, done = item
        if counted:
            self.done[kind] += 1
            self.review_s_total += duration
        if req is not None:  # inline: the human's answer replaces what the user would get
            if kind == ESC_FAIL:
                req.status = Status.IN_FLIGHT  # answered by a human: it will complete
                req.reason = None
            if kind != REVIEW_OK:
                req.ok = True
                self.fixed += counted
        if self._on[s]:
            self._busy[s] -= 1
            self._busy_total -= 1
            self._idle[s] += 1
            self._idle_total += 1
            nxt = self._next()
            if nxt is not None:
                self._start(s, nxt)
        else:  # overtime ends: the reviewer goes home
            self._over[s] -= 1
            self._over_total -= 1
        if done is not None:
            done.succeed()

    def _shift_on(self, s: int) -> None:
        self._advance()
        self._on[s] = True
        self._busy[s] += self._over[s]  # still busy from the last shift: back on the clock
        self._busy_total += self._over[s]
        self._over_total -= self._over[s]
        self._over[s] = 0
        idle = self.shifts[s].headcount - self._busy[s]
        self._idle[s] = idle
        self._idle_total += idle
        while self._idle[s] > 0:
            nxt = self._next()
            if nxt is None:
                break
            self._start(s, nxt)

    def _shift_off(self, s: int) -> None:
        self._advance()
        self._on[s] = False
        self._idle_total -= self._idle[s]
        self._idle[s] = 0
        self._over[s] += self._busy[s]  # they finish what they hold, then go home
        self._over_total += self._busy[s]
        self._busy_total -= self._busy[s]
        self._busy[s] = 0

    def start(self) -> None:
        """Put the shifts on at t = 0 where they are, and start one calendar process each."""
        for s, shift in enumerate(self.shifts):
            windows = shift.windows(0.0, self._horizon_s)
            first = next(windows, None)
            if first is None:
                continue
            if first[0] <= self._env.now:
                self._shift_on(s)
            self._env.process(self._calendar(s, first, windows))

    def _calendar(
        self, s: int, first: tuple[float, float], rest: Iterator[tuple[float, float]]
    ) -> Generator[simpy.Event, Any, None]:
        env = self._env
        on_at, off_at = first
        while True:
            if not self._on[s]:
                yield env.timeout(on_at - env.now)
                self._shift_on(s)
            if off_at >= self._horizon_s:
                return
            yield env.timeout(off_at - env.now)
            self._shift_off(s)
            nxt = next(rest, None)
            if nxt is None:
                return
            on_at, off_at = nxt

    # -- billing, gauges, report -----------------------------------------------------------
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

    @property
    def backlog(self) -> int:
        return len(self._queues[0]) + len(self._queues[1])

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

    def __repr__(self) -> str:
        return f"Reviewers({self.name!r}, policy={self.policy!r}, mode={self.mode!r})"


def _durations(rng: np.random.Generator, median_s: float, sigma: float, dist: str) -> BlockDraws:
    """Review times: lognormal (median, sigma) or exponential with the same median."""
    checks.positive("median_s", median_s)
    checks.non_negative("time_sigma", sigma)
    if checks.choice("time_dist", dist, TIME_DISTS) == "exponential":
        mean = median_s / math.log(2.0)
        return BlockDraws(lambda n: rng.exponential(mean, n))
    return lognormal_draws(rng, median_s, sigma)


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
