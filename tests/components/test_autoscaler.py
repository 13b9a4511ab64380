"""The autoscaler: the HPA rule, reaction to a load step, cooldown, scale to zero, billing.

Pools here have exponential service (mean 1 s) and no batching, so a replica's busy
share is its load ρ and the HPA rule ``ceil(ready × ρ / target)`` has an exact answer.
"""

from __future__ import annotations

import math

import pytest

from sim.build import build
from sim.checks import ConfigError
from sim.components.pool import AutoscaleConfig, make_pool
from sim.components.pool.billing import billed_life_s
from sim.components.request import Request, Status
from sim.compose import compose
from sim.engine.context import SimContext
from sim.latency import ServiceTimeLatency

PRICE = 3.6  # USD per replica-hour: one cent per replica-second


def autoscaled(ctx: SimContext, *, replicas: int = 1, provision_s: float = 120.0, **scale):
    """A started pool of exponential servers with an autoscaler (HPA defaults but these)."""
    cfg = dict(enabled=True, interval_s=30.0, min_replicas=1, max_replicas=10, cooldown_s=300.0)
    cfg.update(scale)
    pool = make_pool(
        "gpu",
        ctx,
        ServiceTimeLatency(1.0, rng=ctx.rng.stream("svc")),
        replicas=replicas,
        max_batch_size=1,
        max_queue=10**9,
        usd_per_replica_hour=PRICE,
        provision_s=provision_s,
        billing_minimum_s=0.0,
        autoscale=AutoscaleConfig(**cfg),
    )
    pool.start()
    return pool


def feed(ctx: SimContext, pool, phases: list[tuple[float, float]], log: list | None = None):
    """Poisson arrivals: ``phases`` of (until time, rate); returns the requests as they end."""
    env, log = ctx.env, [] if log is None else log
    gaps = ctx.rng.stream("test.arrivals")

    def one(req: Request):
        yield from pool.handle(req)
        if req.in_flight:
            req.status, req.done_at = Status.COMPLETED, env.now
        log.append(req)

    def source():
        i = 0
        for until, rate in phases:
            while True:
                gap = gaps.exponential(1.0 / rate) if rate > 0 else math.inf
                if env.now + gap >= until:
                    yield env.timeout(until - env.now)
                    break
                yield env.timeout(gap)
                env.process(one(Request(i, env.now, 10, 1)))
                i += 1

    env.process(source())
    return log


def bill_every(ctx: SimContext, pool, step_s: float, until: float) -> None:
    """Bill the pool at every ``step_s`` edge, as the run does."""
    env = ctx.env

    def biller():
        t = 0.0
        while t + step_s <= until + 1e-9:
            yield env.timeout(t + step_s - env.now)
            pool.bill(t, t + step_s)
            t += step_s

    env.process(biller())


def provisioned_integral(pool, horizon: float, initial: int) -> float:
    """Replica-seconds from the fleet's log: each replica from provisioning to release,
    a released one's life rounded up to whole seconds (the pools here bill per second)."""
    born = {i: 0.0 for i in range(initial)}
    total = 0.0
    for t, what, idx in pool.fleet.events:
        if what == "provision":
            born[idx] = t
        elif what == "release":
            total += billed_life_s(t - born.pop(idx), 1.0, 0.0)
    return total + sum(horizon - t for t in born.values())


# --- the HPA rule --------------------------------------------------------------------------
def test_desired_replicas_follow_the_hpa_formula():
    ctx = SimContext(seed=0, horizon_s=10.0)
    pool = autoscaled(ctx, replicas=4, target=0.5, min_replicas=2, max_replicas=9)
    a = pool.autoscaler
    assert pool.ready == 4
    assert a.desired(1.0) == 8  # ceil(4 x 1.0 / 0.5)
    assert a.desired(0.3) == 3  # ceil(4 x 0.6) = ceil(2.4)
    assert a.desired(0.52) == 4  # within the 10 % tolerance: no change
    assert a.desired(0.0) == 2  # clamped to min_replicas
    assert a.desired(5.0) == 9  # clamped to max_replicas


def test_an_autoscaler_that_is_off_schedules_nothing():
    ctx = SimContext(seed=0, horizon_s=10.0)
    pool = make_pool(
        "gpu",
        ctx,
        ServiceTimeLatency(1.0, rng=ctx.rng.stream("svc")),
        replicas=2,
        max_batch_size=1,
        max_queue=10,
        usd_per_replica_hour=PRICE,
    )
    pool.start()
    assert pool.autoscaler is None and ctx.env.peek() == math.inf
    assert pool.report() is None and pool.resilience() is None


