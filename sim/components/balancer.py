"""The ``balancers`` kind: spread requests over several targets (pools, APIs, regions).

Mechanism
    A balancer holds ``targets``: named sub-paths (``{eu: [gpu_eu], us: [gpu_us]}``,
    ``{gpu: [gpu], api: [api]}``). Each request is sent to exactly one target, whose
    sub-path it then walks; the other targets cost it nothing. The balancer counts its
    own **outstanding** requests per target — sent and not yet back — the way a proxy
    sees its upstreams (Envoy's least-request balancer compares "active requests",
    HAProxy's ``leastconn`` the connections it holds open), so it needs nothing from the
    targets themselves. A request is outstanding from the moment it is sent until its
    sub-path returns, whether it completed, failed or was dropped there.

Policies (the choice is O(1), or O(targets) for a handful of targets)
    ``round_robin``
        Targets in turn. With ``weights`` it is the *smooth* weighted round robin of
        nginx (weights 3:1 give a, a, b, a, a, a, b, a...): over any ``sum(weights)``
        consecutive requests each target gets exactly its weight.
    ``weighted``
        An independent random draw per request with probabilities ``weights / sum``.
    ``least_outstanding``
        The target with the fewest outstanding requests (join the shortest queue, as
        seen by the balancer); ties go round robin, as in HAProxy's ``leastconn``.
    ``power_of_two``
        Two targets drawn uniformly at random (with replacement, as in Mitzenmacher's
        "power of two choices" and Envoy's default ``choice_count: 2``); the one with
        fewer outstanding requests wins, the first drawn on a tie. Nearly as good as
        ``least_outstanding`` and, in a real fleet, needs no global scan.
    ``overflow``
        Targets in order: a request goes to the first target with fewer than
        ``overflow_at`` outstanding requests; the last target takes everything else
        (HAProxy's ``balance first`` with a ``maxconn``, or a fixed GPU fleet that
        spills its peaks to a hosted API). A request sent to target *k* found every
        target before it full: it **overflowed** each of them.

    ``weights`` (default 1 per target, as nginx and HAProxy) serve ``round_robin`` and
    ``weighted`` only; a weight of 0 sends that target nothing.

Time
    ``latency_s`` (the balancer's own hop) plus ``target_latency_s[target]`` (e.g. a
    cross-region round trip) is added once per request, as a single ``env.timeout``,
    after the choice and before the target's sub-path; with both 0 the balancer adds no
    event at all. The request counts as outstanding at its target during that time.

Accounting
    ``usd_per_hour`` (0 by default) bills a provisioned balancer — a managed load
    balancer's hourly fee — every second to layer ``infrastructure``; what the targets
    charge, they charge themselves.

Statistics (requests that arrived after the warm-up), in :meth:`Balancer.report`: per
target the requests sent and the share, the peak outstanding count a request found on
arrival, the time-weighted mean outstanding count over the measured window (an
accumulator of outstanding x time, updated on each change), and for ``overflow`` the
requests that overflowed it.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Generator
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

POLICIES = ("round_robin", "weighted", "least_outstanding", "power_of_two", "overflow")
WEIGHTED = ("round_robin", "weighted")  # the policies that read weights
LAYER = "infrastructure"


class Balancer:
    """Sends each request to one of its targets by ``policy`` (see module)."""

    def __init__(
        self,
        name: str,
        ctx: SimContext,
        *,
        targets: dict[str, SubPath],
        policy: str = "round_robin",
        weights: dict[str, float] | None = None,
        overflow_at: int = 64,
        latency_s: float = 0.0,
        target_latency_s: dict[str, float] | None = None,
        usd_per_hour: float = 0.0,
        rng: Any = None,
    ) -> None:
        self.name = name
        self._env: simpy.Environment = ctx.env
        self._ledger = ctx.ledger
        self._warmup_s = ctx.warmup_s
        if not targets:
            checks.fail("targets", {}, "is empty: name at least one target")
        self.names = list(targets)
        self.paths = [targets[n] for n in self.names]
        k = len(self.names)
        self.policy = checks.choice("policy", policy, POLICIES)
        weights = dict(weights or {})
        for t, w in weights.items():
            checks.choice(f"weights.{t}", t, self.names)
            checks.non_negative(f"weights.{t}", w)
        self.weights = [float(weights.get(n, 1.0)) for n in self.names]
        if self.policy in WEIGHTED and not sum(self.weights) > 0:
            checks.fail("weights", weights, "are all 0: at least one target needs a weight > 0")
        self.overflow_at = checks.integer("overflow_at", overflow_at, 0)
        self.latency_s = checks.non_negative("latency_s", latency_s)
        extra = dict(target_latency_s or {})
        for t, s in extra.items():
            checks.choice(f"target_latency_s.{t}", t, self.names)
            checks.non_negative(f"target_latency_s.{t}", s)
        self._delay = [self.latency_s + float(extra.get(n, 0.0)) for n in self.names]
        self.usd_per_hour = checks.non_negative("usd_per_hour", usd_per_hour)
        if self.usd_per_hour > 0:
            ctx.ledger.series(LAYER, name)
        # the balancer's view of each target, and the statistics
        self.outstanding = [0] * k
        self.sent = [0] * k
        self.peak = [0] * k
        self._area = [0.0] * k  # outstanding x seconds since the warm-up
        self._last = [0.0] * k  # time of the last change of outstanding[i]
        self._gauge = (ctx.warmup_s, [0.0] * k, [0] * k)  # time, areas, sent at the last gauge
        self._next = 0  # round robin position (and least_outstanding's tie breaker)
        self._current = [0.0] * k  # smooth weighted round robin state
        self._choose: Callable[[], int] = getattr(self, f"_{self.policy}")
        if self.policy in ("weighted", "power_of_two"):
            g = checks.rng("rng", rng)
            if self.policy == "weighted":
                self._cum = [sum(self.weights[: i + 1]) for i in range(k)]
                self._u = BlockDraws(g.random)
            else:
                self._pick = BlockDraws(lambda n: g.integers(0, k, n))
        self._plain_rr = len(set(self.weights)) == 1

    # -- policies --------------------------------------------------------------------
    def _round_robin(self) -> int:
        if self._plain_rr:
            i = self._next
            self._next = (i + 1) % len(self.names)
            return i
        cur, w = self._current, self.weights  # nginx's smooth weighted round robin
        best = 0
        for i in range(len(cur)):
            cur[i] += w[i]
            if cur[i] > cur[best]:
                best = i
        cur[best] -= sum(w)
        return best

    def _weighted(self) -> int:
        return bisect.bisect_right(self._cum, self._u.next() * self._cum[-1])

    def _least_outstanding(self) -> int:
        out, k = self.outstanding, len(self.names)
        start = self._next
        self._next = (start + 1) % k
        best, low = start, out[start]
        for step in range(1, k):
            i = (start + step) % k
            if out[i] < low:
                best, low = i, out[i]
        return best

    def _power_of_two(self) -> int:
        a, b = int(self._pick.next()), int(self._pick.next())
        return b if self.outstanding[b] < self.outstanding[a] else a

    def _overflow(self) -> int:
        out, cap = self.outstanding, self.overflow_at
        last = len(out) - 1
        for i in range(last):
            if out[i] < cap:
                return i
        return last

    # -- the request -----------------------------------------------------------------
    def _change(self, i: int, delta: int) -> None:
        """Add ``delta`` to target ``i``'s outstanding count, integrating it over time."""
        now = self._env.now
        warm = self._warmup_s
        if now > warm:
            t0 = self._last[i]
            self._area[i] += self.outstanding[i] * (now - (t0 if t0 > warm else warm))
        self._last[i] = now
        self.outstanding[i] += delta

    def handle(self, req: Request) -> Generator[simpy.Event, Any, None]:
        """Choose a target, wait the hop (if any), walk the target's sub-path."""
        i = self._choose()
        self._change(i, 1)
        if req.arrived_at >= self._warmup_s:
            self.sent[i] += 1
            if self.outstanding[i] > self.peak[i]:
                self.peak[i] = self.outstanding[i]
        try:
            delay = self._delay[i]
            if delay > 0.0:
                yield self._env.timeout(delay)
            yield from self.paths[i].handle(req)
        finally:  # also when the request is interrupted (a timeout around the balancer)
            self._change(i, -1)

    # -- billing, gauges, report -----------------------------------------------------
    def _area_now(self, i: int) -> float:
        now, warm = self._env.now, self._warmup_s
        if now <= warm:
            return 0.0
        t0 = self._last[i]
        return self._area[i] + self.outstanding[i] * (now - (t0 if t0 > warm else warm))

    def bill(self, start_s: float, end_s: float) -> None:
        """The balancer's hourly fee for ``[start_s, end_s)`` (nothing when it is 0)."""
        if self.usd_per_hour > 0:
            usd = self.usd_per_hour * (end_s - start_s) / 3600.0
            self._ledger.charge(start_s, LAYER, self.name, usd)

    def gauges(self) -> dict[str, float]:
        """Per target, since the previous call: share of the requests sent, mean outstanding."""
        now = self._env.now
        t0, areas0, sent0 = self._gauge
        areas = [self._area_now(i) for i in range(len(self.names))]
        sent = list(self.sent)
        self._gauge = (now, areas, sent)
        n = sum(sent) - sum(sent0)
        dt = now - t0
        out: dict[str, float] = {}
        for i, t in enumerate(self.names):
            out[f"{t}_share"] = (sent[i] - sent0[i]) / n if n else math.nan
            out[f"{t}_outstanding_mean"] = (areas[i] - areas0[i]) / dt if dt > 0 else math.nan
        return out

    def report(self) -> dict[str, Any]:
        """What ``summary.json`` shows of this balancer."""
        total = sum(self.sent)
        measured = self._env.now - self._warmup_s
        spill = self.policy == "overflow"
        last = len(self.names) - 1
        targets = {}
        for i, t in enumerate(self.names):
            targets[t] = {
                "requests": self.sent[i],
                "share": self.sent[i] / total if total else None,
                "peak_outstanding": self.peak[i],
                "mean_outstanding": self._area_now(i) / measured if measured > 0 else None,
                # requests that found this target full and went on to a later one
                "overflowed": sum(self.sent[i + 1 :]) if spill and i < last else None,
                "latency_s": self._delay[i],
            }
        return {
            "kind": "balancer",
            "policy": self.policy,
            "overflow_at": self.overflow_at if spill else None,
            "overflowed": total - self.sent[0] if spill else None,
            "overflowed_share": (total - self.sent[0]) / total if spill and total else None,
            "targets": targets,
        }

    def __repr__(self) -> str:
        return f"Balancer({self.name!r}, {self.policy}, targets={self.names})"


