"""InferencePool: self-hosted replicas of one model as one stage, behind one FIFO queue.

Scheduling (the ``central`` balancer; the others are in :mod:`.balancing`)
    One FIFO queue for the whole pool. A replica *has room* for the request at the
    head when it runs fewer than ``max_batch_size`` sequences and the request's
    ``prompt_tokens + output_tokens`` fit in its free KV cache. That whole amount is
    reserved on admission and released on completion, so a running sequence is never
    preempted (vLLM would instead grow the KV cache block by block and preempt on
    overflow; reserving up front is the conservative, preemption-free variant). The
    head of the queue blocks the requests behind it (strict FIFO). An arrival goes to
    an idle replica if there is one, otherwise to the decoding replica with room that
    runs the fewest sequences. A request larger than a whole replica's KV cache fails
    with reason ``"too_long"``; an arrival that would make the queue longer than
    ``max_queue`` is dropped with reason ``"queue_full"``. Only READY replicas
    (:mod:`.replica`) take work; with none ready (scaled to zero, all down) arrivals
    wait in the queue and, if no replica exists at all, one is started at once. How a
    replica runs what it admitted — prefill, decode, prefix caching — is
    :mod:`.scheduler` (continuous batching), :mod:`.static` or :mod:`.chunked`; a
    replica whose batch is closed to arrivals (a static batch, chunked prefill's mixed
    iterations) takes work from the queue at its next batch change.

Replicas that come and go (:mod:`.lifecycle`, :mod:`.autoscaler`)
    The fleet creates, drains and releases replicas; a crash or a preemption takes a
    replica's requests out of its batch (:meth:`~.scheduler.BatchScheduler.evict`):
    they go back to the head of the queue and prefill again (their progress is lost),
    or fail.

Accounting (:mod:`.billing`)
    A replica is *busy* while it holds at least one request (prefill or decode).
    ``bill(start, end)`` charges busy replica-seconds of the interval to layer
    ``inference`` and the remaining provisioned replica-seconds (cold starts, idle,
    draining, down) to ``infrastructure``; it is exact when called with
    ``end_s <= env.now`` (a replica still busy is assumed to stay busy until
    ``end_s`` when billed ahead of time). Gauges per bucket: ``utilization`` (busy
    share of the provisioned replica-time since the last bucket), ``queue_len``,
    ``running``, ``replicas`` (provisioned) and ``ready``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Generator, Iterable
from typing import Any

import simpy

from sim import checks
from sim.components.pool.billing import ReplicaBilling
from sim.components.pool.config import AutoscaleConfig, CrashConfig, SpotConfig, checked
from sim.components.pool.replica import (
    DECODE,
    DRAINING,
    IDLE,
    NO_QUEUE,
    READY,
    SWITCH,
    Replica,
    Seq,
)
from sim.components.pool.scheduler import BatchScheduler
from sim.components.prefix import PrefixCache, PrefixStats
from sim.components.request import Request
from sim.engine.context import SimContext
from sim.latency import LatencyModel
from sim.metrics.histogram import LogHistogram


class InferencePool(BatchScheduler):
    """Replicas of one model behind one FIFO queue, with continuous batching (see module).

    With another scheduler the pool is a subclass that puts the policy's batch loop
    first (:class:`~.static.StaticBatching`, :class:`~.chunked.ChunkedBatching`; see
    :func:`~sim.components.pool.make_pool`).

    Statistics: ``queue_wait`` (time from arrival at the pool to admission, for
    requests that arrived after ``ctx.warmup_s``) with an exact mean in
    :attr:`mean_queue_wait_s`; ``served`` completed requests;
    ``peak_kv_reserved_tokens`` the largest KV reservation any replica ever held.
    ``fleet`` (:class:`~.lifecycle.Fleet`) holds the replicas and their life cycle,
    ``autoscaler`` (:class:`~.autoscaler.Autoscaler`, or None) resizes it, ``billing``
    (:class:`~.billing.ReplicaBilling`) charges it.
    """

    balancer = "central"

    def __init__(
        self,
        name: str,
        ctx: SimContext,
        latency: LatencyModel,
        *,
        replicas: int,
        max_batch_size: int,
        max_queue: int,
        usd_per_replica_hour: float,
        max_batched_tokens: int = 2048,
        skill: float = 1.0,
        prefix_block_tokens: int | None = None,
        provision_s: float = 300.0,
        billing_increment_s: float = 1.0,
        billing_minimum_s: float = 60.0,
        autoscale: Any = None,
        spot: Any = None,
        crash: Any = None,
    ) -> None:
        from sim.components.pool.autoscaler import Autoscaler
        from sim.components.pool.lifecycle import Fleet

        if not (isinstance(name, str) and name):
            raise ValueError(f"name={name!r} must be a non-empty string")
        for attr in self.latency_needs:
            if not hasattr(latency, attr):
                raise ValueError(
                    f"latency={latency!r} lacks {attr!r}; the {self.scheduler} scheduler "
                    f"needs a LatencyModel with {', '.join(self.latency_needs)}"
                )
        kv_cap = checks.integer("latency.kv_capacity_tokens", latency.kv_capacity_tokens, 1)
        checks.non_negative("usd_per_replica_hour", usd_per_replica_hour)
        self.name = name
        self.ctx = ctx
        self.env = ctx.env
        self.latency = latency
        self.replicas = checks.integer("replicas", replicas, 1)
        self.max_batch_size = checks.integer("max_batch_size", max_batch_size, 1)
        self.max_queue = checks.integer("max_queue", max_queue, 0)
        # tokens per iteration of the chunked scheduler (the others do not read it)
        self.max_batched_tokens = checks.integer("max_batched_tokens", max_batched_tokens, 1)
        self.usd_per_replica_hour = float(usd_per_replica_hour)
        self.skill = checks.number("skill", skill, ge=0, le=1)
        self.build_notes: list[str] = []  # what the builder wants said (an uncalibrated device)
        # request attributes it reads: difficulty to judge answers, blocks to reuse prefixes
        self.needs = ("difficulty",) if self.skill < 1 else ()
        self.prefix_stats: PrefixStats | None = None
        if prefix_block_tokens is not None:
            self.prefix_stats = PrefixStats(prefix_block_tokens)
            self.needs += ("blocks",)
        self.affects_quality = self.skill < 1
        self.kv_capacity_tokens = kv_cap
        self._warmup_s = ctx.warmup_s
        # prefix caching: each replica keeps as many blocks as its KV cache holds
        self.prefix_capacity_blocks = (
            max(kv_cap // prefix_block_tokens, 1) if prefix_block_tokens else None
        )

        self._queue: deque[Seq] = deque()  # the pool's queue (central: every waiting request)
        self._n_waiting = 0  # requests waiting in any queue of the pool
        self._active: list[Replica] = []  # READY replicas, in the order they became ready
        self._idle: list[Replica] = []  # READY and idle; a stack
        self._n_running = 0
        self._gauge_t = 0.0
        self._gauge_busy = 0.0
        self._gauge_prov = 0.0

        self.queue_wait = LogHistogram()
        self.wait_sum_s = 0.0
        self.wait_n = 0
        self.served = 0
        self.peak_kv_reserved_tokens = 0

        autoscale = checked(AutoscaleConfig, autoscale, "autoscale.")
        spot = checked(SpotConfig, spot, "spot.")
        crash = checked(CrashConfig, crash, "crash.")
        self.billing = ReplicaBilling(
            ctx.ledger,
            name,
            usd_per_replica_hour=usd_per_replica_hour,
            on_demand=0,
            spot_discount=spot.discount,
            increment_s=billing_increment_s,
            minimum_s=billing_minimum_s,
            warmup_s=ctx.warmup_s,
            spot_enabled=spot.share > 0,
        )
        self.autoscaler: Autoscaler | None = None
        self.fleet = Fleet(
            self,
            replicas=self.replicas,
            provision_s=provision_s,
            autoscale=autoscale,
            spot=spot,
            crash=crash,
        )
        if autoscale.enabled:
            self.autoscaler = Autoscaler(self, autoscale)

        ctx.ledger.series("inference", name)
        ctx.ledger.series("infrastructure", name)

    def start(self) -> None:
        """Arm the timers beside the requests: crashes, preemptions, the autoscaler."""
        self.fleet.start()
        if self.autoscaler is not None:
            self.autoscaler.start()

    # -- the stage ------------------------------------------------------------------
    def handle(self, req: Request) -> Generator[simpy.Event, Any, None]:
        """Queue ``req``, wait until its last token, or end it (too long, queue full)."""
        kv = req.prompt_tokens + req.output_tokens
        if kv > self.kv_capacity_tokens:
            req.fail("too_long")
            return
        env = self.env
        seq = Seq(req, env.event(), env.now, kv)
        queue = self._queue
        if queue or not self._admit_arrival(seq):
            if len(queue) >= self.max_queue:
                req.drop("queue_full")
                return
            queue.append(seq)
            self._n_waiting += 1
            if not self._active:
                self.fleet.wake()  # nothing ready: start a replica if none is coming
        yield seq.event
        if req.difficulty > self.skill:  # above its skill: not acceptable (NaN: not modelled)
            req.ok = False

    def _admit_arrival(self, seq: Seq) -> bool:
        """Start ``seq`` at once on an idle replica, or a decoding one with room."""
        if self._idle:
            r = self._idle.pop()
            r.meter.begin(r.index, self.env.now)
            r.phase = SWITCH
        elif self.max_batch_size > 1:
            best = None
            best_n = self.max_batch_size
            limit = self.kv_capacity_tokens - seq.kv
            for r in self._active:
                if r.phase == DECODE and r.kv_reserved <= limit:
                    n = len(r.running)
                    if n < best_n:
                        best, best_n = r, n
            if best is None:
                return False
            r = best
        else:
            return False
        self._admit(r, seq)
        self._start_prefill(r)
        return True

    # -- the fleet's hooks (sim/components/pool/lifecycle.py) ---------------------------
    def new_replica(self, index: int, spot: bool, state: int, t: float) -> Replica:
        """A replica object of this pool (its meter, prefix cache); the fleet owns its life."""
        cap = self.prefix_capacity_blocks
        return Replica(
            index,
            self.billing.meter(spot),
            PrefixCache(cap) if cap else None,
            state=state,
            spot=spot,
            born_at=t,
        )

    def join_initial(self, replicas: list[Replica]) -> None:
        """The fleet's first replicas, ready at time 0 (replica 0 is used first)."""
        for r in replicas:
            r.queue = self._queue
        self._active = list(replicas)
        self._idle = list(reversed(replicas))

    def join(self, r: Replica) -> None:
        """``r`` became READY: it takes work from now on."""
        r.queue = self._queue
        self._active.append(r)
        if r.prefix is not None:  # a restarted server starts with an empty cache
            r.prefix = PrefixCache(self.prefix_capacity_blocks)
        if self._queue:
            self._kick(r)
        else:
            self._idle.append(r)

    def leave(self, r: Replica) -> None:
        """``r`` stops taking new work (draining, down): it keeps what it holds."""
        self._active.remove(r)
        if r.phase == IDLE and r in self._idle:
            self._idle.remove(r)
        r.queue = NO_QUEUE

    def _went_idle(self, r: Replica) -> None:
        if r.state == READY:
            self._idle.append(r)
        elif r.state == DRAINING:
            self.fleet.emptied(r)

    def outstanding(self, r: Replica) -> int:
        """Requests ``r`` holds: its batch (and its own queue, with a per-replica balancer)."""
        return r.n_seqs if r.queue is self._queue else r.n_seqs + len(r.queue)

    def is_empty(self, r: Replica) -> bool:
        """``r`` holds no request (in its batch or its own queue)."""
        return r.phase == IDLE and (r.queue is self._queue or not r.queue)

    def requeue(self, seqs: list[Seq]) -> None:
        """Put ``seqs`` back at the head of the queue, in order; idle replicas take them."""
        self._queue.extendleft(reversed(seqs))
        self._n_waiting += len(seqs)
        idle = self._idle
        while self._queue and idle:
            self._kick(idle.pop())

    def fail(self, seqs: Iterable[Seq], reason: str) -> None:
        """End ``seqs`` as failed with ``reason``."""
        for s in seqs:
            s.req.fail(reason)
            s.event.succeed()

    # -- billing and gauges --------------------------------------------------------------
    def busy_replica_s(self) -> float:
        """Busy replica-seconds from time 0 to now."""
        return self.billing.busy_s(self.env.now)

    def bill(self, start_s: float, end_s: float) -> None:
        """Charge busy time of ``[start_s, end_s)`` to inference and the rest to infrastructure."""
        self.billing.bill(start_s, end_s)

    def gauges(self) -> dict[str, float]:
        """Busy share of provisioned replica-time since the previous call; counts now."""
        now = self.env.now
        billing = self.billing
        busy = self.busy_replica_s()
        prov_total = billing.replica_s_total(now)
        if billing.changed_since(self._gauge_t):
            prov = prov_total - self._gauge_prov
        else:  # a fleet that did not change: exactly replicas x dt
            prov = billing.provisioned() * (now - self._gauge_t)
        util = (busy - self._gauge_busy) / prov if prov > 0 else math.nan
        self._gauge_t, self._gauge_busy, self._gauge_prov = now, busy, prov_total
        return {
            "utilization": util,
            "replica_s": prov,  # provisioned replica-seconds of the bucket: utilization's weight
            "queue_len": float(self._n_waiting),
            "running": float(self._n_running),
            "replicas": float(billing.provisioned()),
            "ready": float(len(self._active)),
        }

    def notes(self) -> list[str]:
        """Warnings for ``summary.json`` ``notes`` (set by the builder)."""
        return list(self.build_notes)

    def report(self) -> dict[str, Any] | None:
        """What ``summary.json`` shows of this pool beyond its costs (prefix caching, fleet)."""
        out: dict[str, Any] = {"kind": "pool"}
        if self.prefix_stats is not None:
            out["prefix_cache"] = self.prefix_stats.report(
                capacity_blocks_per_replica=self.prefix_capacity_blocks
            )
        if self.balancer != "central":
            out["balancer"] = self.balancer
        if self.scheduler != "continuous":
            out["scheduler"] = self.scheduler
        fleet = self.fleet.report()
        if fleet is not None:
            out["autoscaling"] = fleet
        return out if len(out) > 1 else None

    def resilience(self) -> dict[str, Any] | None:
        """Crashes, preemptions and the requests each re-queued or failed; None if neither can happen."""
        return self.fleet.resilience()

    # -- inspection ------------------------------------------------------------------------
    @property
    def queue_len(self) -> int:
        """Requests waiting (in the pool's queue and the replicas' own queues)."""
        return self._n_waiting

    @property
    def running(self) -> int:
        return self._n_running

    @property
    def ready(self) -> int:
        """READY replicas now."""
        return len(self._active)

    def kv_reserved_tokens(self) -> list[int]:
        """KV tokens reserved on each replica now."""
        return [r.kv_reserved for r in self.fleet.replicas]

    def check_invariants(self) -> None:
        """Raise AssertionError if a replica over-commits its batch or KV cache."""
        for r in self.fleet.replicas:
            seqs = r.pending + r.prefilling + r.running
            assert len(seqs) <= self.max_batch_size, (r.index, len(seqs))
            assert r.kv_reserved == sum(s.kv for s in seqs), r.index
            assert 0 <= r.kv_reserved <= self.kv_capacity_tokens, (r.index, r.kv_reserved)
            assert (r.phase == IDLE) == (not seqs), (r.index, r.phase)
            assert r.state == READY or r not in self._active, r
        assert self._n_running == sum(r.n_seqs for r in self.fleet.replicas)
        own = sum(len(r.queue) for r in self.fleet.replicas if r.queue is not self._queue)
        assert self._n_waiting == len(self._queue) + own, (self._n_waiting, len(self._queue), own)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.name!r}, replicas={self.fleet.target}, "
            f"max_batch_size={self.max_batch_size}, latency={self.latency!r})"
        )
