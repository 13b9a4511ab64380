"""Replica crashes and spot preemptions: exactly the requests a replica held are lost,
re-queued or failed; rates follow their exponential clocks; requests and dollars add up
with every mechanism on."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from poolkit import held_by, submit

from sim.components.pool import CrashConfig, SpotConfig, make_pool
from sim.components.pool.billing import billed_life_s
from sim.components.pool.replica import DRAINING, READY
from sim.components.request import Request, Status
from sim.compose import compose
from sim.engine.context import SimContext
from sim.latency import ServiceTimeLatency
from sim.run import run

PRICE = 3.6  # USD per replica-hour


class FixedLatency:
    """Deterministic: prefill takes ``prefill`` seconds, every decode step ``step``."""

    def __init__(self, prefill: float = 1.0, step: float = 0.1, kv: int = 10_000) -> None:
        self.prefill, self.step, self.kv_capacity_tokens = prefill, step, kv

    def prefill_s(self, prompt_tokens: Sequence[int]) -> float:
        return self.prefill

    def decode_step_s(self, batch_size: int, kv_tokens: int) -> float:
        return self.step


def pool_of(ctx: SimContext, latency=None, **kw):
    args = dict(
        replicas=2,
        max_batch_size=4,
        max_queue=1000,
        usd_per_replica_hour=PRICE,
        provision_s=5.0,
        billing_minimum_s=0.0,
    )
    args.update(kw)
    pool = make_pool("gpu", ctx, latency or FixedLatency(), **args)
    pool.start()
    return pool


# --- crashes ---------------------------------------------------------------------------------
def _crash_at_1_5(on_crash: str, balancer: str = "central"):
    """Six 21-token requests on two replicas; replica 0 crashes at t=1.5 (restart 10 s)."""
    ctx = SimContext(seed=0, horizon_s=100.0)
    crash = CrashConfig(mtbf_h=None, restart_s=10.0, on_crash=on_crash)
    pool = pool_of(ctx, crash=crash, balancer=balancer)
    reqs = submit(ctx, pool, [Request(i, 0.0, 10, 21) for i in range(6)])
    ctx.env.run(until=1.5)
    victim = pool.fleet.replicas[0]
    held = held_by(victim)
    if victim.queue is not pool._queue:  # a per-replica balancer: its own queue too
        held += [s.req for s in victim.queue]
    assert len(held) >= 2  # a batch was running on it
    pool.fleet.crash(victim)
    pool.check_invariants()
    assert victim.state != READY and victim not in pool._active
    return ctx, pool, reqs, held, victim


@pytest.mark.parametrize("balancer", ["central", "round_robin"])
def test_crash_requeues_exactly_what_the_replica_held(balancer):
    ctx, pool, reqs, held, victim = _crash_at_1_5("requeue", balancer)
    ctx.env.run(until=100.0)
    assert all(r.status == Status.COMPLETED for r in reqs)  # none lost
    assert pool.resilience()["requeued_by_crash"] == len(held)
    assert pool.resilience()["crashes"] == 1 and pool.resilience()["failed_by_crash"] == 0
    for r in held:  # they started again after the crash: prefill and decode once more
        assert r.first_token_at >= 1.5 + 1.0 and r.done_at >= 1.5 + 3.0
    others = [r for r in reqs if r not in held]
    assert all(r.done_at <= 100.0 for r in others)
    # down for restart_s, then ready again
    ev = [(t, w) for t, w, i in pool.fleet.events if i == victim.index]
    assert ev == [(1.5, "crash"), (11.5, "restart")]
    assert victim.state == READY and pool.ready == 2
    pool.check_invariants()


def test_crash_with_fail_fails_exactly_those_requests():
    ctx, pool, reqs, held, _ = _crash_at_1_5("fail")
    ctx.env.run(until=100.0)
    failed = [r for r in reqs if r.status == Status.FAILED]
    assert sorted(r.id for r in failed) == sorted(r.id for r in held)
    assert all(r.reason == "gpu:crash" for r in failed)
    assert all(r.status == Status.COMPLETED for r in reqs if r not in held)
    assert pool.resilience()["failed_by_crash"] == len(held)
    assert pool.running == 0 and pool.queue_len == 0


def test_a_down_replica_is_billed_but_not_busy():
    ctx, pool, *_ = _crash_at_1_5("requeue")
    ctx.env.run(until=100.0)
    pool.bill(0.0, 100.0)
    by = ctx.ledger.by_layer()
    total = by["inference"] + by["infrastructure"]
    assert total == pytest.approx(2 * 100.0 * PRICE / 3600.0)  # two replicas all along
    assert by["inference"] == pytest.approx(pool.busy_replica_s() * PRICE / 3600.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_crashes_follow_the_mtbf(seed):
    """Idle replicas crash after Exp(mtbf) of uptime and restart after restart_s: a renewal
    process with cycle mtbf + restart_s per replica."""
    ctx = SimContext(seed=seed, horizon_s=36_000.0)
    pool = pool_of(ctx, replicas=4, crash=CrashConfig(mtbf_h=0.1, restart_s=60.0))
    ctx.env.run(until=36_000.0)
    expected = 4 * 36_000.0 / (360.0 + 60.0)
    assert pool.resilience()["crashes"] == pytest.approx(expected, rel=0.15)
    assert pool.billing.provisioned() == 4  # crashed replicas are restarted, not replaced


# --- spot preemptions -----------------------------------------------------------------------
def _spot_pool(on_preempt: str, notice_s: float = 2.0):
    """Two replicas, the second on spot; a notice for it at t=1.5."""
    ctx = SimContext(seed=0, horizon_s=200.0)
    spot = SpotConfig(share=0.5, discount=0.6, preemptions_per_h=0.0, notice_s=notice_s,
                      on_preempt=on_preempt)  # fmt: skip
    pool = pool_of(ctx, spot=spot)
    a, b = pool.fleet.replicas
    assert not a.spot and b.spot
    # a long request (prefill 1 s + 60 decode steps) and a short one end up on the spot replica
    reqs = submit(ctx, pool, [Request(0, 0.0, 10, 2), Request(1, 0.0, 10, 61),
                              Request(2, 0.0, 10, 12)])  # fmt: skip
    ctx.env.run(until=1.5)
    pool.fleet.preempt(b)
    assert b.state == DRAINING and b not in pool._active
    return ctx, pool, reqs, b


@pytest.mark.parametrize("on_preempt", ["requeue", "fail"])
def test_preemption_loses_what_is_left_after_the_notice(on_preempt):
    ctx, pool, reqs, spot = _spot_pool(on_preempt)
    late = submit(ctx, pool, [Request(3, 0.0, 10, 2)], at=1.6)[0]  # not sent to a draining one
    ctx.env.run(until=3.5 - 1e-9)
    left = held_by(spot)
    finished_in_notice = [r for r in reqs if r.status == Status.COMPLETED and r.done_at > 1.5]
    ctx.env.run(until=200.0)
    res = pool.resilience()
    assert res["preemptions"] == 1 and left  # the long request outlived the notice
    if on_preempt == "requeue":
        assert res["requeued_by_preemption"] == len(left)
        assert all(r.status == Status.COMPLETED for r in [*reqs, late])
        assert all(r.done_at > 3.5 for r in left)
    else:
        failed = [r for r in reqs if r.status == Status.FAILED]
        assert sorted(r.id for r in failed) == sorted(r.id for r in left)
        assert all(r.reason == "gpu:preempted" for r in failed)
        assert res["failed_by_preemption"] == len(left)
    assert all(r.status == Status.COMPLETED for r in finished_in_notice)  # not lost
    assert late.status == Status.COMPLETED
    # a replacement was asked for at the notice, ready provision_s later, spot again
    ev = pool.fleet.events
    assert (1.5, "notice", spot.index) in ev and (3.5, "release", spot.index) in ev
    new = [i for t, w, i in ev if w == "provision"]
    assert len(new) == 1 and (1.5 + 5.0, "ready", new[0]) in ev
    assert [r.spot for r in pool.fleet.replicas] == [False, True]


def test_spot_replicas_bill_at_the_discount():
    ctx = SimContext(seed=0, horizon_s=100.0)
    pool = pool_of(ctx, replicas=4, spot=SpotConfig(share=0.5, discount=0.6, preemptions_per_h=0.0))
    ctx.env.run(until=100.0)
    pool.bill(0.0, 100.0)
    expected = (2 * 1.0 + 2 * 0.4) * 100.0 * PRICE / 3600.0
    assert sum(ctx.ledger.by_layer().values()) == pytest.approx(expected)


@pytest.mark.parametrize("seed", [0, 1])
def test_preemptions_follow_their_rate_and_the_fleet_keeps_its_size(seed):
    ctx = SimContext(seed=seed, horizon_s=36_000.0)
    spot = SpotConfig(share=1.0, preemptions_per_h=10.0, notice_s=120.0)
    pool = pool_of(ctx, replicas=4, provision_s=60.0, spot=spot)
    ctx.env.run(until=36_000.0)
    # each live slot is preempted at 10 per hour: its replacement's clock starts at once
    assert pool.resilience()["preemptions"] == pytest.approx(4 * 10.0 * 10, rel=0.15)
    assert pool.fleet.live == 4 and all(r.spot for r in pool.fleet.replicas)


# --- everything on: conservation of requests and dollars --------------------------------
def _everything_on(seed: int):
    ctx = SimContext(seed=seed, horizon_s=4000.0)
    ctx.ledger.entries = []
    pool = make_pool(
        "gpu",
        ctx,
        ServiceTimeLatency(1.0, rng=ctx.rng.stream("svc")),
        balancer="power_of_two",
        replicas=3,
        max_batch_size=2,
        max_queue=40,
        usd_per_replica_hour=PRICE,
        provision_s=90.0,
        billing_increment_s=60.0,
        billing_minimum_s=120.0,
        autoscale=dict(enabled=True, interval_s=20.0, min_replicas=0, max_replicas=6,
                       cooldown_s=120.0, target=0.6),
        spot=SpotConfig(share=0.5, preemptions_per_h=6.0, notice_s=30.0, on_preempt="requeue"),
        crash=CrashConfig(mtbf_h=0.2, restart_s=40.0, on_crash="fail"),
    )  # fmt: skip
    spot_of = {r.index: r.spot for r in pool.fleet.replicas}
    make = pool.new_replica

    def recording(index, spot, state, t):  # remember each replica's price class
        spot_of[index] = spot
        return make(index, spot, state, t)

    pool.new_replica = recording
    pool.start()
    env, gaps, log = ctx.env, ctx.rng.stream("test.arrivals"), []
    sent = []

    def one(req):
        yield from pool.handle(req)
        if req.in_flight:
            req.status, req.done_at = Status.COMPLETED, env.now
        log.append(req)

    def source():  # bursts: 4 rps for 5 minutes, then 20 minutes of silence
        i = 0
        while True:
            rate = 4.0 if (env.now % 1500.0) < 300.0 else 0.02
            yield env.timeout(gaps.exponential(1.0 / rate))
            req = Request(i, env.now, 10, 1)
            sent.append(req)
            env.process(one(req))
            i += 1

    def biller():
        for t in np.arange(0.0, 4000.0, 100.0):
            yield env.timeout(t + 100.0 - env.now)
            pool.bill(t, t + 100.0)

    env.process(source())
    env.process(biller())
    env.run(until=4000.0 + 1e-9)
    return ctx, pool, sent, spot_of


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_conservation_with_every_mechanism_on(seed):
    ctx, pool, sent, spot_of = _everything_on(seed)
    res = pool.resilience()
    assert res["crashes"] > 0 and res["preemptions"] > 0
    scaling = pool.report()["autoscaling"]
    assert scaling["scale_ups"] > 0 and scaling["scale_downs"] > 0
    status = [r.status for r in sent]
    done, failed = status.count(Status.COMPLETED), status.count(Status.FAILED)
    dropped, flying = status.count(Status.DROPPED), status.count(Status.IN_FLIGHT)
    assert len(sent) == done + failed + dropped + flying
    assert flying == pool.running + pool.queue_len  # in flight: held or waiting in the pool
    assert failed == res["failed_by_crash"]
    assert all(r.reason == "gpu:crash" for r in sent if r.status == Status.FAILED)
    assert pool.served == done
    pool.check_invariants()
    # dollars: every replica's life, rounded when it was released, at its class's price
    usd_per_s = {False: PRICE / 3600.0, True: 0.4 * PRICE / 3600.0}
    born = {i: 0.0 for i in range(3)}
    usd = 0.0
    for t, what, i in pool.fleet.events:
        if what == "provision":
            born[i] = t
        elif what == "release":
            usd += billed_life_s(t - born.pop(i), 60.0, 120.0) * usd_per_s[spot_of[i]]
    for i, t in born.items():  # alive at the horizon: billed up to it, not yet rounded
        usd += (4000.0 - t) * usd_per_s[spot_of[i]]
    assert sum(ctx.ledger.by_layer().values()) == pytest.approx(usd, rel=1e-9)
    assert pool.billing.billed_usd() == pytest.approx(usd, rel=1e-9)


def test_summary_blocks_and_conservation_end_to_end():
    cfg = compose(
        "copilot_like",
        ["progress=false", "plots=false", "workload.users=300", "horizon_s=86400",
         "pools.gpu.autoscale.enabled=true", "pools.gpu.autoscale.max_replicas=4",
         "pools.gpu.spot.share=0.5", "pools.gpu.spot.preemptions_per_h=0.5",
         "pools.gpu.crash.mtbf_h=5", "pools.gpu.crash.on_crash=fail",
         "pools.gpu.balancer=power_of_two"],
    )  # fmt: skip
    s = run(cfg).summary
    req = s["requests"]
    assert req["arrived"] == req["completed"] + req["failed"] + req["dropped"] + req["in_flight"]
    res, scaling = s["resilience"]["gpu"], s["components"]["gpu"]["autoscaling"]
    assert s["outcomes"].get("gpu:crash", 0) == res["failed_by_crash"]
    assert res["requeued_by_preemption"] >= 0 and scaling["scale_ups"] > 0
    price = 5.12  # a100_80gb_sxm_2023 per GPU-hour
    od_hours = scaling["replica_hours"] - scaling["spot_replica_hours"]
    expected = (od_hours + scaling["spot_replica_hours"] * 0.4) * price
    assert s["cost_usd"]["total"] == pytest.approx(expected, rel=1e-9)
    assert s["cost_usd"]["by_layer"]["inference"] > 0