@dataclass
class BalancerConfig:
    """Load balancing across targets (pools, APIs, regions): see sim/components/balancer.py."""

    # round robin is the default of Envoy (cluster lb_policy ROUND_ROBIN), HAProxy
    # (balance roundrobin) and nginx (upstream without a method)
    policy: str = knob("round_robin", choices=POLICIES)
    targets: dict[str, list[str]] = field(default_factory=dict)  # target -> its sub-path
    # round_robin and weighted only; a target not named weighs 1 (nginx's and HAProxy's
    # default weight)
    weights: dict[str, float] = knob(factory=dict, ge=0)
    # overflow only. Assumption: 64 is one replica's batch in the scenarios here
    # (pools.*.max_batch_size); set it to what the first target serves well.
    overflow_at: int = knob(64, ge=0, integer=True)
    # Assumption: the balancer sits beside the caller (a sidecar, a gateway in the same
    # zone): its hop is negligible against a model call. A cross-region hop is
    # target_latency_s, e.g. ~0.08 s for us-east-1 <-> eu-west-1 (average inter-region
    # round trip, cloudping.co data as tabulated in 2017).
    latency_s: float = knob(0.0, ge=0)
    target_latency_s: dict[str, float] = knob(factory=dict, ge=0)  # target -> seconds
    # Assumption: client-side balancing costs nothing of its own. A managed one, e.g. an
    # AWS Application Load Balancer, lists $0.0225 per hour plus $0.008 per LCU-hour
    # (us-east-1, aws.amazon.com/elasticloadbalancing/pricing, as quoted 2026-05).
    usd_per_hour: float = knob(0.0, ge=0)


