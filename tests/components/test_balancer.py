"""Load balancing across targets: shares follow the weights, join-the-shortest-queue beats
random splitting as queueing theory says, overflow spills exactly the excess, and a whole
run conserves requests and dollars."""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import numpy as np
import pytest
import simpy
from omegaconf import open_dict

from sim.build import build
from sim.checks import ConfigError
from sim.components.balancer import Balancer
from sim.components.pool import InferencePool
from sim.components.request import Request, Status
from sim.components.stage import SubPath
from sim.compose import compose
from sim.engine.context import SimContext
from sim.latency import ServiceTimeLatency
from sim.metrics.queueing import mm1_mean_response_s, mmc_mean_response_s
from sim.outputs import summary_json
from sim.run import run


class Hold:
    """A target that keeps each request ``hold_s`` seconds (no event when 0) and spies
    on the balancer's count of outstanding requests at the first target."""

    def __init__(self, name: str, env: simpy.Environment, hold_s: float = 0.0) -> None:
        self.name, self.env, self.hold_s = name, env, hold_s
        self.calls = 0
        self.balancer: Balancer | None = None
        self.first_outstanding: list[int] = []  # at each call: outstanding at target 0

    def handle(self, req: Request) -> Generator[simpy.Event, Any, None]:
        self.calls += 1
        if self.balancer is not None:
            self.first_outstanding.append(self.balancer.outstanding[0])
        if self.hold_s > 0:
            yield self.env.timeout(self.hold_s)


def _balancer(ctx: SimContext, targets: dict[str, Any], **kw: Any) -> Balancer:
    subs = {t: SubPath([stage]) for t, stage in targets.items()}
    kw.setdefault("rng", ctx.rng.stream("balancers.test.choice"))
    return Balancer("lb", ctx, targets=subs, **kw)


def _send(env: simpy.Environment, bal: Balancer, at_s: float, log: list[Request]) -> None:
    """One request through the balancer at ``at_s``; completed ones go to ``log``."""

    def proc() -> Generator[simpy.Event, Any, None]:
        if at_s > env.now:
            yield env.timeout(at_s - env.now)
        req = Request(len(log), env.now, 100, 10)
        yield from bal.handle(req)
        if req.in_flight:
            req.status = Status.COMPLETED
            req.done_at = env.now
        log.append(req)

    env.process(proc())


def _run_burst(bal: Balancer, ctx: SimContext, times: list[float], until: float) -> list[Request]:
    log: list[Request] = []
    for t in times:
        _send(ctx.env, bal, t, log)
    ctx.env.run(until=until)
    return log


# --- shares -----------------------------------------------------------------------------
def test_round_robin_shares_are_exact():
    ctx = SimContext(seed=0, horizon_s=1e6)
    stages = {t: Hold(t, ctx.env) for t in "abc"}
    bal = _balancer(ctx, stages)
    _run_burst(bal, ctx, [0.0] * 3000, until=1.0)
    assert [s.calls for s in stages.values()] == [1000, 1000, 1000]


def test_weighted_round_robin_gives_each_window_exactly_its_weights():
    ctx = SimContext(seed=0, horizon_s=1e6)
    stages = {t: Hold(t, ctx.env) for t in "abc"}
    bal = _balancer(ctx, stages, weights={"a": 3, "b": 1, "c": 0})
    picks = [bal._choose() for _ in range(400)]
    for k in range(0, 400, 4):  # every window of sum(weights) requests: 3 a, 1 b, no c
        window = picks[k : k + 4]
        assert window.count(0) == 3 and window.count(1) == 1
    # smooth: a target never gets its whole weight in one run while another waits
    assert picks[:4] != [0, 0, 0, 1]


@pytest.mark.parametrize("seed", range(4))
def test_weighted_shares_fall_in_a_binomial_band(seed):
    n, p = 20_000, 0.75
    ctx = SimContext(seed=seed, horizon_s=1e6)
    stages = {t: Hold(t, ctx.env) for t in "ab"}
    bal = _balancer(ctx, stages, policy="weighted", weights={"a": 3.0, "b": 1.0})
    _run_burst(bal, ctx, [0.0] * n, until=1.0)
    sd = math.sqrt(n * p * (1 - p))
    assert abs(stages["a"].calls - n * p) < 4 * sd  # ~ 1 in 16,000 to fail by chance
    assert stages["a"].calls + stages["b"].calls == n
    rep = bal.report()
    assert rep["targets"]["a"]["share"] == pytest.approx(stages["a"].calls / n)


