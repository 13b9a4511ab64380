"""BatchScheduler: continuous (iteration-level) batching on each replica of a pool.

How a replica runs the requests it admitted; which requests it admits, and when,
belongs to the pool that owns it (:mod:`.central` for one FIFO queue, :mod:`.balancing`
for per-replica queues), which also holds the replicas' life cycle and bills. This is
the ``continuous`` scheduler (the default) and the base of the other two, which override
the batch loop and keep its accounting: :mod:`.static` (whole batches, padded) and
:mod:`.chunked` (a token budget per iteration); ``pools.NAME.scheduler`` picks one.

What a policy gives the pools (the named hooks)
    ``_start_prefill(r)`` starts the requests the pool admitted on ``r`` at once
    (``r.pending``: an arrival that found ``r`` idle, or in phase ``DECODE`` with room);
    ``_next(r)`` takes the replica from a batch change to its next timer, admitting from
    ``r.queue``; ``evict(r)`` takes back everything ``r`` holds. A replica takes an
    arrival at once only when idle or in phase ``DECODE``, so a policy closes its
    batches to arrivals by using other phases (:mod:`.replica`).

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
    a callback and a version number so a timer made stale by an admission or a crash is
    ignored. No event is created per token, and no process per replica.

Losing a replica
    A crash or a preemption takes every request out of a replica (:meth:`BatchScheduler.
    evict`): its KV reservation is freed, its timer made stale, its busy period closed;
    the requests' progress is lost (they prefill again wherever they go next).
"""

from __future__ import annotations

import math

from sim.components.pool.replica import DECODE, IDLE, NO_QUEUE, PREFILL, SWITCH, Replica, Seq

_DONE_TOL = 1e-6  # a sequence with fewer remaining decode steps than this is done


class BatchScheduler:
    """Continuous batching on a pool's replicas (see module); the pool subclasses it.

    The subclass sets what the loop reads — ``env``, ``latency``, ``max_batch_size``,
    ``kv_capacity_tokens``, ``prefix_stats``, the queue each replica takes work from
    (``replica.queue``), the pool's queue ``_queue`` with its idle stack ``_idle`` and
    the count ``_n_waiting`` — and decides what else an idle replica does
    (``_went_idle``). Statistics: ``queue_wait`` (arrival at the pool to admission,
    requests after the warm-up), ``served``, ``peak_kv_reserved_tokens``.
    """

    scheduler = "continuous"  # the name in pools.NAME.scheduler
    # what the loop calls on the latency model (the pool checks it has them)
    latency_needs: tuple[str, ...] = ("prefill_s", "decode_step_s", "kv_capacity_tokens")

    def _admit(self, r: Replica, seq: Seq) -> None:
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

    def _complete(self, r: Replica, seq: Seq) -> None:
        r.kv_reserved -= seq.kv
        self._n_running -= 1
        self.served += 1
        seq.event.succeed()

    def _advance(self, r: Replica) -> None:
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

    def _start_prefill(self, r: Replica) -> None:
        if r.phase == DECODE:
            self._advance(r)
        r.prefilling, r.pending = r.pending, []
        r.phase = PREFILL
        r.version += 1
        tokens = [max(s.req.prompt_tokens - s.req.cached_prompt_tokens, 1) for s in r.prefilling]
        timer = self.env.timeout(self.latency.prefill_s(tokens))
        timer.callbacks.append(lambda _e, r=r, v=r.version: self._on_prefill_end(r, v))

    def _on_prefill_end(self, r: Replica, version: int) -> None:
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
        r.phase = SWITCH
        self._next(r)

    def _on_decode_end(self, r: Replica, version: int) -> None:
        if version != r.version:
            return
        self._advance(r)
        r.phase = SWITCH
        self._next(r)

    def _next(self, r: Replica) -> None:
        """After a batch change: admit from the queue, then prefill, decode or go idle."""
        queue = r.queue
        while True:
            if queue:
                cap = self.kv_capacity_tokens
                room = self.max_batch_size - len(r.running)
                while queue and room > 0 and r.kv_reserved + queue[0].kv <= cap:
                    self._admit(r, queue.popleft())
                    room -= 1
                if r.pending:
                    self._n_waiting -= len(r.pending)
                    self._start_prefill(r)
                    return
            if self._decode_segment(r):
                return

    def _decode_segment(self, r: Replica) -> bool:
        """Decode ``r.running`` until its next completion (one timer), or go idle if empty.

        False when the step takes no time (service-time models): everything running is
        done now, and the caller admits again.
        """
        running = r.running
        if not running:
            self._go_idle(r)
            return True
        min_rem = min(s.remaining for s in running)
        b = len(running)
        kv_now = r.kv_reserved - sum(s.remaining for s in running)
        step = self.latency.decode_step_s(b, int(kv_now + b * min_rem / 2))
        if step > 0:
            r.phase = DECODE
            r.step_s = step
            r.seg_start = self.env.now
            r.version += 1
            timer = self.env.timeout(min_rem * step)
            timer.callbacks.append(lambda _e, r=r, v=r.version: self._on_decode_end(r, v))
            return True
        for s in running:
            self._complete(r, s)
        r.running = []
        return False

    def _go_idle(self, r: Replica) -> None:
        """``r`` holds nothing: close its busy period; the pool decides where it goes."""
        r.phase = IDLE
        r.meter.end(r.index, self.env.now)
        if r.queue is self._queue:  # central and READY: back on the idle stack
            self._idle.append(r)
        else:
            self._went_idle(r)

    def _kick(self, r: Replica) -> None:
        """Wake an idle replica to take work from its queue."""
        r.meter.begin(r.index, self.env.now)
        r.phase = SWITCH
        self._next(r)

    def evict(self, r: Replica) -> list[Seq]:
        """Take every request ``r`` holds out of it, oldest first; their progress is lost."""
        now = self.env.now
        batch = r.running + r.prefilling + r.pending
        own = list(r.queue) if r.queue is not self._queue else []
        if r.queue is not self._queue and r.queue is not NO_QUEUE:
            r.queue.clear()
            self._n_waiting -= len(own)
        if r.phase != IDLE:
            r.meter.end(r.index, now)
        self._n_running -= len(batch)
        r.pending, r.prefilling, r.running = [], [], []
        r.kv_reserved = 0
        r.phase = IDLE
        r.version += 1  # its prefill/decode timer is stale now
        seqs = sorted(batch, key=lambda s: s.arrived_at) + own
        for s in seqs:
            s.remaining = 0.0
        return seqs

    def _went_idle(self, r: Replica) -> None:  # pragma: no cover - the pool decides
        raise NotImplementedError

    @property
    def mean_queue_wait_s(self) -> float:
        """Exact mean time from arrival to admission (after warm-up); NaN before any."""
        return self.wait_sum_s / self.wait_n if self.wait_n else math.nan