@register("balancers", BalancerConfig)
def build_balancer(b: Any, name: str, c: Any) -> Balancer:
    """Load balancing across targets: round robin, weighted, least outstanding, P2C, overflow."""
    key = f"balancers.{name}"
    if not c.targets:
        checks.fail(
            f"{key}.targets",
            {},
            "is empty: name at least one target, e.g. {gpu: [gpu], api: [api]}",
        )
    names = list(c.targets)
    for field_name in ("weights", "target_latency_s"):
        for t in c[field_name]:
            if t not in c.targets:
                checks.fail(
                    f"{key}.{field_name}.{t}",
                    c[field_name][t],
                    f"names no target of {key}.targets{checks.did_you_mean(t, names)}; "
                    f"targets: {', '.join(names)}",
                )
    if c.policy in WEIGHTED and c.weights and not sum(c.weights.get(t, 1.0) for t in names) > 0:
        checks.fail(f"{key}.weights", dict(c.weights), "are all 0: give a target a weight > 0")
    targets = {t: b.path(path, f"{key}.targets.{t}") for t, path in c.targets.items()}
    for t, p in targets.items():
        if not len(p):
            checks.fail(f"{key}.targets.{t}", [], "is empty: list the components of this target")
    return Balancer(
        name,
        b.ctx,
        targets=targets,
        policy=c.policy,
        weights=dict(c.weights),
        overflow_at=int(c.overflow_at),
        latency_s=c.latency_s,
        target_latency_s=dict(c.target_latency_s),
        usd_per_hour=c.usd_per_hour,
        rng=b.ctx.rng.stream(f"balancers.{name}.choice"),
    )