# --- a load step ---------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scale_up_within_one_interval_ready_after_provision_s_and_billed(seed):
    ctx = SimContext(seed=seed, horizon_s=1500.0)
    pool = autoscaled(ctx, provision_s=120.0)
    feed(ctx, pool, [(600.0, 0.3), (1500.0, 3.0)])  # the load steps up tenfold at 600 s
    bill_every(ctx, pool, 60.0, 1500.0)
    ctx.env.run(until=1500.0 + 1e-9)
    a, fleet = pool.autoscaler, pool.fleet
    first_up = next(t for t, old, new in a.changes if new > old)
    assert 600.0 < first_up <= 600.0 + 30.0  # the first evaluation after the step
    provisioned = {i: t for t, what, i in fleet.events if what == "provision"}
    ready = {i: t for t, what, i in fleet.events if what == "ready"}
    assert min(provisioned.values()) == first_up
    for i, t in provisioned.items():  # each ready one cold start later (or still starting)
        assert ready.get(i, 1500.0) == pytest.approx(min(t + 120.0, 1500.0))
    # 3 rps at a 0.7 target needs ceil(3 / 0.7) = 5 replicas or a few more
    assert 5 <= fleet.target <= 8 and pool.ready >= 5
    # every replica-second from provisioning on is billed, busy or idle
    replica_s = provisioned_integral(pool, 1500.0, initial=1)
    assert pool.billing.billed_replica_s() == pytest.approx(replica_s, rel=1e-9)
    total = sum(ctx.ledger.by_layer().values())
    assert total == pytest.approx(replica_s * PRICE / 3600.0, rel=1e-9)
    busy = ctx.ledger.by_layer()["inference"]
    assert busy == pytest.approx(pool.busy_replica_s() * PRICE / 3600.0, rel=1e-9)


@pytest.mark.parametrize("step", [1, 2])
def test_step_caps_replicas_added_per_evaluation(step):
    ctx = SimContext(seed=4, horizon_s=900.0)
    pool = autoscaled(ctx, provision_s=60.0, step=step)
    feed(ctx, pool, [(900.0, 6.0)])
    ctx.env.run(until=900.0)
    ups = [new - old for _, old, new in pool.autoscaler.changes if new > old]
    assert ups and max(ups) == step


# --- scale down after the cooldown ----------------------------------------------------------
@pytest.mark.parametrize("cooldown_s", [0.0, 300.0])
def test_scale_down_waits_for_the_cooldown(cooldown_s):
    ctx = SimContext(seed=5, horizon_s=2400.0)
    pool = autoscaled(ctx, replicas=4, max_replicas=4, cooldown_s=cooldown_s)
    feed(ctx, pool, [(900.0, 3.4), (2400.0, 0.1)])  # the load falls at 900 s
    ctx.env.run(until=2400.0)
    downs = [t for t, old, new in pool.autoscaler.changes if new < old]
    assert all(t > 900.0 for t in downs)  # before: ~0.85 per replica, above the target
    first_down = downs[0]
    # the window keeps the last high recommendation (at 900 s) for cooldown_s
    assert 900.0 + cooldown_s < first_down <= 900.0 + cooldown_s + 2 * 30.0
    assert pool.fleet.target == 1
    # drained replicas are released once empty; nothing is lost
    released = [i for _, what, i in pool.fleet.events if what == "release"]
    assert len(released) == 3 and pool.billing.provisioned() == 1
    pool.check_invariants()


