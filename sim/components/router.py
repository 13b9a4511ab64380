"""The ``routers`` kind: route each request by its predicted difficulty to one sub-path.

Mechanism
    Each request carries a difficulty in [0, 1] (:mod:`sim.workload.difficulty`). A
    classifier predicts it with an error — ``predicted = difficulty + N(0, noise)`` —
    in ``latency_s`` for ``usd_per_request`` (charged to ``inference``: it is a model
    call). ``routes`` are listed from the easiest to the hardest (rules on a CPU, a small
    model, a large model...) and ``thresholds`` split [0, 1] between them: a request goes
    to the first route whose upper threshold exceeds its *predicted* difficulty. Where
    the prediction and the true difficulty fall in different routes the request is
    **misrouted**: sent to an easier route than it needs (*under*, a risk to quality) or
    a harder one (*over*, money spent for nothing). With ``policy: off`` every request
    takes ``default`` and nothing is predicted or charged.

    With ``signal: prompt_tokens`` the router is a rule on the prompt's length instead
    (short contexts to a small model): ``thresholds`` are token counts, nothing is
    predicted, and misroutes are not counted (the price in quality shows per route,
    from each model's ``skill`` against the request's difficulty).

    Only the route a request takes is walked; the others cost it nothing.

Statistics (requests that arrived after the warm-up), in :meth:`Router.report`: per
route the requests sent and the share, and the under- and over-routed counts.
"""

from __future__ import annotations

import bisect
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import simpy

from sim import checks
from sim.checks import knob
from sim.components.kinds import register
from sim.components.request import Request
from sim.components.stage import SubPath
from sim.engine.context import SimContext
from sim.kernels.blocks import BlockDraws

POLICIES = ("off", "by_complexity")
SIGNALS = ("difficulty", "prompt_tokens")
LAYER = "inference"


class Router:
    """Sends each request down one of its routes by predicted difficulty (see module)."""

    def __init__(
        self,
        name: str,
        ctx: SimContext,
        *,
        routes: dict[str, SubPath],
        thresholds: list[float],
        policy: str,
        default: str,
        noise: float,
        latency_s: float,
        usd_per_request: float,
        rng: Any,
        signal: str = "difficulty",
    ) -> None:
        self.name = name
        self.signal = checks.choice("signal", signal, SIGNALS)
        self._by_tokens = signal == "prompt_tokens"
        self.needs = () if self._by_tokens else ("difficulty",)
        self._env: simpy.Environment = ctx.env
        self._ledger = ctx.ledger
        self._warmup_s = ctx.warmup_s
        if len(routes) < 1 or len(thresholds) != len(routes) - 1:
            checks.both(
                "routes", list(routes), "thresholds", thresholds, "need one between each two routes"
            )
        self.names = list(routes)
        self.paths = [routes[n] for n in self.names]
        self.thresholds = [float(t) for t in thresholds]
        self.policy = checks.choice("policy", policy, POLICIES)
        self.default = self.names.index(checks.choice("default", default, self.names))
        self.noise = checks.non_negative("noise", noise)
        self.latency_s = checks.non_negative("latency_s", latency_s)
        self.usd_per_request = checks.non_negative("usd_per_request", usd_per_request)
        self._eps = BlockDraws(checks.rng("rng", rng).standard_normal)
        self.sent = [0] * len(self.names)
        self.under = 0
        self.over = 0
        if self.policy != "off" and self.usd_per_request > 0:
            ctx.ledger.series(LAYER, name)

    def route_of(self, difficulty: float) -> int:
        """Index of the route for a (true or predicted) difficulty."""
        return bisect.bisect_right(self.thresholds, difficulty)

    def handle(self, req: Request) -> Generator[simpy.Event, Any, None]:
        """Classify (unless off), then walk the chosen route."""
        if self.policy == "off":
            r = self.default
        else:
            if self.latency_s > 0.0:
                yield self._env.timeout(self.latency_s)
            if self.usd_per_request > 0.0:
                self._ledger.charge(self._env.now, LAYER, self.name, self.usd_per_request)
            if self._by_tokens:
                r = self.route_of(req.prompt_tokens)
            else:
                r = self.route_of(req.difficulty + self.noise * self._eps.next())
        if req.arrived_at >= self._warmup_s:
            self.sent[r] += 1
            if not self._by_tokens:
                need = self.route_of(req.difficulty)
                self.under += r < need
                self.over += r > need
        req.route = self.names[r]
        yield from self.paths[r].handle(req)

    def report(self) -> dict[str, Any]:
        """What ``summary.json`` shows of this router."""
        total = sum(self.sent)
        misroutes = not self._by_tokens  # a rule on length has no "right" route to miss
        return {
            "kind": "router",
            "policy": self.policy,
            "signal": self.signal,
            "routes": {
                n: {"requests": k, "share": k / total if total else None}
                for n, k in zip(self.names, self.sent)
            },
            "under_routed": self.under if misroutes else None,
            "over_routed": self.over if misroutes else None,
            "misrouted_share": (self.under + self.over) / total if total and misroutes else None,
        }


