"""Load balancing across a pool's replicas: each policy against its queueing theory.

With ``max_batch_size=1`` and exponential service a replica is one exponential server,
so each policy has a reference (mean wait in queue ``Wq``; by Little's law the mean
queue length is ``λ·Wq``, so the order of the waits is the order of the queue lengths):

* ``central`` — one queue for c servers: M/M/c (Erlang C);
* ``random`` — c independent M/M/1 queues at load ρ: ``Wq = ρ / (μ(1 − ρ))``;
* ``round_robin`` — every c-th arrival: c E_c/M/1 queues, ``Wq = σ / (μ(1 − σ))`` with
  σ the root of ``σ = (cλ₁ / (cλ₁ + μ(1 − σ)))^c`` (GI/M/1; λ₁ = λ/c);
* ``power_of_two`` — Mitzenmacher, "The power of two choices in randomized load
  balancing" (IEEE TPDS 12(10), 2001): as c grows, the mean time in system tends to
  ``Σ_{i≥1} ρ^(2^i − 2)``, far below random's ``1 / (1 − ρ)``.

Tolerance bands over several seeds; nothing is pinned to a simulated number.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import simpy
from poolkit import LLAMA3_8B_A100

from sim.components.pool import DispatchPool, InferencePool, make_pool
from sim.components.request import Request, Status
from sim.engine.context import SimContext
from sim.latency import RooflineLatency, ServiceTimeLatency
from sim.metrics.queueing import mmc_mean_wait_s

LLAMA3_8B_24GB = {**LLAMA3_8B_A100, "memory_gb": 24}  # a small KV cache


def _pool(ctx: SimContext, latency, balancer: str, **kw) -> InferencePool:
    args = dict(replicas=1, max_batch_size=1, max_queue=10**9, usd_per_replica_hour=3.6)
    args.update(kw)
    return make_pool("gpu", ctx, latency, balancer=balancer, **args)


def _feed(ctx: SimContext, pool: InferencePool, rate: float, n: int, tokens=None) -> list:
    """``n`` Poisson arrivals at ``rate``; returns the list of requests as they end."""
    env, log = ctx.env, []
    gaps, sizes = ctx.rng.stream("test.arrivals"), ctx.rng.stream("test.tokens")

    def one(req: Request):
        yield from pool.handle(req)
        if req.in_flight:
            req.status, req.done_at = Status.COMPLETED, env.now
        log.append(req)

    def source():
        for i in range(n):
            yield env.timeout(gaps.exponential(1.0 / rate))
            p, o = tokens(sizes) if tokens else (10, 1)
            env.process(one(Request(i, env.now, p, o)))

    env.process(source())
    return log


def mean_wait(balancer: str, seed: int, c: int, rho: float, n: int) -> float:
    """Mean wait in queue of ``n`` Poisson arrivals at load ``rho`` on ``c`` exponential servers."""
    ctx = SimContext(seed=seed, horizon_s=1e9, warmup_s=300.0)
    pool = _pool(ctx, ServiceTimeLatency(1.0, rng=ctx.rng.stream("svc")), balancer, replicas=c)
    log = _feed(ctx, pool, rho * c, n)
    ctx.env.run()
    assert len(log) == n and pool.served == n
    return pool.mean_queue_wait_s


def ec_m1_wait(rho: float, c: int) -> float:
    """Mean wait of an E_c/M/1 queue (μ = 1): every c-th of a Poisson stream of rate cρ."""
    sigma = 0.5
    for _ in range(2000):  # the fixed point converges geometrically for ρ < 1
        sigma = (c * rho / (c * rho + 1.0 - sigma)) ** c
    return sigma / (1.0 - sigma)


def two_choice_limit_wait(rho: float) -> float:
    """Mitzenmacher's limit (c → ∞) of the mean wait with two choices (μ = 1)."""
    return sum(rho ** (2**i - 2) for i in range(1, 40)) - 1.0


SEEDS = range(4)


@functools.cache
def waits(balancer: str, c: int = 8, rho: float = 0.8, n: int = 40_000) -> float:
    """Mean wait over four seeds (cached: the comparisons share their runs)."""
    return float(np.mean([mean_wait(balancer, s, c, rho, n) for s in SEEDS]))


# --- each policy against its theory -------------------------------------------------------
def test_central_matches_erlang_c():
    assert waits("central") == pytest.approx(mmc_mean_wait_s(6.4, 1.0, 8), rel=0.12)


def test_random_matches_independent_mm1_queues():
    assert waits("random") == pytest.approx(0.8 / (1 - 0.8), rel=0.12)


def test_round_robin_matches_ec_m1():
    assert waits("round_robin") == pytest.approx(ec_m1_wait(0.8, 8), rel=0.12)