def test_weighted_draws_depend_only_on_the_seed():
    def picks(seed: int) -> list[int]:
        ctx = SimContext(seed=seed, horizon_s=1e6)
        bal = _balancer(ctx, {t: Hold(t, ctx.env) for t in "ab"}, policy="weighted")
        return [bal._choose() for _ in range(200)]

    assert picks(3) == picks(3) and picks(3) != picks(4)


# --- queueing theory: random vs least outstanding vs power of two ------------------------
MU, LAM = 1.0, 1.6  # two M/M/1 servers at rho = 0.8 each


def _two_pools_mean_response_s(policy: str, seed: int, n: int = 30_000) -> float:
    ctx = SimContext(seed=seed, horizon_s=1e9)
    pools = {
        t: InferencePool(
            t,
            ctx,
            ServiceTimeLatency(1.0 / MU, rng=ctx.rng.stream(f"pools.{t}.latency")),
            replicas=1,
            max_batch_size=1,
            max_queue=10**9,
            usd_per_replica_hour=1.0,
        )
        for t in ("a", "b")
    }
    bal = _balancer(ctx, pools, policy=policy)
    env, gaps, log = ctx.env, ctx.rng.stream("test.arrivals"), []

    def arrivals() -> Generator[simpy.Event, Any, None]:
        for _ in range(n):
            yield env.timeout(gaps.exponential(1.0 / LAM))
            _send(env, bal, env.now, log)

    env.process(arrivals())
    env.run()
    assert len(log) == n and sum(p.served for p in pools.values()) == n
    assert bal.outstanding == [0, 0]
    skip = n // 10  # warm-up: the first 10 % of requests
    done = sorted(log, key=lambda r: r.arrived_at)[skip:]
    return float(np.mean([r.done_at - r.arrived_at for r in done]))


def test_random_splitting_matches_two_mm1_queues():
    """Poisson traffic split at random is Poisson: two M/M/1 queues at λ/2 each."""
    w = np.mean([_two_pools_mean_response_s("weighted", s) for s in range(4)])
    assert w == pytest.approx(mm1_mean_response_s(LAM / 2, MU), rel=0.10)  # 1/(μ − λ/2) = 5 s


def test_least_outstanding_and_power_of_two_wait_less_than_random():
    seeds = range(3)
    rand = np.mean([_two_pools_mean_response_s("weighted", s) for s in seeds])
    jsq = np.mean([_two_pools_mean_response_s("least_outstanding", s) for s in seeds])
    p2c = np.mean([_two_pools_mean_response_s("power_of_two", s) for s in seeds])
    pooled = mmc_mean_response_s(LAM, MU, 2)  # one queue for both: no balancer does better
    assert pooled * 0.95 < jsq < 0.75 * rand
    assert jsq < p2c < 0.9 * rand  # two draws name the same pool half the time


# --- overflow --------------------------------------------------------------------------
def test_overflow_sends_exactly_the_excess_and_integrates_outstanding():
    """6 requests at t=0 held 10 s, overflow_at=4: 4 stay, 2 spill. One more at t=5 (first
    target still full) spills; one at t=15 (all back) stays."""
    ctx = SimContext(seed=0, horizon_s=1e6)
    first, second = Hold("first", ctx.env, 10.0), Hold("second", ctx.env, 10.0)
    bal = _balancer(ctx, {"first": first, "second": second}, policy="overflow", overflow_at=4)
    second.balancer = bal
    log = _run_burst(bal, ctx, [0.0] * 6 + [5.0, 15.0], until=40.0)
    assert len(log) == 8
    assert (first.calls, second.calls) == (5, 3)
    assert all(n >= 4 for n in second.first_outstanding)  # spilled only while full
    rep = bal.report()
    assert rep["overflowed"] == 3 and rep["targets"]["first"]["overflowed"] == 3
    assert rep["targets"]["first"]["peak_outstanding"] == 4
    assert rep["targets"]["second"]["peak_outstanding"] == 3
    # time-weighted: first holds 4 for [0, 10) and 1 for [15, 25); second 2, 3, 1 requests
    assert rep["targets"]["first"]["mean_outstanding"] == pytest.approx((4 * 10 + 10) / 40)
    assert rep["targets"]["second"]["mean_outstanding"] == pytest.approx((2 * 10 + 10) / 40)


