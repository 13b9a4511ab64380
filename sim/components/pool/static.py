"""StaticBatching: whole batches, admitted together and released together (``scheduler: static``).

The baseline that shows what continuous batching buys: request-level batching as a
server built on Hugging Face ``generate()`` runs it (and as TGI and FasterTransformer
did before iteration-level scheduling; Orca, OSDI 2022, calls it the "request-level"
schedule it replaces).

A batch
    When a replica is idle and its queue is not empty it takes, in FIFO order, up to
    ``max_batch_size`` requests whose padded batch fits its KV cache, ``b·(max prompt +
    max output) <= kv_capacity_tokens`` (it does not wait for a fuller batch; the head
    of the queue blocks the rest, as everywhere in the pool). Their prompts are
    prefilled together, padded to the longest: the prefill costs
    ``latency.prefill_s([longest] * b)`` with ``longest`` the largest ``prompt_tokens −
    cached_prompt_tokens`` of the batch (at least 1). Every request has its first token
    at the end of that prefill. The batch then decodes until its
    longest output is done, ``max(output_tokens) − 1`` steps at batch size ``b`` each:
    finished sequences stay in as padding and still cost compute and KV reads. A step
    reads the KV the padded batch holds half-way through the decode,
    ``b·(max prompt + 1) + b·steps/2`` tokens (the continuous scheduler's rule for a
    batch of equal sequences, so both give the same figures on a uniform workload). All
    requests of the batch are released (their events succeed) when the last step ends;
    the replica then takes the next batch.

Arrivals
    An arrival that finds the replica idle starts a batch of one at once; one that
    finds it busy waits for the next batch (phase ``SEALED`` during the decode keeps
    the pools from joining it to the running batch).

KV accounting
    A ``generate()`` call allocates the padded batch, so admission checks the padded
    size; the pool's KV reservation still counts each request's own ``prompt + output``
    (``kv_reserved_tokens``, ``peak_kv_reserved_tokens``), which is at most that.

Events: two timers per batch (end of prefill, end of decode), none per token.
"""

from __future__ import annotations

from sim.components.pool.replica import PREFILL, SEALED, SWITCH, Replica
from sim.components.pool.scheduler import BatchScheduler


class StaticBatching(BatchScheduler):
    """Static (request-level) batching on a pool's replicas (see module)."""

    scheduler = "static"

    def _next(self, r: Replica) -> None:
        """The batch ended (or the replica woke up): take the next batch, or go idle."""
        queue = r.queue
        if queue:
            cap = self.kv_capacity_tokens
            b = 0
            longest_prompt = longest_output = 0
            while queue and b < self.max_batch_size:
                req = queue[0].req  # the padded batch with it must fit the KV cache
                p = max(longest_prompt, req.prompt_tokens)
                o = max(longest_output, req.output_tokens)
                if (b + 1) * (p + o) > cap:
                    break
                self._admit(r, queue.popleft())
                b += 1
                longest_prompt, longest_output = p, o
            if r.pending:
                self._n_waiting -= len(r.pending)
                self._start_prefill(r)
                return
        self._go_idle(r)

    def _start_prefill(self, r: Replica) -> None:
        """Prefill the admitted batch (``r.pending``), prompts padded to the longest."""
        batch = r.prefilling = r.pending
        r.pending = []
        r.phase = PREFILL
        r.version += 1
        longest = max(max(s.req.prompt_tokens - s.req.cached_prompt_tokens, 1) for s in batch)
        timer = self.env.timeout(self.latency.prefill_s([longest] * len(batch)))
        timer.callbacks.append(lambda _e, r=r, v=r.version: self._on_prefill_end(r, v))

    def _on_prefill_end(self, r: Replica, version: int) -> None:
        if version != r.version:
            return
        now = self.env.now
        batch = r.prefilling
        r.prefilling = []
        longest_output = 0
        longest_prompt = 0
        for s in batch:
            req = s.req
            req.first_token_at = now
            if req.output_tokens > longest_output:
                longest_output = req.output_tokens
            if req.prompt_tokens > longest_prompt:
                longest_prompt = req.prompt_tokens
        steps = longest_output - 1
        step = 0.0
        if steps > 0:
            b = len(batch)
            step = self.latency.decode_step_s(b, int(b * (longest_prompt + 1) + b * steps / 2))
        if step > 0:
            r.running = batch
            r.phase = SEALED
            r.version += 1
            timer = self.env.timeout(steps * step)
            timer.callbacks.append(lambda _e, r=r, v=r.version: self._on_batch_end(r, v))
            return
        for s in batch:  # one-token outputs, or a service-time model: done at the prefill's end
            self._complete(r, s)
        r.phase = SWITCH
        self._next(r)

    def _on_batch_end(self, r: Replica, version: int) -> None:
        if version != r.version:
            return
        for s in r.running:
            s.remaining = 0.0
            self._complete(r, s)
        r.running = []
        r.phase = SWITCH
        self._next(r)