def test_power_of_two_beats_random_and_approaches_mitzenmacher_limit():
    rho = 0.9
    rand = waits("random", c=10, rho=rho)
    p2c = waits("power_of_two", c=10, rho=rho)
    central = waits("central", c=10, rho=rho)
    assert p2c < 0.4 * rand  # random: ~9 s; two choices: ~2 s
    assert central < p2c
    # ten replicas are not the limit c -> infinity: above it, but within a factor 1.5
    limit = two_choice_limit_wait(rho)
    assert limit < p2c < 1.5 * limit


def test_round_robin_beats_random_and_least_outstanding_is_close_to_central():
    rand = waits("random", c=10, rho=0.9)
    rr = waits("round_robin", c=10, rho=0.9)
    least = waits("least_outstanding", c=10, rho=0.9)
    central = waits("central", c=10, rho=0.9)
    assert rr < 0.7 * rand
    assert central <= least < rr  # joins the shortest queue, but cannot move a request later


# --- mechanics ---------------------------------------------------------------------------
@pytest.mark.parametrize("balancer", ["round_robin", "random", "least_outstanding", "power_of_two"])
def test_dispatch_pools_end_every_request_and_keep_invariants(balancer):
    ctx = SimContext(seed=3, horizon_s=1e6)
    lat = RooflineLatency(**LLAMA3_8B_24GB)
    pool = _pool(ctx, lat, balancer, replicas=3, max_batch_size=16, max_queue=300)
    assert isinstance(pool, DispatchPool) and pool.balancer == balancer
    env, n = ctx.env, 2000

    def sizes(g):
        return int(g.integers(1, 60_000)), int(g.integers(1, 300))

    log = _feed(ctx, pool, 15.0, n, tokens=sizes)

    def check():
        while env.now < 200:
            pool.check_invariants()
            yield env.timeout(0.73)

    env.process(check())
    env.run()
    assert len(log) == n and all(not r.in_flight for r in log)
    done = sum(r.status == Status.COMPLETED for r in log)
    assert pool.served == done > 0
    assert pool.running == 0 and pool.queue_len == 0
    pool.check_invariants()


def test_round_robin_takes_replicas_in_turn():
    ctx = SimContext(seed=0, horizon_s=100.0)
    pool = _pool(ctx, ServiceTimeLatency(1.0, rng=ctx.rng.stream("svc")), "round_robin", replicas=3)
    active = list(pool._active)
    assert [pool.choose(active).index for _ in range(7)] == [0, 1, 2, 0, 1, 2, 0]


def test_power_of_two_picks_the_less_loaded_of_two_distinct_replicas():
    ctx = SimContext(seed=0, horizon_s=100.0)
    pool = _pool(
        ctx, ServiceTimeLatency(1.0, rng=ctx.rng.stream("svc")), "power_of_two", replicas=2
    )
    a, b = pool._active
    for _ in range(5):  # replica 0 holds five waiting requests
        a.queue.append(object())
    assert all(pool.choose([a, b]) is b for _ in range(50))  # two distinct: always both seen
    a.queue.clear()


def test_max_queue_counts_every_replica_queue():
    ctx = SimContext(seed=0, horizon_s=100.0)
    lat = ServiceTimeLatency(10.0, rng=ctx.rng.stream("svc"))
    pool = _pool(ctx, lat, "round_robin", replicas=2, max_queue=3)
    reqs = [Request(i, 0.0, 10, 1) for i in range(8)]
    for r in reqs:
        ctx.env.process(pool.handle(r))
    ctx.env.run(until=0.1)
    # two start at once, three wait (over two replica queues), three are dropped
    assert pool.running == 2 and pool.queue_len == 3
    assert [r.reason for r in reqs if r.status == Status.DROPPED] == ["queue_full"] * 3


def test_same_seed_same_assignments():
    def run(seed: int) -> tuple[float, int]:
        ctx = SimContext(seed=seed, horizon_s=1e9)
        pool = _pool(
            ctx, ServiceTimeLatency(1.0, rng=ctx.rng.stream("svc")), "power_of_two", replicas=4
        )
        _feed(ctx, pool, 3.0, 3000)
        ctx.env.run()
        return pool.mean_queue_wait_s, pool.served

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_dispatch_adds_no_event_per_request():
    class CountingEnv(simpy.Environment):
        scheduled = 0

        def schedule(self, event, priority=1, delay=0):  # type: ignore[override]
            self.scheduled += 1
            super().schedule(event, priority, delay)

    for balancer in ("central", "random", "power_of_two", "round_robin"):
        ctx = SimContext(seed=1, horizon_s=1e9, env=CountingEnv())
        lat = ServiceTimeLatency(1.0, rng=ctx.rng.stream("svc"))
        pool = _pool(ctx, lat, balancer, replicas=4)
        n = 5000
        _feed(ctx, pool, 3.0, n)
        ctx.env.run()
        # the harness costs 3 per request (arrival timeout, process start, process end);
        # the pool adds its completion event and one timer, whatever the balancer
        assert ctx.env.scheduled / n == pytest.approx(5.0, abs=0.01), balancer
