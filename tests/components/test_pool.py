"""InferencePool: M/M/c reduction, continuous batching, KV limits, billing, conservation."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pytest
import simpy
from poolkit import LLAMA3_8B_A100, CountingEnv

from sim.components.pool import InferencePool
from sim.components.request import Request, Status
from sim.components.stage import Billable, Observable, Stage
from sim.engine.context import SimContext
from sim.latency import RooflineLatency, ServiceTimeLatency
from sim.metrics.queueing import mmc_mean_wait_s


class FixedLatency:
    """Deterministic: prefill takes ``prefill`` seconds, every decode step ``step``."""

    def __init__(self, prefill: float = 1.0, step: float = 0.1, kv: int = 10_000) -> None:
        self.prefill, self.step, self.kv_capacity_tokens = prefill, step, kv

    def prefill_s(self, prompt_tokens: Sequence[int]) -> float:
        return self.prefill

    def decode_step_s(self, batch_size: int, kv_tokens: int) -> float:
        return self.step


def make_pool(ctx: SimContext, latency, **kw) -> InferencePool:
    args = dict(replicas=1, max_batch_size=8, max_queue=1000, usd_per_replica_hour=3.6)
    args.update(kw)
    return InferencePool("gpu", ctx, latency, **args)


def submit(env: simpy.Environment, pool: InferencePool, req: Request, log: list) -> None:
    def proc():
        yield from pool.handle(req)
        if req.in_flight:
            req.status = Status.COMPLETED
            req.done_at = env.now
        log.append(req)

    env.process(proc())


def poisson(
    ctx: SimContext,
    pool: InferencePool,
    rate: float,
    n: int,
    tokens: Callable[[np.random.Generator], tuple[int, int]] = lambda g: (100, 10),
    log: list | None = None,
) -> list[Request]:
    """Start a process that sends ``n`` Poisson arrivals to ``pool``; returns the end log."""
    env = ctx.env
    log = [] if log is None else log
    gaps = ctx.rng.stream("test.arrivals")
    sizes = ctx.rng.stream("test.tokens")

    def arrivals():
        for i in range(n):
            yield env.timeout(gaps.exponential(1.0 / rate))
            p, o = tokens(sizes)
            submit(env, pool, Request(i, env.now, p, o), log)

    env.process(arrivals())
    return log


def lognormal_tokens(g: np.random.Generator) -> tuple[int, int]:
    return int(g.lognormal(math.log(500), 0.8)) + 1, int(g.lognormal(math.log(60), 0.8)) + 1


# --- M/M/c reduction -----------------------------------------------------------------
def _mmc_run(seed: int, c: int, rho: float, n: int, warmup_s: float):
    mu = 1.0
    lam = rho * c * mu
    ctx = SimContext(seed=seed, horizon_s=1e9, warmup_s=warmup_s)
    lat = ServiceTimeLatency(1.0 / mu, rng=ctx.rng.stream("svc"))
    pool = make_pool(ctx, lat, replicas=c, max_batch_size=1, max_queue=10**9)
    log = poisson(ctx, pool, lam, n)
    ctx.env.run()
    assert len(log) == n and pool.served == n
    util = pool.busy_replica_s() / (c * ctx.env.now)
    return pool.mean_queue_wait_s, util, mmc_mean_wait_s(lam, mu, c)


def test_mmc_reduction_matches_erlang_c_quick():
    runs = [_mmc_run(seed, c=4, rho=0.8, n=20_000, warmup_s=200.0) for seed in range(4)]
    wq = np.mean([r[0] for r in runs])
    assert wq == pytest.approx(runs[0][2], rel=0.10)
    assert np.mean([r[1] for r in runs]) == pytest.approx(0.8, rel=0.03)


@pytest.mark.slow
def test_mmc_reduction_matches_erlang_c_within_5_percent():
    runs = [_mmc_run(seed, c=4, rho=0.8, n=100_000, warmup_s=500.0) for seed in range(8)]
    wq = np.mean([r[0] for r in runs])
    assert wq == pytest.approx(runs[0][2], rel=0.05)
    assert np.mean([r[1] for r in runs]) == pytest.approx(0.8, rel=0.02)


def test_events_per_request_in_mmc_mode():
    ctx = SimContext(seed=1, horizon_s=1e9, env=CountingEnv())
    pool = make_pool(
        ctx, ServiceTimeLatency(1.0, rng=ctx.rng.stream("svc")), replicas=4, max_batch_size=1
    )
    n = 5000
    poisson(ctx, pool, 3.0, n)
    ctx.env.run()
    # the harness costs 3 per request (arrival timeout, process start, process end);
    # the pool adds its completion event and one timer
    assert ctx.env.scheduled / n == pytest.approx(5.0, abs=0.01)


# --- exact timings of the prefill-first schedule -----------------------------------------
def test_idle_pool_starts_at_once_and_prefill_pauses_decode():
    ctx = SimContext(seed=0, horizon_s=100.0)
    env = ctx.env
    pool = make_pool(ctx, FixedLatency(prefill=1.0, step=0.1), max_batch_size=4)
    log: list[Request] = []
    a = Request(0, 0.0, 100, 11)  # prefill [0, 1], then 10 decode steps
    b = Request(1, 1.5, 100, 3)
    submit(env, pool, a, log)

    def later():
        yield env.timeout(1.5)
        submit(env, pool, b, log)

    env.process(later())
    env.run()
    assert a.first_token_at == pytest.approx(1.0)
    # a decodes 5 steps in [1, 1.5], pauses for b's prefill [1.5, 2.5], then 5 more
    assert b.first_token_at == pytest.approx(2.5)
    assert b.done_at == pytest.approx(2.7)
    assert a.done_at == pytest.approx(3.0)
    assert pool.wait_n == 2 and pool.mean_queue_wait_s == 0.0
    assert pool.busy_replica_s() == pytest.approx(3.0)


def test_single_token_output_finishes_at_prefill_end():
    ctx = SimContext(seed=0, horizon_s=100.0)
    pool = make_pool(ctx, FixedLatency(prefill=0.7, step=0.1))
    log: list[Request] = []
    r = Request(0, 0.0, 10, 1)
    submit(ctx.env, pool, r, log)
    ctx.env.run()
    assert r.first_token_at == pytest.approx(0.7) and r.done_at == pytest.approx(0.7)


def test_full_batch_waits_in_fifo_order():
    ctx = SimContext(seed=0, horizon_s=100.0)
    pool = make_pool(ctx, FixedLatency(prefill=1.0, step=0.1), max_batch_size=2)
    log: list[Request] = []
    reqs = [Request(i, 0.0, 10, 6) for i in range(3)]
    for r in reqs:
        submit(ctx.env, pool, r, log)
    ctx.env.run()
    # r0 starts alone at 0 (prefill [0,1]); r1 queues behind the prefill and joins at 1
    assert reqs[0].first_token_at == pytest.approx(1.0)
    assert reqs[1].first_token_at == pytest.approx(2.0)
    assert reqs[2].first_token_at > reqs[1].first_token_at
    assert [r.id for r in log] == [0, 1, 2]


# --- continuous batching ---------------------------------------------------------------
def _throughput(max_batch_size: int, seed: int = 0) -> tuple[int, InferencePool, list[Request]]:
    ctx = SimContext(seed=seed, horizon_s=600.0)
    pool = make_pool(
        ctx, RooflineLatency(**LLAMA3_8B_A100), replicas=2, max_batch_size=max_batch_size
    )
    log = poisson(ctx, pool, 20.0, 10**9, tokens=lognormal_tokens)
    ctx.env.run(until=600.0)
    return sum(r.status == Status.COMPLETED for r in log), pool, log


def test_batching_multiplies_throughput_and_ttft_precedes_completion():
    unbatched, _, _ = _throughput(1)
    batched, pool, log = _throughput(256)
    assert batched > 5 * unbatched
    assert pool.queue_len < 50  # batching keeps up with 20 rps; one at a time does not
    done = [r for r in log if r.status == Status.COMPLETED]
    assert done
    for r in done:
        assert r.arrived_at <= r.first_token_at <= r.done_at


def test_kv_cache_limit_is_respected():
    # a 24 GB card leaves room for ~44k KV tokens next to Llama-3-8B's 16 GB of weights
    lat = RooflineLatency(**{**LLAMA3_8B_A100, "memory_gb": 24})
    cap = lat.kv_capacity_tokens
    assert 20_000 < cap < 60_000
    ctx = SimContext(seed=3, horizon_s=300.0)
    pool = make_pool(ctx, lat, replicas=2, max_batch_size=256, max_queue=10**6)
    env = ctx.env
    log = poisson(
        ctx,
        pool,
        30.0,
        10**9,
        tokens=lambda g: (int(g.integers(500, 4000)), int(g.integers(50, 400))),
    )

    def check():
        while True:
            pool.check_invariants()
            assert max(pool.kv_reserved_tokens()) <= cap
            yield env.timeout(0.37)

    env.process(check())
    env.run(until=300.0)
    assert pool.peak_kv_reserved_tokens <= cap
    assert pool.peak_kv_reserved_tokens > 0.8 * cap  # the limit was binding
    assert pool.gauges()["running"] <= 2 * 256
    assert any(r.status == Status.COMPLETED for r in log)


def test_too_long_request_fails_without_waiting():
    ctx = SimContext(seed=0, horizon_s=10.0)
    pool = make_pool(ctx, FixedLatency(kv=1000))
    req = Request(0, 0.0, 900, 101)
    assert list(pool.handle(req)) == []
    assert req.status == Status.FAILED and req.reason == "too_long"
    ok = Request(1, 0.0, 900, 100)
    assert len(list(pool.handle(ok))) == 1  # fits exactly: it waits for its completion


def test_full_queue_drops():
    ctx = SimContext(seed=0, horizon_s=100.0)
    pool = make_pool(ctx, FixedLatency(), max_batch_size=1, max_queue=2)
    log: list[Request] = []
    reqs = [Request(i, 0.0, 10, 2) for i in range(5)]
    for r in reqs:
        submit(ctx.env, pool, r, log)
    ctx.env.run(until=0.5)
    assert pool.running == 1 and pool.queue_len == 2
    assert [r.reason for r in reqs[3:]] == ["queue_full", "queue_full"]
    assert all(r.status == Status.DROPPED for r in reqs[3:])
    ctx.env.run()
    assert all(r.status == Status.COMPLETED for r in reqs[:3])


def test_zero_queue_still_serves_when_a_replica_is_free():
    ctx = SimContext(seed=0, horizon_s=100.0)
    pool = make_pool(ctx, FixedLatency(), max_batch_size=1, max_queue=0)
    log: list[Request] = []
    a, b = Request(0, 0.0, 10, 2), Request(1, 0.0, 10, 2)
    submit(ctx.env, pool, a, log)
    submit(ctx.env, pool, b, log)
    ctx.env.run()
    assert a.status == Status.COMPLETED and b.reason == "queue_full"


# --- conservation ------------------------------------------------------------------------
@pytest.mark.parametrize("max_batch_size", [1, 16, 256])
def test_every_request_ends(max_batch_size):
    ctx = SimContext(seed=11, horizon_s=1e6)
    lat = RooflineLatency(**{**LLAMA3_8B_A100, "memory_gb": 24})
    pool = make_pool(ctx, lat, replicas=3, max_batch_size=max_batch_size, max_queue=200)
    n = 3000
    log = poisson(
        ctx, pool, 15.0, n, tokens=lambda g: (int(g.integers(1, 60_000)), int(g.integers(1, 300)))
    )
    ctx.env.run()
    assert len(log) == n
    assert all(not r.in_flight for r in log)
    statuses = {r.status for r in log}
    assert Status.COMPLETED in statuses and Status.FAILED in statuses  # some prompts too long
    assert pool.running == 0 and pool.queue_len == 0
    assert pool.served == sum(r.status == Status.COMPLETED for r in log)
    pool.check_invariants()


# --- billing and gauges ----------------------------------------------------------------------
def _billed_run(bill_live: bool, seed: int = 5):
    ctx = SimContext(seed=seed, horizon_s=120.0, bucket_s=10.0)
    ctx.ledger.entries = []  # keep raw entries
    pool = make_pool(
        ctx, ServiceTimeLatency(0.5, rng=ctx.rng.stream("svc")), replicas=3, max_batch_size=1
    )
    poisson(ctx, pool, 3.0, 10**9)
    edges = np.arange(0.0, 121.0, 10.0)
    env = ctx.env
    if bill_live:

        def biller():
            for a, b in zip(edges[:-1], edges[1:]):
                yield env.timeout(b - env.now)
                pool.bill(a, b)

        env.process(biller())
        env.run(until=120.0 + 1e-9)
    else:
        env.run(until=120.0)
        for a, b in zip(edges[:-1], edges[1:]):
            pool.bill(a, b)
    return ctx, pool


def test_bill_covers_provisioned_time_exactly():
    ctx, pool = _billed_run(bill_live=True)
    by = ctx.ledger.by_layer()
    assert by["inference"] + by["infrastructure"] == pytest.approx(3 * 120.0 * 3.6 / 3600)
    assert by["inference"] == pytest.approx(pool.busy_replica_s() * 3.6 / 3600, rel=1e-9)
    assert 0.3 < by["inference"] / (by["inference"] + by["infrastructure"]) < 0.7  # rho = 0.5
    per_bucket = {}
    for t, _layer, _comp, usd in ctx.ledger.entries:
        per_bucket[t] = per_bucket.get(t, 0.0) + usd
    assert len(per_bucket) == 12
    for usd in per_bucket.values():
        assert usd == pytest.approx(3 * 10.0 * 3.6 / 3600)


def test_late_billing_clips_busy_periods_like_live_billing():
    live, _ = _billed_run(bill_live=True)
    late, _ = _billed_run(bill_live=False)
    a = sorted(live.ledger.entries)
    b = sorted(late.ledger.entries)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x[:3] == y[:3] and x[3] == pytest.approx(y[3], abs=1e-12)


def test_idle_pool_charges_only_infrastructure():
    ctx = SimContext(seed=0, horizon_s=60.0)
    pool = make_pool(ctx, FixedLatency(), replicas=2)
    assert set(ctx.ledger.active_layers()) == {"inference", "infrastructure"}
    ctx.env.run(until=60.0)
    pool.bill(0.0, 30.0)
    pool.bill(30.0, 60.0)
    by = ctx.ledger.by_layer()
    assert by["inference"] == 0.0
    assert by["infrastructure"] == pytest.approx(2 * 60 * 3.6 / 3600)
    g = pool.gauges()
    assert g == {
        "utilization": 0.0,
        "replica_s": 2 * 60.0,  # provisioned replica-seconds since the start: the weight
        "queue_len": 0.0,
        "running": 0.0,
        "replicas": 2.0,
        "ready": 2.0,
    }


def test_gauges_report_utilization_since_last_call():
    ctx = SimContext(seed=0, horizon_s=100.0)
    pool = make_pool(ctx, FixedLatency(prefill=1.0, step=0.1), replicas=2)
    log: list[Request] = []
    submit(ctx.env, pool, Request(0, 0.0, 10, 11), log)  # busy [0, 2] on one replica
    ctx.env.run(until=1.0)
    g = pool.gauges()
    assert g["utilization"] == pytest.approx(0.5) and g["running"] == 1.0
    ctx.env.run(until=4.0)
    assert pool.gauges()["utilization"] == pytest.approx(1.0 / 6.0)


def test_protocols_and_argument_checks():
    ctx = SimContext(seed=0, horizon_s=10.0)
    pool = make_pool(ctx, FixedLatency())
    assert isinstance(pool, Stage) and isinstance(pool, Billable) and isinstance(pool, Observable)
    for kw, match in [
        (dict(replicas=0), "replicas"),
        (dict(max_batch_size=0), "max_batch_size"),
        (dict(max_queue=-1), "max_queue"),
        (dict(usd_per_replica_hour=-1.0), "usd_per_replica_hour"),
    ]:
        with pytest.raises(ValueError, match=match):
            make_pool(ctx, FixedLatency(), **kw)
    with pytest.raises(ValueError, match="LatencyModel"):
        make_pool(ctx, object())


def test_fleet_arguments_are_checked_with_their_names():
    ctx = SimContext(seed=0, horizon_s=10.0)
    for kw, match in [
        (dict(provision_s=-1.0), "provision_s=-1.0 must be"),
        (dict(billing_increment_s=0.0), "billing_increment_s=0.0 must be"),
        (dict(autoscale=dict(enabled=True, min_replicas=3, max_replicas=2)), "min_replicas=3"),
        (dict(autoscale=dict(target=0.0)), "autoscale.target=0.0 must be"),
        (dict(spot=dict(share=2.0)), "spot.share=2.0 must be"),
        (dict(crash=dict(on_crash="ignore")), "crash.on_crash='ignore' is not allowed"),
    ]:
        with pytest.raises(ValueError, match=match):
            make_pool(ctx, FixedLatency(), **kw)
