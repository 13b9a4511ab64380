"""ChunkedBatching: chunked prefill under a token budget per iteration (``scheduler: chunked``).

How vLLM's V1 scheduler and SGLang run a replica by default: long prompts are cut into
chunks that share iterations with the decode batch, so a long prompt no longer pauses
every running sequence for its whole prefill (Agrawal et al., "Taming throughput-latency
tradeoff in LLM inference with Sarathi-Serve", OSDI 2024).

An iteration (``max_batched_tokens`` tokens at most)
    1. every decoding sequence takes one token of the budget;
    2. the sequences whose prompt is partly prefilled continue, oldest first, each with a
       chunk of ``min(prompt left, budget left)``;
    3. while budget is left, requests are admitted from the queue (FIFO; fewer than
       ``max_batch_size`` sequences and the KV reservation fits, as the continuous
       scheduler), each with a chunk of ``min(prompt, budget left)``.
    The iteration takes ``latency.mixed_step_s(chunks, contexts, decode_batch,
    kv_tokens)``: ``contexts[i]`` is the part of that prompt already in the KV cache
    (earlier chunks and the prefix-cache hit), ``kv_tokens`` what the decoding sequences
    hold. At its end every decoding sequence has one more token; a sequence whose last
    chunk ran has its first token (``req.first_token_at``) and decodes from the next
    iteration. Prompt tokens are ``prompt_tokens − cached_prompt_tokens`` (at least 1),
    as in continuous batching. Every running sequence must fit in the budget, so the
    pool needs ``max_batched_tokens >= max_batch_size`` (vLLM checks the same): then a
    sequence with prompt left always gets a chunk.

Keeping it fast
    Mixed iterations (phase ``PREFILL``, one timer each) run only while there is prompt
    work: a partly prefilled prompt, or a request in the queue that can be admitted.
    Otherwise the replica decodes in segments exactly as the continuous scheduler does
    (phase ``DECODE``, one timer to the next completion). An arrival admitted during a
    segment cuts it (the partial progress is credited, fractional steps included; a
    sequence with less than one step left finishes in the next iteration) and mixed
    iterations begin. Events: one timer per mixed iteration, about ``prompt tokens /
    budget`` of them per request when the replica is not busy, and none per token.
"""

from __future__ import annotations

from sim import checks
from sim.components.pool.replica import DECODE, PREFILL, SWITCH, Replica, Seq
from sim.components.pool.scheduler import _DONE_TOL, BatchScheduler


class ChunkedBatching(BatchScheduler):
    """Chunked prefill on a pool's replicas (see module); reads ``max_batched_tokens``."""

    scheduler = "chunked"
    latency_needs = (*BatchScheduler.latency_needs, "mixed_step_s")

    def __init__(self, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)  # the pool's own arguments and checks
        if self.max_batched_tokens < self.max_batch_size:
            checks.both(
                "max_batched_tokens",
                self.max_batched_tokens,
                "max_batch_size",
                self.max_batch_size,
                "need max_batched_tokens >= max_batch_size with the chunked scheduler "
                "(each running sequence takes one token of the budget per iteration)",
            )

    def _start_prefill(self, r: Replica) -> None:
        """The pool admitted ``r.pending`` at once: cut the decode segment, start iterating."""
        if r.phase == DECODE:
            self._advance(r)
        r.phase = SWITCH
        self._next(r)

    @staticmethod
    def _take_pending(r: Replica) -> None:
        """Admitted sequences start with their whole (uncached) prompt to prefill."""
        for s in r.pending:
            s.prefill_left = max(s.req.prompt_tokens - s.req.cached_prompt_tokens, 1)
        r.prefilling += r.pending
        r.pending = []

    def _next(self, r: Replica) -> None:
        """Plan the next iteration: decode tokens, then prompt chunks; or decode, or idle."""
        queue = r.queue
        while True:
            if r.pending:
                self._take_pending(r)
            budget = self.max_batched_tokens - len(r.running)
            chunks: list[int] = []
            contexts: list[int] = []
            for s in r.prefilling:  # partly prefilled prompts continue first
                if budget <= 0:
                    break
                c = s.prefill_left if s.prefill_left < budget else budget
                chunks.append(c)
                contexts.append(s.req.prompt_tokens - s.prefill_left)
                budget -= c
            if queue and budget > 0:
                cap = self.kv_capacity_tokens
                room = self.max_batch_size - len(r.running) - len(r.prefilling)
                while queue and room > 0 and budget > 0 and r.kv_reserved + queue[0].kv <= cap:
                    s = queue.popleft()
                    self._admit(r, s)  # looks up its cached prefix
                    left = max(s.req.prompt_tokens - s.req.cached_prompt_tokens, 1)
                    s.prefill_left = left
                    c = left if left < budget else budget
                    chunks.append(c)
                    contexts.append(s.req.prompt_tokens - left)
                    budget -= c
                    room -= 1
                if r.pending:
                    self._n_waiting -= len(r.pending)
                    r.prefilling += r.pending
                    r.pending = []
            if chunks:
                self._start_iteration(r, chunks, contexts)
                return
            if self._decode_segment(r):  # no prompt work: as the continuous scheduler
                return

    def _start_iteration(self, r: Replica, chunks: list[int], contexts: list[int]) -> None:
        kv = 0.0
        for s in r.running:  # prompt + tokens so far (remaining may be fractional)
            kv += s.kv - s.remaining
        step = self.latency.mixed_step_s(chunks, contexts, len(r.running), int(kv))
        r.phase = PREFILL
        r.chunks = chunks
        r.version += 1
        timer = self.env.timeout(step)
        timer.callbacks.append(lambda _e, r=r, v=r.version: self._on_iteration_end(r, v))

    def _on_iteration_end(self, r: Replica, version: int) -> None:
        if version != r.version:
            return
        now = self.env.now
        running = []
        for s in r.running:  # one token each
            s.remaining -= 1.0
            if s.remaining <= _DONE_TOL:
                self._complete(r, s)
            else:
                running.append(s)
        chunks = r.chunks
        k = len(chunks)
        prefilling = r.prefilling
        still: list[Seq] = []
        for s, c in zip(prefilling[:k], chunks):
            s.prefill_left -= c
            if s.prefill_left > 0:  # only the last chunk can be partial: it stays first
                still.append(s)
                continue
            s.req.first_token_at = now
            s.remaining = float(s.req.output_tokens - 1)
            if s.remaining <= 0:
                self._complete(r, s)
            else:
                running.append(s)  # decodes from the next iteration
        r.running = running
        r.prefilling = still + prefilling[k:]
        r.chunks = []
        r.phase = SWITCH
        self._next(r)

    def evict(self, r: Replica) -> list[Seq]:
        r.chunks = []
        return super().evict(r)
