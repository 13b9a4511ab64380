"""The resilient call: a chain of model calls tried with timeouts, retries and fallback.

Mechanism
    A ``resilience.NAME`` component wraps a **chain** of model calls — each element a
    component (an API, a pool) or a sub-path of several — and stands on the path where
    the model call stood. A request tries the chain's elements in order::

        for element in chain:
            for attempt in 1 .. max_attempts:
                run the attempt (on a copy of the request), at most timeout_s
                success            -> copy what it set back to the request; done
                failure of class c -> c not in retry_on, or the last attempt: next element
                                      retry budget empty: next element (budget-denied)
                                      else wait the backoff and try again
        chain exhausted -> degraded answer (completes, not acceptable) or the last failure

    **Failure classes** come from the attempt's reason, the part after the last colon:
    ``llm:error`` (5xx) -> ``error``, ``llm:429``, ``llm:outage``, ``llm:queue_timeout``,
    ``queue_full``, ``too_long``, a pool's ``crash``/``preempted``, and ``timeout`` when
    the attempt outlived ``timeout_s`` (reason ``ELEMENT:timeout``).

    **Attempts run on a copy** of the request (:func:`attempt_copy`): a failed attempt
    leaves nothing behind (context a sub-path added, a route it took), and an abandoned
    one that finishes late cannot touch the real request. The copy carries every field
    of the request but its outcome (status, reason, end time); on success they are
    all copied back (first token, tokens, cached tokens, quality, route...).

    **Timeouts.** Without ``timeout_s`` an attempt is walked inline (``yield from``): no
    process, no extra event. With it, the attempt runs as its own process and the
    request waits for it at most ``timeout_s`` (one watchdog per component holds the
    deadlines rather than a timer per attempt: :mod:`sim.components.resilience.watchdog`);
    at the deadline the attempt is abandoned, not cancelled: it keeps running where it
    runs (see Billing).

    **Backoff and budget** (:mod:`~sim.components.resilience.policy`): before a retry
    the request sleeps a capped exponential backoff with jitter (one ``env.timeout``);
    each element has its own retry budget, and a retry the budget refuses is not made:
    the request moves to the next element. The budget keeps a failing provider from
    receiving ``max_attempts`` times its normal load (a retry storm).

Billing (what a failed or abandoned attempt costs)
    Hosted APIs do not bill errors (5xx), 429s, queue timeouts or calls during an
    outage. A timed-out API attempt **is billed in full** when the provider completes
    it: the provider generated every token even though the caller stopped waiting
    (``abandoned_billed_usd`` below counts these dollars). On a self-hosted pool an
    abandoned attempt keeps its batch slot until it completes (no cancellation is
    modelled) and the replicas bill by time as always. Backoff sleeps and a degraded
    answer cost nothing.

Reports
    :meth:`ResilientCall.resilience` (``summary.json`` ``resilience.NAME``, requests
    that arrived after the warm-up): requests, answered, degraded, failed, and per
    element attempts, retries, timeouts, failures by class, fallbacks into it,
    budget-denied retries, answers it gave and dollars billed for abandoned attempts.
    Counts add up: ``attempts = succeeded + sum(failures) + in_progress`` per element
    and ``requests = answered + degraded + failed + in_progress``.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import simpy

from sim import checks
from sim.components.request import Request, Status
from sim.components.resilience.policy import Backoff, RetryBudget
from sim.components.resilience.watchdog import Watchdog
from sim.engine.context import SimContext

FAILURE_CLASSES = (
    "error",
    "429",
    "timeout",
    "outage",
    "queue_timeout",
    "queue_full",
    "too_long",
    "crash",
    "preempted",
)
_IN_FLIGHT = Status.IN_FLIGHT


def failure_class(reason: str | None) -> str:
    """``"llm:429"`` -> ``"429"``; a reason without a colon is its own class."""
    return reason.rsplit(":", 1)[-1] if reason else "error"


# what an attempt copies: every field of the request but its outcome (so a field a
# stage adds to Request later is carried too); on success all of them are copied back
_OUTCOME = ("status", "reason", "done_at")
_FIELDS = tuple(f for f in Request.__slots__ if f not in _OUTCOME)


def attempt_copy(req: Request) -> Request:
    """A copy of ``req`` for one attempt: what stages read, none of its outcome."""
    a = Request.__new__(Request)
    for f in _FIELDS:
        setattr(a, f, getattr(req, f))
    a.status, a.reason, a.done_at = _IN_FLIGHT, None, math.nan
    return a


def _copy_back(a: Request, req: Request) -> None:
    """What a successful attempt set (tokens, first token, quality, route...), onto ``req``."""
    for f in _FIELDS:
        setattr(req, f, getattr(a, f))


class Element:
    """One element of a chain: the stage it walks and what happened to its attempts."""

    __slots__ = (
        "label",
        "stage",
        "budget",
        "attempts",
        "retries",
        "fallbacks",
        "budget_denied",
        "succeeded",
        "failures",
        "abandoned",
        "abandoned_billed_usd",
    )

    def __init__(self, label: str, stage: Any, budget: RetryBudget | None) -> None:
        self.label, self.stage, self.budget = label, stage, budget
        self.attempts = self.retries = self.fallbacks = self.budget_denied = 0
        self.succeeded = self.abandoned = 0
        self.failures: dict[str, int] = {}
        self.abandoned_billed_usd = 0.0

    def report(self, first: bool) -> dict[str, Any]:
        failed = sum(self.failures.values())
        return {
            "attempts": self.attempts,
            "retries": self.retries,
            "timeouts": self.failures.get("timeout", 0),
            "failures": dict(sorted(self.failures.items())),
            "fallbacks": None if first else self.fallbacks,  # requests that moved to it
            "budget_denied": self.budget_denied,
            "succeeded": self.succeeded,
            "in_progress": self.attempts - self.succeeded - failed,
            "abandoned": self.abandoned,
            "abandoned_billed_usd": self.abandoned_billed_usd,
        }


class ResilientCall:
    """A stage that tries a chain of model calls with timeouts, retries and fallback."""

    def __init__(
        self,
        name: str,
        ctx: SimContext,
        chain: list[tuple[str, Any]],
        *,
        timeout_s: float | None,
        max_attempts: int,
        backoff: Backoff,
        retry_on: tuple[str, ...],
        degraded: bool,
        budget: tuple[float, float, float] | None = None,
    ) -> None:
        if not chain:
            raise checks.ConfigError("chain=[] is empty: name the model calls to try, in order")
        self.name = name
        self._env: simpy.Environment = ctx.env
        self._warmup_s = ctx.warmup_s
        self.timeout_s = checks.positive("timeout_s", timeout_s, none_ok=True)
        self._watchdog = Watchdog(ctx.env, timeout_s) if timeout_s is not None else None
        self.max_attempts = checks.integer("max_attempts", max_attempts, 1)
        self.backoff = backoff
        for i, c in enumerate(retry_on):
            checks.choice(f"retry_on[{i}]", c, FAILURE_CLASSES)
        self.retry_on = frozenset(retry_on)
        self.degraded = bool(degraded)
        self.affects_quality = self.degraded  # a degraded answer is not acceptable
        self.chain = [Element(lb, st, RetryBudget(*budget) if budget else None) for lb, st in chain]
        self.requests = self.answered = self.n_degraded = self.failed = 0

    # -- the stage ---------------------------------------------------------------------
    def handle(self, req: Request) -> Generator[simpy.Event, Any, None]:
        """Try the chain; on success ``req`` carries the answer, else degrade or fail."""
        env = self._env
        counted = req.arrived_at >= self._warmup_s
        self.requests += counted
        status, reason = Status.FAILED, None
        for k, el in enumerate(self.chain):
            if k:
                el.fallbacks += counted
            n = 0
            while True:
                a = attempt_copy(req)
                if el.budget is not None and n == 0:
                    el.budget.deposit(env.now)
                el.attempts += counted
                el.retries += counted and n > 0
                if self.timeout_s is None:
                    yield from el.stage.handle(a)
                    timed_out = False
                else:
                    proc = env.process(el.stage.handle(a))
                    timed_out = yield from self._watchdog.wait(proc)  # type: ignore[union-attr]
                if not timed_out and a.status == _IN_FLIGHT:
                    _copy_back(a, req)
                    el.succeeded += counted
                    self.answered += counted
                    return
                if timed_out:
                    cls, status, reason = "timeout", Status.FAILED, f"{el.label}:timeout"
                    if counted:
                        el.abandoned += 1
                        proc.callbacks.append(lambda _e, a=a, el=el: self._late(a, el))
                else:
                    cls, status, reason = failure_class(a.reason), a.status, a.reason
                if counted:
                    el.failures[cls] = el.failures.get(cls, 0) + 1
                n += 1
                if n >= self.max_attempts or cls not in self.retry_on:
                    break
                if el.budget is not None and not el.budget.withdraw(env.now):
                    el.budget_denied += counted
                    break
                delay = self.backoff.delay_s(n - 1)
                if delay > 0.0:
                    yield env.timeout(delay)
        if self.degraded:  # e.g. "the assistant is unavailable": an answer, not a good one
            req.ok = False
            req.degraded = True  # a response cache does not keep it
            if math.isnan(req.first_token_at):
                req.first_token_at = env.now
            self.n_degraded += counted
        else:
            req.status, req.reason = status, reason
            self.failed += counted

    def _late(self, a: Request, el: Element) -> None:
        """An abandoned attempt ended: a provider that completed it billed it."""
        cost = getattr(el.stage, "cost_usd", None)
        if a.status == Status.IN_FLIGHT and cost is not None and self._env.now >= self._warmup_s:
            el.abandoned_billed_usd += cost(
                a.prompt_tokens, a.output_tokens, a.cached_prompt_tokens
            )

    # -- reports -----------------------------------------------------------------------
    def resilience(self) -> dict[str, Any]:
        """Attempts, retries, timeouts, failures and fallbacks (``summary.json``)."""
        chain = {el.label: el.report(i == 0) for i, el in enumerate(self.chain)}
        total = {
            key: sum(c[key] for c in chain.values())
            for key in ("attempts", "retries", "timeouts", "budget_denied", "abandoned")
        }
        return {
            "kind": "resilience",
            "requests": self.requests,
            "answered": self.answered,
            "degraded": self.n_degraded,
            "failed": self.failed,
            "in_progress": self.requests - self.answered - self.n_degraded - self.failed,
            **total,
            "fallbacks": sum(el.fallbacks for el in self.chain[1:]),
            "abandoned_billed_usd": sum(el.abandoned_billed_usd for el in self.chain),
            "chain": chain,
        }

    def __repr__(self) -> str:
        return f"ResilientCall({self.name!r}, chain={[el.label for el in self.chain]})"
