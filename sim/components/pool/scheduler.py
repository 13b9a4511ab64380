"""InferencePool: self-hosted replicas of one model with continuous (iteration-level) batching.

Scheduling
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
    ``max_queue`` is dropped with reason ``"queue_full"``.

Replica phases (prefill-first, as vLLM's default scheduler)
    Admitting requests starts one prefill iteration for all of them
    (``latency.prefill_s``) and pauses the decode of the running batch. At its end each
    admitted request has its first token (``req.first_token_at``) and joins the decode
    batch with ``output_tokens − 1`` tokens still to produce (a request with
    ``output_tokens <= 1`` is done). During decode every running sequence makes one
    token per ``decode_step_s(batch, kv_tokens)``. The step time is recomputed at each
    batch change, with the KV tokens the batch will hold half-way to its next
    completion; remaining tokens are floats advanced by ``elapsed / step`` when the
    batch changes (an admission may cut a step short: the partial step is credited).
    Prefill tokens are ``prompt_tokens − cached_prompt_tokens``; the KV reservation
    counts the whole prompt.

Prefix caching (``prefix_block_tokens`` set)
    Each replica keeps a :class:`~sim.components.prefix.PrefixCache` of prompt blocks,
    LRU, as many blocks as its KV cache holds (vLLM's automatic prefix caching keeps
    freed blocks until their memory is needed). On admission the prompt's longest
    cached prefix is looked up on the replica that admits it and skipped in prefill.
    Approximations: cached blocks do not reduce the KV reservation (no sharing of
    memory between running sequences), and a replica is chosen for load, not for its
    cache (no cache-aware routing).

Events
    The pool uses SimPy as an event calendar: each request yields one ``env.event()``
    that the pool succeeds on completion, and each replica schedules one
    ``env.timeout`` per state change (end of a prefill, next completion in decode), with
    a callback and a version number so a timer made stale by an admission is ignored.
    No event is created per token, and no process per replica.

Accounting
    A replica is *busy* while it holds at least one request (prefill or decode).
    ``bill(start, end)`` charges busy replica-seconds of the interval to layer
    ``inference`` and the remaining provisioned replica-seconds to
    ``infrastructure``, both at ``usd_per_replica_hour``; it is exact when called with
    ``end_s <= env.now`` (a replica still busy is assumed to stay busy until
    ``end_s`` when billed ahead of time).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Generator
from typing import Any

import simpy

from sim import checks
from sim.components.metering import BusyMeter
from sim.components.prefix import PrefixCache, PrefixStats
from sim.components.request import Request
from sim.engine.context import SimContext
from sim.latency import LatencyModel
from sim.metrics.histogram import LogHistogram

_IDLE, _PREFILL, _DECODE, _SWITCH = 0, 1, 2, 3
_DONE_TOL = 1e-6  # a sequence with fewer remaining decode steps than this is done


class _Seq:
    """One admitted or waiting request and its decode progress."""

    __slots__ = ("req", "event", "arrived_at", "kv", "remaining")

    def __init__(self, req: Request, event: simpy.Event, arrived_at: float, kv: int) -> None:
        self.req = req
        self.event = event
        self.arrived_at = arrived_at
        self.kv = kv  # reserved KV tokens: prompt + output
        self.remaining = 0.0  # decode steps still to run


class _Replica:
    """State of one replica: its sequences, phase, current decode segment and timer version."""

    __slots__ = (
        "index",
        "phase",
        "pending",
        "prefilling",
        "running",
        "kv_reserved",
        "seg_start",
        "step_s",
        "version",
        "prefix",
    )

    def __init__(self, index: int, prefix: PrefixCache | None = None) -> None:
        self.index = index
        self.prefix = prefix  # this replica's prefix (KV block) cache, if caching is on
        self.phase = _IDLE
        self.pending: list[_Seq] = []  # admitted, prefill not started yet
        self.prefilling: list[_Seq] = []
        self.running: list[_Seq] = []  # decoding
        self.kv_reserved = 0
        self.seg_start = 0.0
        self.step_s = 0.0
        self.version = 0

    @property
    def n_seqs(self) -> int:
        return len(self.pending) + len(self.prefilling) + len(self.running)


class InferencePool:
    """Replicas of one model behind one FIFO queue, with continuous batching (see module).

    Statistics: ``queue_wait`` (time from arrival at the pool to admission, for
    requests that arrived after ``ctx.warmup_s``) with an exact mean in
    :attr:`mean_queue_wait_s`; ``served`` completed requests;
    ``peak_kv_reserved_tokens`` the largest KV reservation any replica ever held.
    """

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
        skill: float = 1.0,
        prefix_block_tokens: int | None = None,
    ) -> None:
        if not (isinstance(name, str) and name):
            raise ValueError(f"name={name!r} must be a non-empty string")
        for attr in ("prefill_s", "decode_step_s", "kv_capacity_tokens"):
            if not hasattr(latency, attr):
                raise ValueError(
                    f"latency={latency!r} lacks {attr!r}; it must implement LatencyModel "
                    "(prefill_s, decode_step_s, kv_capacity_tokens)"
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
        self.usd_per_replica_hour = float(usd_per_replica_hour)
        self.skill = checks.number("skill", skill, ge=0, le=1)
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
        blocks = kv_cap // prefix_block_tokens if prefix_block_tokens else 0
        self._replicas = [
            _Replica(i, PrefixCache(max(blocks, 1)) if prefix_block_tokens else None)
            for i in range(self.replicas)
        ]
        self._idle = list(reversed(self._replicas))  # stack; pops replica 0 first
        self._queue: deque[_Seq] = deque()
        self._n_running = 0
        self.meter = BusyMeter(self.replicas)  # busy replica-time, for billing and utilization
        self._gauge_t = 0.0
        self._gauge_busy = 0.0

        self.queue_wait = LogHistogram()
        self.wait_sum_s = 0.0
        self.wait_n = 0
        self.served = 0
        self.peak_kv_reserved_tokens = 0

        ctx.ledger.series("inference", name)
        ctx.ledger.series("infrastructure", name)

    # -- the stage ------------------------------------------------------------------
    def handle(self, req: Request) -> Generator[simpy.Event, Any, None]:
        """Queue ``req``, wait until its last token, or end it (too long, queue full)."""
        kv = req.prompt_tokens + req.output_tokens
        if kv > self.kv_capacity_tokens:
            req.fail("too_long")
            return
        env = self.env
        seq = _Seq(req, env.event(), env.now, kv)
        queue = self._queue
        if queue or not self._admit_arrival(seq):
            if len(queue) >= self.max_queue:
                req.drop("queue_full")
                return
            queue.append(seq)
        yield seq.event
        if req.difficulty > self.skill:  # above its skill: not acceptable (NaN: not modelled)
            req.ok = False

    def _admit_arrival(self, seq: _Seq) -> bool:
        """Start ``seq`` at once on an idle replica, or a decoding one with room."""
        if self._idle:
            r = self._idle.pop()
            self.meter.begin(r.index, self.env.now)
            r.phase = _SWITCH
        elif self.max_batch_size > 1:
            best = None
            best_n = self.max_batch_size
            limit = self.kv_capacity_tokens - seq.kv
            for r in self._replicas:
                if r.phase == _DECODE and r.kv_reserved <= limit:
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

    # -- replica state machine --------------------------------------------------------
    def _admit(self, r: _Replica, seq: _Seq) -> None:
        wait = self.env.now - seq.arrived_at
        if seq.arrived_at >= self._warmup_s:
            self.queue_wait.add(wait)
            self.wait_sum_s += wait
            self.wait_n += 1
        if r.prefix is not None:  # the prompt's cached prefix is not prefilled again
            req = seq.req
            matched = r.prefix.lookup(req.blocks, self.env.now)
            self.prefix_stats.record(req, matched)  # type: ignore[union-attr]
        r.pending.append(seq)
        r.kv_reserved += seq.kv
        if r.kv_reserved > self.peak_kv_reserved_tokens:
            self.peak_kv_reserved_tokens = r.kv_reserved
        self._n_running += 1

    def _complete(self, r: _Replica, seq: _Seq) -> None:
        r.kv_reserved -= seq.kv
        self._n_running -= 1
        self.served += 1
        seq.event.succeed()

    def _advance(self, r: _Replica) -> None:
        """Credit the decode progress since the segment began; complete finished sequences."""
        now = self.env.now
        steps = (now - r.seg_start) / r.step_s if r.step_s > 0 else math.inf
        r.seg_start = now
        keep = []
        for s in r.running:
            s.remaining -= steps
            if s.remaining <= _DONE_TOL:
                self._complete(r, s)
            else:
                keep.append(s)
        r.running = keep

    def _start_prefill(self, r: _Replica) -> None:
        if r.phase == _DECODE:
            self._advance(r)
        r.prefilling, r.pending = r.pending, []
        r.phase = _PREFILL
        r.version += 1
        tokens = [max(s.req.prompt_tokens - s.req.cached_prompt_tokens, 1) for s in r.prefilling]
        timer = self.env.timeout(self.latency.prefill_s(tokens))
        timer.callbacks.append(lambda _e, r=r, v=r.version: self._on_prefill_end(r, v))

    def _on_prefill_end(self, r: _Replica, version: int) -> None:
        if version != r.version:
            return
        now = self.env.now
        running = r.running
        for s in r.prefilling:
            s.req.first_token_at = now
            s.remaining = float(s.req.output_tokens - 1)
            if s.remaining <= 0:
                self._complete(r, s)
            else:
                running.append(s)
        r.prefilling = []
        r.phase = _SWITCH
        self._next(r)

    def _on_decode_end(self, r: _Replica, version: int) -> None:
        if version != r.version:
            return
        self._advance(r)
        r.phase = _SWITCH
        self._next(r)

    def _next(self, r: _Replica) -> None:
        """After a batch change: admit from the queue, then prefill, decode or go idle."""
        queue = self._queue
        while True:
            if queue:
                cap = self.kv_capacity_tokens
                room = self.max_batch_size - len(r.running)
                while queue and room > 0 and r.kv_reserved + queue[0].kv <= cap:
                    self._admit(r, queue.popleft())
                    room -= 1
                if r.pending:
                    self._start_prefill(r)
                    return
            running = r.running
            if not running:
                r.phase = _IDLE
                self.meter.end(r.index, self.env.now)
                self._idle.append(r)
                return
            min_rem = min(s.remaining for s in running)
            b = len(running)
            kv_now = r.kv_reserved - sum(s.remaining for s in running)
            step = self.latency.decode_step_s(b, int(kv_now + b * min_rem / 2))
            if step > 0:
                r.phase = _DECODE
                r.step_s = step
                r.seg_start = self.env.now
                r.version += 1
                timer = self.env.timeout(min_rem * step)
                timer.callbacks.append(lambda _e, r=r, v=r.version: self._on_decode_end(r, v))
                return
            # zero-time decode (service-time models): everything running is done now
            for s in running:
                self._complete(r, s)
            r.running = []

    # -- billing and gauges --------------------------------------------------------------
    def busy_replica_s(self) -> float:
        """Busy replica-seconds from time 0 to now."""
        return self.meter.busy_s(self.env.now)

    def bill(self, start_s: float, end_s: float) -> None:
        """Charge busy time of ``[start_s, end_s)`` to inference and the rest to infrastructure."""
        self.meter.bill(self.ctx.ledger, self.name, start_s, end_s, self.usd_per_replica_hour)

    def gauges(self) -> dict[str, float]:
        """Busy fraction since the previous call, waiting and running request counts."""
        now = self.env.now
        busy = self.busy_replica_s()
        dt = now - self._gauge_t
        util = (busy - self._gauge_busy) / (self.replicas * dt) if dt > 0 else math.nan
        self._gauge_t, self._gauge_busy = now, busy
        return {
            "utilization": util,
            "queue_len": float(len(self._queue)),
            "running": float(self._n_running),
        }

    def report(self) -> dict[str, Any] | None:
        """What ``summary.json`` shows of this pool beyond its costs (prefix caching)."""
        if self.prefix_stats is None:
            return None
        return {
            "kind": "pool",
            "prefix_cache": self.prefix_stats.report(
                capacity_blocks_per_replica=self._replicas[0].prefix.capacity
            ),
        }

    # -- inspection ------------------------------------------------------------------------
    @property
    def queue_len(self) -> int:
        return len(self._queue)

    @property
    def running(self) -> int:
        return self._n_running

    @property
    def mean_queue_wait_s(self) -> float:
        """Exact mean time from arrival to admission (after warm-up); NaN before any."""
        return self.wait_sum_s / self.wait_n if self.wait_n else math.nan

    def kv_reserved_tokens(self) -> list[int]:
        """KV tokens reserved on each replica now."""
        return [r.kv_reserved for r in self._replicas]

    def check_invariants(self) -> None:
        """Raise AssertionError if a replica over-commits its batch or KV cache."""
        for r in self._replicas:
            seqs = r.pending + r.prefilling + r.running
            assert len(seqs) <= self.max_batch_size, (r.index, len(seqs))
            assert r.kv_reserved == sum(s.kv for s in seqs), r.index
            assert 0 <= r.kv_reserved <= self.kv_capacity_tokens, (r.index, r.kv_reserved)
            assert (r.phase == _IDLE) == (not seqs), (r.index, r.phase)
        assert self._n_running == sum(r.n_seqs for r in self._replicas)

    def __repr__(self) -> str:
        return (
            f"InferencePool({self.name!r}, replicas={self.replicas}, "
            f"max_batch_size={self.max_batch_size}, latency={self.latency!r})"
        )