# --- scale to zero and back ---------------------------------------------------------------
def test_scale_to_zero_and_back_with_a_cold_start():
    ctx = SimContext(seed=6, horizon_s=3000.0)
    pool = autoscaled(ctx, provision_s=100.0, min_replicas=0, max_replicas=3, cooldown_s=60.0)
    log = feed(ctx, pool, [(200.0, 0.5), (2000.0, 0.0)])
    late = Request(10**6, 2000.0, 10, 1)

    def later():
        yield ctx.env.timeout(2000.0)
        yield from pool.handle(late)
        late.status, late.done_at = Status.COMPLETED, ctx.env.now

    ctx.env.process(later())
    bill_every(ctx, pool, 100.0, 3000.0)
    ctx.env.run(until=1999.0)
    assert pool.fleet.target == 0 and pool.billing.provisioned() == 0 and pool.ready == 0
    assert all(r.status == Status.COMPLETED for r in log)
    zero_since = max(t for t, what, _ in pool.fleet.events if what == "release")
    ctx.env.run(until=3000.0 + 1e-9)
    # the request that found no replica started one and waited for its cold start
    assert late.status == Status.COMPLETED
    assert late.done_at - late.arrived_at >= 100.0
    assert ("provision", 2000.0) in [(w, t) for t, w, _ in pool.fleet.events]
    assert pool.fleet.target == 0  # ... and the pool went back to zero
    # nothing is billed while there are no replicas
    idle_s = 2000.0 - zero_since
    replica_s = provisioned_integral(pool, 3000.0, initial=1)
    assert replica_s < 3000.0 - idle_s
    assert pool.billing.billed_replica_s() == pytest.approx(replica_s, rel=1e-9)
    # cold starts: from each provisioning to ready (or to its cancellation by a scale-down)
    started: dict[int, float] = {}
    cold = 0.0
    for t, what, i in pool.fleet.events:
        if what == "provision":
            started[i] = t
        elif what in ("ready", "release") and i in started:
            cold += t - started.pop(i)
    assert cold >= 100.0
    assert pool.report()["autoscaling"]["cold_start_s"] == pytest.approx(cold)


# --- configuration errors -------------------------------------------------------------------
@pytest.mark.parametrize(
    "override, needle",
    [
        (
            ["pools.gpu.autoscale.enabled=true", "pools.gpu.autoscale.min_replicas=5",
             "pools.gpu.autoscale.max_replicas=2"],
            "pools.gpu.autoscale.min_replicas=5 and pools.gpu.autoscale.max_replicas=2 need",
        ),
        (["pools.gpu.autoscale.target=0"], r"pools.gpu.autoscale.target=0(\.0)? must be"),
        (["pools.gpu.autoscale.target=-0.5"], r"pools.gpu.autoscale.target=-0.5 must be"),
        (
            ["pools.gpu.autoscale.enabled=true", "pools.gpu.autoscale.target=70"],
            "pools.gpu.autoscale.target=70.0 and pools.gpu.autoscale.metric='utilization'",
        ),
        (["pools.gpu.balancer=fastest"], "pools.gpu.balancer='fastest' is not allowed"),
        (["pools.gpu.provision_s=-1"], r"pools.gpu.provision_s=-1(\.0)? must be"),
        (["pools.gpu.autoscale.metric=cpu"], "pools.gpu.autoscale.metric='cpu' is not allowed"),
        (["pools.gpu.spot.share=1.5"], r"pools.gpu.spot.share=1.5 must be"),
        (["pools.gpu.crash.on_crash=ignore"], "pools.gpu.crash.on_crash='ignore' is not allowed"),
    ],
)  # fmt: skip
def test_bad_fleet_settings_name_their_full_key(override, needle):
    cfg = compose("copilot_like", ["progress=false", "plots=false", *override])
    with pytest.raises(ConfigError, match=needle) as err:
        build(cfg)
    assert "\n" not in str(err.value)


# --- the lever ------------------------------------------------------------------------------
def test_copilot_autoscales_as_written_and_lever_off_is_the_fixed_fleet():
    from sim.levers import apply_levers
    from sim.run import run

    base = ["progress=false", "plots=false", "horizon_s=86400"]  # one Monday, 1,000 users
    written = run(compose("copilot_like", base)).summary
    off_cfg = compose("copilot_like", [*base, "levers.autoscale=off"])
    assert apply_levers(off_cfg).pools.gpu.autoscale.enabled is False
    assert apply_levers(off_cfg).pools.small.autoscale.enabled is False
    off = run(off_cfg).summary
    on = run(compose("copilot_like", [*base, "levers.autoscale=on"])).summary
    assert on["cost_usd"] == written["cost_usd"]  # the scenario as written autoscales
    assert "gpu" not in off["components"]  # a fixed fleet reports nothing extra
    written = off
    scaling = on["components"]["gpu"]["autoscaling"]
    fixed = math.ceil(1000 / 250)
    assert scaling["peak_replicas"] <= math.ceil(1000 / 125)
    assert scaling["mean_replicas"] < fixed  # nights are served by one replica
    assert on["cost_usd"]["total"] < written["cost_usd"]["total"]
    req = on["requests"]
    assert req["arrived"] == req["completed"] + req["failed"] + req["dropped"] + req["in_flight"]
    assert on["resilience"] == {}  # no crash or spot configured
