"""The ``resilience`` kind: per-attempt timeouts, retries with backoff and a budget, fallback.

``resilience.NAME`` declares a chain of model calls (APIs, pools, or sub-paths of
several) tried in order, with timeouts, retries and a retry budget per element and a
degraded answer when all fail; the path names ``NAME`` where it named the model call.

* :mod:`~sim.components.resilience.call`: the mechanism, what is billed, the reports;
* :mod:`~sim.components.resilience.policy`: backoff with jitter, the retry budget;
* :mod:`~sim.components.resilience.watchdog`: per-attempt timeouts, one timer at a time;
* :mod:`~sim.components.resilience.lines`: the terminal lines of the summary's block.

Outages that make calls fail are the providers' (:mod:`sim.components.outages`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sim import checks
from sim.checks import knob
from sim.components.kinds import register
from sim.components.resilience.call import (
    FAILURE_CLASSES,
    ResilientCall,
    attempt_copy,
    failure_class,
)
from sim.components.resilience.lines import resilience_lines
from sim.components.resilience.policy import JITTERS, Backoff, RetryBudget

__all__ = [
    "FAILURE_CLASSES",
    "Backoff",
    "ResilienceConfig",
    "ResilientCall",
    "RetryBudget",
    "attempt_copy",
    "build_resilience",
    "failure_class",
    "resilience_lines",
]


@dataclass
class ResilienceConfig:
    """Timeouts, retries and a fallback chain around model calls (``resilience.NAME``)."""

    # component names tried in order; an element may be a list (a sub-path)
    chain: list[Any] = field(default_factory=list)
    # Per attempt; null: wait as long as it takes. (The OpenAI and Anthropic Python
    # clients default to 600 s, github.com/openai/openai-python README, 2024.)
    timeout_s: float | None = knob(None, gt=0, none_ok=True)
    # Per chain element, the first try included. openai-python retries 2 times by default
    # (3 attempts), starting at 0.5 s and capped at 8 s (INITIAL_RETRY_DELAY,
    # MAX_RETRY_DELAY in openai/_constants.py, 2024).
    max_attempts: int = knob(3, ge=1, le=100, integer=True)
    backoff_base_s: float = knob(0.5, ge=0)
    backoff_max_s: float = knob(8.0, ge=0)
    # full: uniform in [0, cap] (AWS Architecture Blog, "Exponential Backoff And Jitter",
    # 2015: it spreads retries best); none: exactly the cap
    jitter: str = knob("full", choices=JITTERS)
    # Finagle's default RetryBudget: 20 % of requests on top of 10 retries/s, deposits
    # expiring after 10 s (finagle.github.io/blog/2016/02/08/retry-budgets); Envoy's
    # retry_budget also defaults to 20 %. null: no budget.
    retry_budget: float | None = knob(0.2, ge=0, none_ok=True)
    budget_window_s: float = knob(10.0, gt=0)
    min_retries_per_s: float = knob(10.0, ge=0)
    # failure classes retried on the same element; others move to the next one at once
    # (openai-python retries connection errors, timeouts, 408/409/429 and 5xx)
    retry_on: list[str] = field(default_factory=lambda: ["error", "timeout", "outage", "429"])
    # after the last element failed: complete with a degraded answer (not acceptable,
    # free), or fail with the last failure's reason
    degraded: bool = False


@register("resilience", ResilienceConfig)
def build_resilience(b: Any, name: str, c: Any) -> ResilientCall:
    """Timeouts, retries with backoff and a budget, a fallback chain around model calls."""
    key = f"resilience.{name}"
    if not c.chain:
        checks.fail(f"{key}.chain", [], "is empty: list the model calls to try, e.g. [llm, backup]")
    chain: list[tuple[str, Any]] = []
    for i, el in enumerate(c.chain):
        k = f"{key}.chain[{i}]"
        if isinstance(el, str):
            label, stage = el, b.component(el, k)
        else:
            names = list(el)
            if not names or not all(isinstance(n, str) for n in names):
                checks.fail(k, names, "must be a component name or a non-empty list of names")
            label = "+".join(names)
            sub = b.path(names, k)
            stage = sub.stages[0] if len(sub) == 1 else sub
        if label in (lb for lb, _ in chain):
            checks.fail(k, el, f"is already in {key}.chain: each element once")
        chain.append((label, stage))
    for i, cls in enumerate(c.retry_on):
        checks.choice(f"{key}.retry_on[{i}]", str(cls), FAILURE_CLASSES)
    rng = b.ctx.rng.stream(f"{key}.jitter")
    budget = (
        None if c.retry_budget is None else (c.retry_budget, c.budget_window_s, c.min_retries_per_s)
    )
    return ResilientCall(
        name,
        b.ctx,
        chain,
        timeout_s=c.timeout_s,
        max_attempts=int(c.max_attempts),
        backoff=Backoff(c.backoff_base_s, c.backoff_max_s, c.jitter, rng),
        retry_on=tuple(str(x) for x in c.retry_on),
        degraded=bool(c.degraded),
        budget=budget,
    )
