"""Which prompts share a prefix: block ids per request, for prompt and prefix caches.

A prompt of ``P`` tokens is cut into ``P // block_tokens`` whole blocks (a partial last
block is never reused, as in vLLM's prefix caching) and each block gets an id; two
prompts that start with the same ids share that prefix (:mod:`sim.components.prefix`).

* :class:`SyntheticPrefixes` (``workload.prefix``) builds a prompt from three parts:
  ``shared_tokens`` that every request starts with (a system prompt, tool definitions),
  then up to ``group_tokens`` shared with the other requests of its *group* (a
  conversation's history, a document, a repository; groups drawn with Zipf popularity),
  then blocks of its own.
* :class:`TracePrefixes` replays the block hashes of a JSONL trace
  (:mod:`sim.workload.trace_jsonl`, Mooncake's format: 512-token blocks).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim import checks
from sim.components.prefix import NEVER_SHARED
from sim.workload.queries import ZipfQueries

_GROUP_BASE = 1 << 40  # ids of group blocks: base + group * stride + position
_GROUP_STRIDE = 1 << 20  # at most this many blocks shared within a group
_OWN_BASE = NEVER_SHARED  # ids of blocks no other prompt has: counted up from here


class SyntheticPrefixes:
    """Block ids from a shared prefix, a group's context and the request's own blocks."""

    def __init__(
        self,
        block_tokens: int,
        shared_tokens: int,
        groups: int,
        group_zipf_s: float,
        group_tokens: int,
        *,
        rng: np.random.Generator,
    ) -> None:
        self.block_tokens = checks.integer("block_tokens", block_tokens, 1)
        self.shared_blocks = checks.integer("shared_tokens", shared_tokens, 0) // self.block_tokens
        self.group_blocks = min(
            checks.integer("group_tokens", group_tokens, 0) // self.block_tokens, _GROUP_STRIDE
        )
        self._groups = ZipfQueries(groups, group_zipf_s, 0.0, rng=rng)
        self._shared = list(range(self.shared_blocks))
        self._next_own = _OWN_BASE

    def for_block(self, block: Any, prompts: list[int]) -> list[list[int]]:
        """Block ids of each prompt of an arrival block."""
        groups = self._groups.sample(len(prompts)).tolist() if self.group_blocks else None
        bt, sb, gb = self.block_tokens, self.shared_blocks, self.group_blocks
        shared = self._shared
        own = self._next_own
        out = []
        for i, p in enumerate(prompts):
            n = p // bt
            s = min(n, sb)
            ids = shared[:s]
            g = min(n - s, gb)
            if g:
                base = _GROUP_BASE + groups[i] * _GROUP_STRIDE
                ids.extend(range(base, base + g))
            u = n - s - g
            if u:
                ids.extend(range(own, own + u))
                own += u
            out.append(ids)
        self._next_own = own
        return out


class TracePrefixes:
    """The block hashes a JSONL trace gives each request (rows of :class:`TraceArrivals`)."""

    def __init__(self, arrivals: Any, block_tokens: int) -> None:
        while not hasattr(arrivals, "prefix_blocks") and hasattr(arrivals, "inner"):
            arrivals = arrivals.inner  # the trace under a shifted clock or growth
        self.arrivals = arrivals
        self.block_tokens = block_tokens

    def for_block(self, block: Any, prompts: list[int]) -> list[list[int]]:
        return self.arrivals.prefix_blocks(block.rows)


def has_trace_hashes(cfg: Any) -> bool:
    """Whether the workload replays a trace that carries prefix block hashes (JSONL)."""
    w = cfg.workload
    return w.arrival == "trace" and str(w.trace.path).endswith(".jsonl")


def prefix_block_tokens(cfg: Any) -> int:
    """Tokens per prefix block: the trace's when it carries hashes, else ``workload.prefix``."""
    if has_trace_hashes(cfg):
        from sim.workload.trace_jsonl import BLOCK_TOKENS

        return BLOCK_TOKENS
    return int(cfg.workload.prefix.block_tokens)


def build_prefixes(cfg: Any, ctx: Any, arrivals: Any) -> Any:
    """The ``blocks`` attribute sampler of a run (trace hashes, or ``workload.prefix``)."""
    if has_trace_hashes(cfg):
        return TracePrefixes(arrivals, prefix_block_tokens(cfg))
    p = cfg.workload.prefix
    return SyntheticPrefixes(
        p.block_tokens,
        p.shared_tokens,
        p.groups,
        p.group_zipf_s,
        p.group_tokens,
        rng=ctx.rng.stream("workload.prefix"),
    )
