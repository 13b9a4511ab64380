"""What reaches the reviewers, and the queue they serve: escalation, modes, service.

What is reviewed
    * **Escalations** (priority over reviews): with ``escalate_failures`` a failed request
      (status failed; dropped requests, shed under load, are not escalated) and with
      ``escalate_unacceptable`` an answer that is not acceptable (the customer asks for a
      human: the flag assumes something recognises the bad answer) go to a human agent.
    * **Reviews**, chosen by the review policy (:mod:`sim.components.review.policy`:
      ``all``, ``sample``, ``selective`` by the model's confidence, ``none``). A
      reviewer recognises every bad answer it reviews (assumption): a reviewed bad
      answer is **caught**.

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

The queue and the reviewers
    A reviewer serves the queue only while their shift is on
    (:mod:`sim.components.review.shifts`): items wait overnight. A review in progress at
    shift end is finished (unpaid overtime, reported); a reviewer then goes home. Items
    are served escalations first, then reviews, each FIFO; ``sla_s`` is the longest
    acceptable wait for a reviewer to pick an item up. Review time is lognormal (median,
    ``time_sigma``) or exponential with the same median.

Per-request cost
    With ``policy: none`` and no escalation the stage does nothing (no event, no draw).
    Otherwise an answer costs at most one uniform or normal draw; a queued item adds no
    process: reviewers are counters, a review is one timeout with a callback, shift
    changes are one small process per shift. A waiting async item holds no request.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from sim import checks
from sim.components.request import Request, Status
from sim.components.review.policy import POLICIES, ReviewPolicy
from sim.components.review.shifts import ShiftCalendar, shift_process
from sim.components.stage import SubPath
from sim.engine.context import SimContext
from sim.kernels.blocks import BlockDraws, lognormal_draws
from sim.metrics.histogram import LogHistogram

LAYER = "human_oversight"
MODES = ("async", "inline")
TIME_DISTS = ("lognormal", "exponential")

# item kinds: a reviewed answer (acceptable or not), an escalated bad answer or failure
REVIEW_OK, REVIEW_BAD, ESC_BAD, ESC_FAIL = 0, 1, 2, 3


class ReviewQueue:
    """Human review and escalation on the request path: who is chosen, who serves them."""

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
        self.selection = ReviewPolicy(
            self.policy,
            sample_share=sample_share,
            threshold=threshold,
            noise=confidence_noise,
            separation=confidence_separation,
            rng=r_select,
        )
        self._review_time = _durations(r_review, review_median_s, time_sigma, time_dist)
        self._escalation_time = _durations(r_escalate, escalation_median_s, time_sigma, time_dist)
        self.time_dist = time_dist
        self.mean_review_s = _mean_s(review_median_s, time_sigma, time_dist)
        self.mean_escalation_s = _mean_s(escalation_median_s, time_sigma, time_dist)
        # reviewer state per shift: on shift?, idle on shift, busy on shift, busy overtime
        n = len(self.shifts)
        self._on = [False] * n
        self._shifts_on = 0  # shifts on now (an item queued at 0 waits for a shift)
        self._idle = [0] * n
        self._busy = [0] * n
        self._over = [0] * n
        self._idle_total = self._busy_total = self._over_total = 0
        # queues: escalations first, then reviews; items (enqueued_at, kind, counted, req,
        # event, queued while no shift was on)
        self._queues: tuple[deque, deque] = (deque(), deque())
        # busy and overtime reviewer-seconds since t=0 (integrated at each change)
        self._t = 0.0
        self._busy_area = self._over_area = 0.0
        # statistics of the measured window
        self.answers = self.unacceptable = self.failures = 0
        self.queued = [0, 0, 0, 0]  # by item kind
        self.done = [0, 0, 0, 0]
        self.started = self.sla_misses = 0
        self.sla_misses_off_shift = 0  # of them, items queued while no shift was on
        self.fixed = 0  # answers made acceptable before the user got them (inline)
        self.wait = LogHistogram()
        self.escalation_wait = LogHistogram()
        self.review_s_total = 0.0
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
            elif self.selection.chosen(req):
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
            self._enqueue((self._env.now, kind, counted, req, done, self._shifts_on == 0))
            yield done
            req.first_token_at = self._env.now  # the user sees the answer the human released
        else:
            self._enqueue((self._env.now, kind, counted, None, None, self._shifts_on == 0))

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
            if wait > self.sla_s:
                self.sla_misses += 1
                self.sla_misses_off_shift += item[5]
        ev = self._env.timeout(duration)
        ev.callbacks.append(lambda _ev: self._finish(s, item, duration))

    def _finish(self, s: int, item: tuple, duration: float) -> None:
        """A review ends: apply what the human did, then the reviewer takes the next item."""
        self._advance()
        _, kind, counted, req, done, _ = item
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
        self._shifts_on += 1
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
        self._shifts_on -= 1
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
            self._env.process(
                shift_process(
                    self._env,
                    first,
                    windows,
                    self._horizon_s,
                    is_on=lambda s=s: self._on[s],
                    on=lambda s=s: self._shift_on(s),
                    off=lambda s=s: self._shift_off(s),
                )
            )

    @property
    def backlog(self) -> int:
        return len(self._queues[0]) + len(self._queues[1])


def _durations(rng: np.random.Generator, median_s: float, sigma: float, dist: str) -> BlockDraws:
    """Review times: lognormal (median, sigma) or exponential with the same median."""
    checks.positive("median_s", median_s)
    checks.non_negative("time_sigma", sigma)
    if checks.choice("time_dist", dist, TIME_DISTS) == "exponential":
        mean = median_s / math.log(2.0)
        return BlockDraws(lambda n: rng.exponential(mean, n))
    return lognormal_draws(rng, median_s, sigma)


def _mean_s(median_s: float, sigma: float, dist: str) -> float:
    """Mean of the review time drawn by :func:`_durations` (no draw)."""
    if dist == "exponential":
        return median_s / math.log(2.0)
    return median_s * math.exp(sigma * sigma / 2.0)