def test_overflow_chains_through_three_targets_and_zero_sends_all_to_the_last():
    ctx = SimContext(seed=0, horizon_s=1e6)
    stages = {t: Hold(t, ctx.env, 10.0) for t in "abc"}
    bal = _balancer(ctx, stages, policy="overflow", overflow_at=3)
    _run_burst(bal, ctx, [0.0] * 10, until=20.0)
    assert [s.calls for s in stages.values()] == [3, 3, 4]  # the last takes everything else
    rep = bal.report()["targets"]
    assert (rep["a"]["overflowed"], rep["b"]["overflowed"], rep["c"]["overflowed"]) == (7, 4, None)
    ctx = SimContext(seed=0, horizon_s=1e6)
    stages = {t: Hold(t, ctx.env, 1.0) for t in "ab"}
    bal = _balancer(ctx, stages, policy="overflow", overflow_at=0)
    _run_burst(bal, ctx, [0.0, 2.0, 4.0], until=10.0)
    assert (stages["a"].calls, stages["b"].calls) == (0, 3)


def test_least_outstanding_follows_the_counts_and_breaks_ties_in_turn():
    ctx = SimContext(seed=0, horizon_s=1e6)
    slow, fast = Hold("slow", ctx.env, 100.0), Hold("fast", ctx.env, 0.0)
    bal = _balancer(ctx, {"slow": slow, "fast": fast}, policy="least_outstanding")
    _run_burst(bal, ctx, [float(t) for t in range(20)], until=50.0)
    # slow keeps its one request; every later one finds fast with 0 outstanding
    assert (slow.calls, fast.calls) == (1, 19)
    ctx = SimContext(seed=0, horizon_s=1e6)
    stages = {t: Hold(t, ctx.env) for t in "abc"}
    bal = _balancer(ctx, stages, policy="least_outstanding")
    _run_burst(bal, ctx, [0.0] * 300, until=1.0)
    assert [s.calls for s in stages.values()] == [100, 100, 100]


# --- time ------------------------------------------------------------------------------
def test_hops_add_one_timeout_and_none_when_zero():
    ctx = SimContext(seed=0, horizon_s=1e6)
    stages = {t: Hold(t, ctx.env) for t in ("eu", "us")}
    bal = _balancer(ctx, stages, latency_s=0.002, target_latency_s={"us": 0.08})
    log = _run_burst(bal, ctx, [0.0, 1.0], until=5.0)
    lat = {r.id: r.done_at - r.arrived_at for r in log}
    assert sorted(lat.values()) == pytest.approx([0.002, 0.082])
    assert bal.report()["targets"]["us"]["latency_s"] == pytest.approx(0.082)
    ctx = SimContext(seed=0, horizon_s=1e6)
    bal = _balancer(ctx, {t: Hold(t, ctx.env) for t in ("a", "b")})
    assert list(bal.handle(Request(0, 0.0, 10, 1))) == []  # no event at all
    assert bal.outstanding == [0, 0]


def test_an_interrupted_request_is_no_longer_outstanding():
    ctx = SimContext(seed=0, horizon_s=1e6)
    env = ctx.env
    bal = _balancer(ctx, {"only": Hold("only", env, 10.0)})

    def request() -> Generator[simpy.Event, Any, None]:
        try:
            yield from bal.handle(Request(0, 0.0, 10, 1))
        except simpy.Interrupt:
            pass

    def cancel(proc: simpy.Process) -> Generator[simpy.Event, Any, None]:
        yield env.timeout(1.0)
        assert bal.outstanding == [1]
        proc.interrupt()

    env.process(cancel(env.process(request())))
    env.run(until=2.0)
    assert bal.outstanding == [0]
    assert bal.report()["targets"]["only"]["mean_outstanding"] == pytest.approx(1.0 / 2.0)


