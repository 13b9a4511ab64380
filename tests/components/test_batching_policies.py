"""The pool's schedulers: static batching (whole batches, padded) and chunked prefill
(a token budget per iteration) against continuous batching, with the pool's accounting,
balancers, crashes and preemptions."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest
from poolkit import LLAMA3_8B_A100, CountingEnv, held_by, submit

from sim.checks import ConfigError
from sim.components.pool import CrashConfig, SpotConfig, make_pool
from sim.components.pool.replica import PREFILL, SEALED
from sim.components.request import Request, Status
from sim.compose import compose
from sim.engine.context import SimContext
from sim.latency import RooflineLatency
from sim.run import run


def roofline(**kw) -> RooflineLatency:
    return RooflineLatency(**{**LLAMA3_8B_A100, **kw})


class RecordingLatency:
    """Deterministic: a prefill takes ``prefill`` s, a decode step ``step`` s; calls are kept."""

    def __init__(self, prefill: float = 1.0, step: float = 0.1, kv: int = 100_000) -> None:
        self.prefill, self.step, self.kv_capacity_tokens = prefill, step, kv
        self.prefills: list[list[int]] = []
        self.decodes: list[tuple[int, int]] = []

    def prefill_s(self, prompt_tokens: Sequence[int]) -> float:
        self.prefills.append(list(prompt_tokens))
        return self.prefill

    def decode_step_s(self, batch_size: int, kv_tokens: int) -> float:
        self.decodes.append((batch_size, kv_tokens))
        return self.step


def pool_of(ctx: SimContext, latency, scheduler: str, **kw):
    args = dict(replicas=1, max_batch_size=8, max_queue=10**6, usd_per_replica_hour=3.6)
    args.update(kw)
    pool = make_pool("gpu", ctx, latency, scheduler=scheduler, **args)
    pool.start()
    return pool


# --- static batching: saturated throughput against continuous batching --------------------
def _steady_output_rate(reqs: list[Request]) -> float:
    """Output tokens/s of the requests done between the 10 % and the 90 % completion."""
    done = sorted(reqs, key=lambda r: r.done_at)
    assert all(r.status == Status.COMPLETED for r in done)
    t_a = done[math.ceil(0.1 * len(done))].done_at
    t_b = done[math.floor(0.9 * len(done))].done_at
    tokens = sum(r.output_tokens for r in done if t_a < r.done_at <= t_b)
    return tokens / (t_b - t_a)


def _saturated(scheduler: str, sizes: list[tuple[int, int]]) -> float:
    ctx = SimContext(seed=0, horizon_s=1e9)
    pool = pool_of(ctx, roofline(), scheduler, max_batch_size=32)
    reqs = submit(ctx, pool, [Request(i, 0.0, p, o) for i, (p, o) in enumerate(sizes)])
    ctx.env.run()
    assert pool.served == len(reqs)
    return _steady_output_rate(reqs)


def test_static_batching_loses_throughput_on_mixed_lengths():
    g = np.random.default_rng(7)
    sizes = [
        (int(g.lognormal(math.log(800), 0.9)) + 1, int(g.lognormal(math.log(120), 0.9)) + 1)
        for _ in range(800)
    ]
    static, continuous = _saturated("static", sizes), _saturated("continuous", sizes)
    # padding to the longest prompt and output of each batch wastes most of its steps
    assert static < 0.7 * continuous


def test_static_batching_matches_continuous_on_a_uniform_workload():
    # 1 + 20 batches of 32: the first request starts alone in both schedulers, then
    # batches of 32 run in lockstep (continuous batching has nothing to fill in)
    sizes = [(500, 100)] * (1 + 20 * 32)
    static, continuous = _saturated("static", sizes), _saturated("continuous", sizes)
    assert static == pytest.approx(continuous, rel=1e-9)


# --- static batching: one batch at a time -------------------------------------------------
def test_static_batch_is_padded_and_released_together():
    ctx = SimContext(seed=0, horizon_s=100.0)
    lat = RecordingLatency(prefill=1.0, step=0.1)
    pool = pool_of(ctx, lat, "static", max_batch_size=8)
    first = submit(ctx, pool, [Request(0, 0.0, 50, 3)])[0]  # finds the replica idle: alone
    batch = submit(ctx, pool, [Request(1, 0.0, 100, 5), Request(2, 0.0, 300, 20),
                               Request(3, 0.0, 200, 10)])  # fmt: skip
    late = submit(ctx, pool, [Request(4, 0.0, 10, 2)], at=2.5)[0]  # during the batch
    ctx.env.run(until=3.0)
    r = pool.fleet.replicas[0]
    assert r.phase == SEALED and held_by(r) == batch and pool.queue_len == 1  # late waits
    ctx.env.run()
    # batch 1: prefill [0, 1], 2 steps -> 1.2; batch 2: prefill [1.2, 2.2], 19 steps -> 4.1
    assert first.first_token_at == pytest.approx(1.0) and first.done_at == pytest.approx(1.2)
    assert all(q.first_token_at == pytest.approx(2.2) for q in batch)
    assert len({q.done_at for q in batch}) == 1 and batch[0].done_at == pytest.approx(4.1)
    # the late request waited for the batch to end, though the batch had room
    assert late.first_token_at == pytest.approx(5.1) and late.done_at == pytest.approx(5.2)
    assert pool.mean_queue_wait_s == pytest.approx((0 + 3 * 1.2 + (4.1 - 2.5)) / 5)
    # padding: three prompts of the longest; the batch decodes at size 3 all along, with
    # the KV of the padded batch half-way through its 19 steps
    assert lat.prefills == [[50], [300, 300, 300], [10]]
    assert lat.decodes[1] == (3, int(3 * 301 + 3 * 19 / 2))
    assert pool.busy_replica_s() == pytest.approx(5.2)


def test_static_batches_take_what_fits_the_kv_cache_in_fifo_order():
    ctx = SimContext(seed=0, horizon_s=100.0)
    lat = RecordingLatency(kv=1000)
    pool = pool_of(ctx, lat, "static", max_batch_size=8)
    reqs = submit(ctx, pool, [Request(i, 0.0, 300, 100) for i in range(6)])
    ctx.env.run()
    # 400 KV tokens each: the first alone, then two batches of two (800 of 1000), then one
    assert [len(p) for p in lat.prefills] == [1, 2, 2, 1]
    assert pool.peak_kv_reserved_tokens == 800
    assert [q.done_at for q in reqs] == sorted(q.done_at for q in reqs)


# --- chunked prefill --------------------------------------------------------------------------
def test_chunked_prompt_longer_than_the_budget_takes_ceil_iterations():
    lat = roofline()
    ctx = SimContext(seed=0, horizon_s=100.0)
    pool = pool_of(ctx, lat, "chunked", max_batch_size=8, max_batched_tokens=1024)
    req = submit(ctx, pool, [Request(0, 0.0, 2500, 3)])[0]
    ctx.env.run()
    # ceil(2500 / 1024) = 3 iterations: 1024, 1024 and 452 tokens after 0, 1024 and 2048
    by_hand = (
        lat.mixed_step_s([1024], [0], 0, 0)
        + lat.mixed_step_s([1024], [1024], 0, 0)
        + lat.mixed_step_s([452], [2048], 0, 0)
    )
    assert req.first_token_at == pytest.approx(by_hand, rel=1e-12)
    # compute-bound chunks: the FLOPs of one 2,500-token prefill, in three iterations
    assert req.first_token_at == pytest.approx(lat.prefill_s([2500]), rel=1e-9)
    # then two decode steps at batch size 1 (a segment, as continuous batching does)
    step = lat.decode_step_s(1, int(2501 + 2 / 2))
    assert req.done_at == pytest.approx(by_hand + 2 * step, rel=1e-12)


def test_chunked_decode_shares_iterations_with_a_long_prompt():
    """A running sequence keeps making one token per mixed iteration while a long prompt
    is chunked; continuous batching pauses it for the whole prefill."""
    lat = roofline()
    budget = 512
    long_prompt = 8000
    # the longest iteration while the long prompt is chunked: 511 prompt tokens after
    # nearly all of the prompt, next to the one decoding sequence
    bound = lat.mixed_step_s([budget - 1], [long_prompt - 1], 1, 200 + 400)
    stalls = {}
    for scheduler in ("chunked", "continuous"):
        ctx = SimContext(seed=0, horizon_s=100.0)
        env = ctx.env
        pool = pool_of(ctx, lat, scheduler, max_batch_size=8, max_batched_tokens=budget)
        a = submit(ctx, pool, [Request(0, 0.0, 200, 400)])[0]
        b = submit(ctx, pool, [Request(1, 0.0, long_prompt, 2)], at=0.5)[0]
        env.run(until=0.5)
        seq_a = pool.fleet.replicas[0].running[0]
        assert seq_a.req is a
        changes = []  # (time, A's remaining) whenever the batch loop credits A
        last = seq_a.remaining
        while env.peek() < math.inf and math.isnan(b.first_token_at):
            env.step()
            if seq_a.remaining != last:
                changes.append((env.now, seq_a.remaining))
                last = seq_a.remaining
        # the times A made a token after B arrived (0.5 itself: the segment was cut)
        times = [0.5] + [t for t, _ in changes if t > 0.5]
        stalls[scheduler] = (np.diff(times), b.first_token_at - 0.5)
    gaps, _ = stalls["chunked"]
    assert len(gaps) == math.ceil(long_prompt / (budget - 1))  # one token of A per iteration
    assert max(gaps) <= bound
    gaps, ttft = stalls["continuous"]
    assert len(gaps) == 0 and ttft == pytest.approx(lat.prefill_s([long_prompt]))
    assert ttft > 5 * bound  # A waits for the whole prefill under continuous batching


def test_chunked_with_a_large_budget_matches_continuous_one_request_at_a_time():
    g = np.random.default_rng(3)
    sizes = [(int(g.integers(1, 4000)), int(g.integers(1, 200))) for _ in range(30)]
    out = {}
    for scheduler in ("chunked", "continuous"):
        ctx = SimContext(seed=0, horizon_s=1e6)
        pool = pool_of(ctx, roofline(), scheduler, max_batched_tokens=4096)
        reqs = [
            submit(ctx, pool, [Request(i, 0.0, p, o)], at=100.0 * i)[0]
            for i, (p, o) in enumerate(sizes)
        ]
        ctx.env.run()
        out[scheduler] = reqs
    for c, k in zip(out["chunked"], out["continuous"]):
        assert c.first_token_at - c.arrived_at > 0
        assert c.first_token_at == pytest.approx(k.first_token_at, rel=1e-12)
        assert c.done_at == pytest.approx(k.done_at, rel=1e-12)


def test_chunked_iterations_respect_the_budget_and_the_batch():
    ctx = SimContext(seed=4, horizon_s=1e9)
    env = ctx.env
    budget = 256
    pool = pool_of(ctx, roofline(memory_gb=24), "chunked", replicas=2, max_batch_size=16,
                   max_batched_tokens=budget)  # fmt: skip
    g = ctx.rng.stream("test.tokens")
    reqs = [Request(i, 0.0, int(g.integers(1, 3000)), int(g.integers(1, 300))) for i in range(400)]
    for i, q in enumerate(reqs):
        submit(ctx, pool, [q], at=0.05 * i)
    seen = 0
    while env.peek() < math.inf:
        env.step()
        for r in pool.fleet.replicas:
            if r.phase == PREFILL and r.chunks:
                seen += 1
                assert len(r.running) + sum(r.chunks) <= budget
                assert all(c > 0 for c in r.chunks) and len(r.chunks) <= len(r.prefilling)
                # every chunk but the last finishes its prompt
                for s, c in zip(r.prefilling[: len(r.chunks) - 1], r.chunks):
                    assert c == s.prefill_left
        pool.check_invariants()
    assert seen > 100
    assert all(q.status == Status.COMPLETED for q in reqs)
    assert all(q.arrived_at < q.first_token_at <= q.done_at for q in reqs)


# --- conservation and losing replicas ------------------------------------------------------
@pytest.mark.parametrize("balancer", ["central", "round_robin"])
@pytest.mark.parametrize("scheduler", ["static", "chunked"])
def test_crash_requeues_exactly_what_the_replica_held(scheduler, balancer):
    ctx = SimContext(seed=0, horizon_s=1e6)
    crash = CrashConfig(mtbf_h=None, restart_s=10.0, on_crash="requeue")
    pool = pool_of(ctx, roofline(), scheduler, replicas=2, max_batch_size=4,
                   max_batched_tokens=512, balancer=balancer, crash=crash, provision_s=5.0)  # fmt: skip
    reqs = submit(ctx, pool, [Request(i, 0.0, 1500, 200) for i in range(12)])
    # static: the first request ran alone, a batch of 4 decodes; chunked: prompts in chunks
    t_crash = 4.0 if scheduler == "static" else 0.3
    ctx.env.run(until=t_crash)
    victim = pool.fleet.replicas[0]
    assert victim.phase == (SEALED if scheduler == "static" else PREFILL)
    held = held_by(victim) + ([s.req for s in victim.queue] if balancer != "central" else [])
    assert len(held) >= 2
    pool.fleet.crash(victim)
    pool.check_invariants()
    assert not held_by(victim) and victim.kv_reserved == 0
    ctx.env.run()
    assert all(q.status == Status.COMPLETED for q in reqs)
    assert pool.served == len(reqs)  # each completed once (a second succeed() would raise)
    assert pool.resilience()["requeued_by_crash"] == len(held)
    assert all(q.first_token_at > t_crash for q in held)  # their progress was lost
    assert pool.running == 0 and pool.queue_len == 0
    pool.check_invariants()


def _everything_on(scheduler: str, seed: int):
    ctx = SimContext(seed=seed, horizon_s=3000.0)
    pool = make_pool(
        "gpu",
        ctx,
        roofline(memory_gb=24),
        scheduler=scheduler,
        balancer="power_of_two" if seed % 2 else "central",
        replicas=2,
        max_batch_size=16,
        max_batched_tokens=512,
        max_queue=60,
        usd_per_replica_hour=3.6,
        provision_s=30.0,
        autoscale=dict(enabled=True, interval_s=20.0, min_replicas=1, max_replicas=4,
                       cooldown_s=60.0, target=0.6),
        spot=SpotConfig(share=0.5, preemptions_per_h=20.0, notice_s=5.0, on_preempt="requeue"),
        crash=CrashConfig(mtbf_h=0.05, restart_s=30.0, on_crash="fail"),
    )  # fmt: skip
    pool.start()
    env, gaps, sizes = ctx.env, ctx.rng.stream("test.arrivals"), ctx.rng.stream("test.tokens")
    sent: list[Request] = []

    def one(req):
        yield from pool.handle(req)
        if req.in_flight:
            req.status, req.done_at = Status.COMPLETED, env.now

    def source():  # bursts of 6 rps for 2 minutes out of every 10
        i = 0
        while True:
            rate = 6.0 if (env.now % 600.0) < 120.0 else 0.2
            yield env.timeout(gaps.exponential(1.0 / rate))
            p, o = int(sizes.integers(1, 6000)), int(sizes.integers(1, 400))
            req = Request(i, env.now, p, o)
            sent.append(req)
            env.process(one(req))
            i += 1

    def audit():
        while True:
            pool.check_invariants()
            yield env.timeout(1.7)

    env.process(source())
    env.process(audit())
    env.run(until=3000.0)
    return pool, sent


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("scheduler", ["static", "chunked"])
def test_conservation_with_crashes_preemptions_and_autoscaling(scheduler, seed):
    pool, sent = _everything_on(scheduler, seed)
    res = pool.resilience()
    assert res["crashes"] > 0 and res["preemptions"] > 0
    status = [r.status for r in sent]
    done, failed = status.count(Status.COMPLETED), status.count(Status.FAILED)
    dropped, flying = status.count(Status.DROPPED), status.count(Status.IN_FLIGHT)
    assert done > 100 and len(sent) == done + failed + dropped + flying
    assert flying == pool.running + pool.queue_len  # in flight: held or waiting
    assert pool.served == done
    reasons = {r.reason for r in sent if r.status == Status.FAILED}
    assert reasons <= {"gpu:crash", "too_long"}
    assert failed - sum(r.reason == "too_long" for r in sent) == res["failed_by_crash"]
    pool.check_invariants()


# --- configuration, reports and determinism -----------------------------------------------------
def test_chunked_needs_roofline_latency():
    cfg = compose("copilot_like", ["pools.gpu.scheduler=chunked", "pools.gpu.latency=exponential",
                                   "workload.users=10", "horizon_s=3600", "progress=false",
                                   "plots=false"])  # fmt: skip
    with pytest.raises(ConfigError) as err:
        run(cfg)
    assert str(err.value).startswith(
        "pools.gpu.scheduler='chunked' needs pools.gpu.latency='roofline'"
    )
    cfg = compose("copilot_like", ["pools.gpu.scheduler=chunked", "pools.gpu.max_batched_tokens=32",
                                   "workload.users=10", "horizon_s=3600", "progress=false",
                                   "plots=false"])  # fmt: skip
    with pytest.raises(ConfigError, match=r"^pools.gpu.max_batched_tokens=32 and "
                       r"pools.gpu.max_batch_size=64 need max_batched_tokens >= max_batch_size"):  # fmt: skip
        run(cfg)


def test_pool_arguments_are_checked():
    ctx = SimContext(seed=0, horizon_s=10.0)
    with pytest.raises(ValueError, match="max_batched_tokens=8 and max_batch_size=16"):
        pool_of(ctx, roofline(), "chunked", max_batch_size=16, max_batched_tokens=8)
    with pytest.raises(ValueError, match="lacks 'mixed_step_s'; the chunked scheduler"):
        pool_of(ctx, RecordingLatency(), "chunked")
    with pytest.raises(ValueError, match="scheduler='fifo' is not allowed"):
        pool_of(ctx, roofline(), "fifo")


@pytest.mark.parametrize("scheduler", ["static", "chunked"])
def test_same_seed_same_results(scheduler):
    over = [f"pools.gpu.scheduler={scheduler}", "workload.users=200", "horizon_s=43200",
            "pools.gpu.crash.mtbf_h=2", "progress=false", "plots=false"]  # fmt: skip
    a = run(compose("copilot_like", over)).summary
    b = run(compose("copilot_like", over)).summary
    assert a["requests"]["completed"] > 1000
    assert a["components"]["gpu"]["scheduler"] == scheduler
    for key in ("requests", "latency_s", "cost_usd", "resilience"):
        assert a[key] == b[key]


@pytest.mark.parametrize("scheduler", ["continuous", "static", "chunked"])
def test_events_do_not_grow_with_output_tokens(scheduler):
    """Timers per batch change (or per mixed iteration), none per token."""

    def events(output_tokens: int) -> int:
        ctx = SimContext(seed=0, horizon_s=1e9, env=CountingEnv())
        pool = pool_of(ctx, roofline(), scheduler, max_batch_size=16, max_batched_tokens=1024)
        submit(ctx, pool, [Request(i, 0.0, 1000, output_tokens) for i in range(64)])
        submit(ctx, pool, [Request(64 + i, 0.0, 3000, output_tokens) for i in range(8)], at=1e4)
        ctx.env.run()
        assert pool.served == 72
        return ctx.env.scheduled

    few, many = events(10), events(1000)  # 720 and 72,000 output tokens
    assert many <= 1.1 * few and many < 1000