@dataclass
class RouterConfig:
    """Routing by complexity: routes from easiest to hardest, thresholds between them."""

    policy: str = knob("by_complexity", choices=POLICIES)  # what levers.routing switches
    routes: dict[str, list[str]] = field(default_factory=dict)  # route -> its sub-path
    # what routes are chosen by: the predicted difficulty, or the prompt's length (a rule)
    signal: str = knob("difficulty", choices=SIGNALS)
    # len(routes) - 1, increasing: difficulties in (0, 1), or prompt token counts
    thresholds: list[float] = knob(factory=list, gt=0)
    default: str = ""  # the route of every request when policy is off (default: the last)
    # Assumption: a small classifier (e.g. an embedding + logistic regression) predicts
    # difficulty with a standard error of 0.1, in 20 ms, for a negligible price.
    noise: float = knob(0.1, ge=0, le=10)
    latency_s: float = knob(0.02, ge=0)
    usd_per_request: float = knob(0.0, ge=0)


@register("routers", RouterConfig)
def build_router(b: Any, name: str, c: Any) -> Router:
    """A router by predicted difficulty; only the route a request takes is walked."""
    key = f"routers.{name}"
    if not c.routes:
        checks.fail(f"{key}.routes", {}, "is empty: name at least one route, e.g. {small: [mini]}")
    if len(c.thresholds) != len(c.routes) - 1:
        checks.both(
            f"{key}.routes",
            list(c.routes),
            f"{key}.thresholds",
            list(c.thresholds),
            f"need {len(c.routes) - 1} threshold(s), one between each two routes",
        )
    if list(c.thresholds) != sorted(c.thresholds):
        checks.fail(f"{key}.thresholds", list(c.thresholds), "must increase")
    if c.signal == "difficulty" and any(t >= 1 for t in c.thresholds):
        checks.fail(
            f"{key}.thresholds",
            list(c.thresholds),
            f"must be difficulties between 0 and 1 with {key}.signal=difficulty "
            f"(prompt token counts need {key}.signal=prompt_tokens)",
        )
    default = c.default or list(c.routes)[-1]
    checks.choice(f"{key}.default", default, list(c.routes))
    routes = {r: b.path(names, f"{key}.routes.{r}") for r, names in c.routes.items()}
    for r, p in routes.items():
        if not len(p):
            checks.fail(f"{key}.routes.{r}", [], "is empty: list the components of this route")
    return Router(
        name,
        b.ctx,
        routes=routes,
        thresholds=list(c.thresholds),
        policy=c.policy,
        default=default,
        noise=c.noise,
        latency_s=c.latency_s,
        usd_per_request=c.usd_per_request,
        rng=b.ctx.rng.stream(f"routers.{name}"),
        signal=c.signal,
    )