# --- a whole run -----------------------------------------------------------------------
SPILL = [
    "path=[spill]",
    "pools.gpu.replicas=1",
    "horizon_s=3600",
    "workload.clock_start_h=10",  # Monday 10:00: the working-hours peak
    "progress=false",
    "plots=false",
]


@pytest.fixture(scope="module")
def spill_run():
    return run(compose("copilot_like", [*SPILL, "balancers.spill.usd_per_hour=0.0225"]))


def test_a_spilling_run_conserves_requests_and_dollars(spill_run):
    s = spill_run.summary
    req = s["requests"]
    assert req["arrived"] == req["completed"] + req["failed"] + req["dropped"] + req["in_flight"]
    rep = s["components"]["spill"]
    sent = {t: v["requests"] for t, v in rep["targets"].items()}
    assert sum(sent.values()) == req["arrived"]  # every request passed the balancer once
    assert sent["api"] == rep["overflowed"] > 0 and sent["gpu"] > 0
    # the gpu pool fills up to overflow_at at the peak, and never beyond
    assert rep["targets"]["gpu"]["peak_outstanding"] == rep["overflow_at"] > 0
    cost = s["cost_usd"]
    assert math.isclose(cost["total"], sum(cost["by_layer"].values()), rel_tol=1e-12)
    comps = cost["by_component"]
    assert math.isclose(
        cost["total"], sum(v for c in comps.values() for v in c.values()), rel_tol=1e-12
    )
    assert comps["api"]["inference"] > 0  # the spilled requests are bought per token
    assert comps["spill"] == pytest.approx({"infrastructure": 0.0225})  # one hour of the fee


def test_same_seed_same_summary(spill_run):
    again = run(compose("copilot_like", [*SPILL, "balancers.spill.usd_per_hour=0.0225"]))
    assert summary_json(again.summary) == summary_json(spill_run.summary)


def test_the_timeseries_shows_where_requests_went(spill_run):
    ts = spill_run.timeseries
    shares = [
        a + b for a, b in zip(ts["spill.gpu_share"], ts["spill.api_share"]) if not math.isnan(a)
    ]
    assert shares and all(x == pytest.approx(1.0) for x in shares)


# --- bad config ------------------------------------------------------------------------
def _spill_cfg(**balancer: Any) -> Any:
    cfg = compose("copilot_like", SPILL)
    with open_dict(cfg):
        for k, v in balancer.items():
            cfg.balancers.spill[k] = v
    return cfg


@pytest.mark.parametrize(
    ("balancer", "needle"),
    [
        (
            {"targets": {"gpu": ["gpux"], "api": ["api"]}},
            r"^balancers.spill.targets.gpu\[0\]='gpux' names no component; did you mean 'gpu'",
        ),
        (
            {"weights": {"gpu": 3, "apii": 1}},
            r"^balancers.spill.weights.apii=1.0 names no target of balancers.spill.targets",
        ),
        (
            {"target_latency_s": {"eu": 0.08}},
            r"^balancers.spill.target_latency_s.eu=0.08 names no target",
        ),
        ({"overflow_at": -1}, r"^balancers.spill.overflow_at=-1 must be an integer >= 0"),
        ({"policy": "fastest"}, r"^balancers.spill.policy='fastest' is not allowed"),
        ({"targets": {}}, r"^balancers.spill.targets=\{\} is empty"),
        ({"targets": {"gpu": [], "api": ["api"]}}, r"^balancers.spill.targets.gpu=\[\] is empty"),
        (
            {"policy": "weighted", "weights": {"gpu": 0, "api": 0}},
            r"^balancers.spill.weights=\{gpu: 0.0, api: 0.0\} are all 0",
        ),
    ],
)
def test_bad_balancers_name_their_key_in_one_line(balancer, needle):
    with pytest.raises(ConfigError, match=needle) as err:
        build(_spill_cfg(**balancer))
    assert "\n" not in str(err.value)
