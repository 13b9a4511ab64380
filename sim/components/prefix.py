"""Prompt (prefix) caching: blocks of a prompt that an earlier request already processed.

A prompt is a list of block ids (:mod:`sim.workload.prefix`): two prompts that start
with the same ids share that prefix. :class:`PrefixCache` remembers the blocks it has
seen, least recently used first, bounded by a capacity in blocks, an idle time-to-live,
or both. A lookup matches the longest run of cached blocks *from the start* of the
prompt (a block is reusable only after the whole prefix before it, as vLLM's automatic
prefix caching and the providers' prompt caches work), then records all of the prompt's
blocks as just used.

Two users:

* a self-hosted pool (:mod:`sim.components.pool`): one cache per replica, as large as
  the replica's KV cache; matched blocks are not prefilled again;
* a hosted API (:mod:`sim.components.api_provider`): one cache per provider with an
  idle TTL; matched tokens are billed at the cached-input price.

:class:`PrefixStats` counts what the caching saved, for ``summary.json``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from sim import checks

# Block ids from here up belong to one prompt only (sim.workload.prefix): a cache bounded
# by time alone does not keep them (they can never match); one bounded by capacity does,
# since they take room a shared block could have had.
NEVER_SHARED = 1 << 61


class PrefixCache:
    """Block ids in LRU order with their last use; see the module docstring."""

    __slots__ = ("capacity", "ttl_s", "_lru")

    def __init__(self, capacity_blocks: int | None = None, ttl_s: float | None = None) -> None:
        self.capacity = checks.integer("capacity_blocks", capacity_blocks, 1, none_ok=True)
        self.ttl_s = checks.positive("ttl_s", ttl_s, none_ok=True)
        self._lru: OrderedDict[int, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._lru)

    def lookup(self, blocks: Sequence[int], now: float) -> int:
        """Blocks of ``blocks`` cached from its start (then all of them are cached as used now)."""
        lru = self._lru
        ttl = self.ttl_s
        if ttl is not None:  # forget what has been idle too long (oldest first)
            while lru:
                oldest = next(iter(lru.values()))
                if now - oldest <= ttl:
                    break
                lru.popitem(last=False)
        matched = 0
        for h in blocks:
            if h not in lru:
                break
            matched += 1
        cap = self.capacity
        for h in blocks:
            if cap is None and h >= NEVER_SHARED:
                break  # the rest of the prompt is its own
            lru[h] = now
            lru.move_to_end(h)
        if cap is not None:
            while len(lru) > cap:
                lru.popitem(last=False)
        return matched


class PrefixStats:
    """Prompt tokens looked up and found cached by one component."""

    __slots__ = ("block_tokens", "lookups", "prompt_tokens", "cached_tokens")

    def __init__(self, block_tokens: int) -> None:
        self.block_tokens = checks.integer("block_tokens", block_tokens, 1)
        self.lookups = 0
        self.prompt_tokens = 0
        self.cached_tokens = 0

    def record(self, req: Any, matched_blocks: int) -> int:
        """Set ``req.cached_prompt_tokens`` from the matched blocks (at least one token
        is always computed) and count it; returns the cached tokens."""
        prompt = req.prompt_tokens
        cached = min(matched_blocks * self.block_tokens, max(prompt - 1, 0))
        req.cached_prompt_tokens = cached
        self.lookups += 1
        self.prompt_tokens += prompt
        self.cached_tokens += cached
        return cached

    def report(self, **extra: Any) -> dict[str, Any]:
        share = self.cached_tokens / self.prompt_tokens if self.prompt_tokens else None
        return {
            "block_tokens": self.block_tokens,
            "lookups": self.lookups,
            "prompt_tokens": self.prompt_tokens,
            "cached_tokens": self.cached_tokens,
            "cached_token_share": share,
            **extra,
        }
