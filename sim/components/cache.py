"""The ``caches`` kind: a response cache (exact or semantic) in front of a miss path.

Mechanism
    Each request carries a query id (:mod:`sim.workload.queries`). A lookup takes
    ``lookup_s`` (one timeout). If the query's response is cached and younger than
    ``ttl_s`` it is a **hit**: the request has its answer (first token at the end of the
    lookup) and goes on along the rest of its path without walking the miss path —
    no inference is bought. Otherwise it is a **miss**: the request walks the cache's
    ``miss`` sub-path (retrieval, a router, a model...) and, if that path served it,
    the response is stored (not a degraded stand-in after every model call failed,
    :mod:`sim.components.resilience`). Capacity is in responses; beyond it the least recently
    used one is evicted (LRU). Responses of never-seen queries are stored too (a cache
    cannot know they will not come back). Concurrent misses of one query are not
    merged. With ``policy: semantic`` a lookup that finds no answer to the same query
    may match one to another wording of the same intent, or — a false hit — an
    unrelated one (:class:`SemanticMatch`); each lookup pays for its embedding.

Accounting
    The cache runs on provisioned nodes: ``ceil(capacity * entry_kb / node_memory)``
    nodes, billed every second to layer ``latency_optimization`` whether busy or not.
    Its savings appear as inference not bought on the miss path.

Quality
    A hit returns the answer stored for the same query: acceptable exactly when that
    answer was (an exact-match cache adds no error of its own).

Statistics (requests that arrived after the warm-up): lookups, hits, expired entries
found; :meth:`ResponseCache.report` goes into ``summary.json`` under ``components``.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import simpy

from sim import checks
from sim.checks import knob
from sim.components.kinds import register
from sim.components.request import Request, Status
from sim.components.stage import SubPath
from sim.engine.context import SimContext
from sim.kernels.blocks import BlockDraws

LAYER = "latency_optimization"
CACHE_POLICIES = ("exact", "semantic")


class SemanticMatch:
    """How a semantic cache matches: embeddings compared against a similarity threshold.

    A lookup embeds the query (``usd_per_lookup``). A cached answer to another wording
    of the same intent matches when their similarity — drawn from
    Beta(``paraphrase_a``, ``paraphrase_b``) — reaches ``threshold`` (the same wording
    always matches). Failing that, the nearest unrelated cached query matches when its
    similarity — Beta(``stranger_a``, ``stranger_b``) — reaches the threshold: a **false
    hit**, a wrong answer. A lower threshold raises both the hit rate and false hits.
    """

    def __init__(
        self,
        threshold: float,
        paraphrases: int,
        universe: int,
        paraphrase_ab: tuple[float, float],
        stranger_ab: tuple[float, float],
        usd_per_lookup: float,
        rng: Any,
    ) -> None:
        self.threshold = checks.probability("threshold", threshold)
        self.paraphrases = checks.integer("paraphrases", paraphrases, 1)
        self.universe = checks.integer("universe", universe, 1)
        self.usd_per_lookup = checks.non_negative("usd_per_lookup", usd_per_lookup)
        a, b = paraphrase_ab
        self._para = BlockDraws(lambda n: rng.beta(a, b, n))
        a2, b2 = stranger_ab
        self._stranger = BlockDraws(lambda n: rng.beta(a2, b2, n))

    def intent(self, query: int) -> int:
        """What a query asks: wordings of one intent share it; new queries are their own."""
        return query // self.paraphrases if query < self.universe else query

    def paraphrase_matches(self) -> bool:
        return self._para.next() >= self.threshold

    def stranger_matches(self) -> bool:
        return self._stranger.next() >= self.threshold


class ResponseCache:
    """An LRU response cache with a TTL; misses walk ``miss`` (see module)."""

    needs = ("query",)  # the builder draws a query id for every request

    def __init__(
        self,
        name: str,
        ctx: SimContext,
        *,
        capacity: int,
        ttl_s: float | None,
        lookup_s: float,
        nodes: int,
        usd_per_node_hour: float,
        miss: SubPath,
        semantic: Any = None,
    ) -> None:
        self.name = name
        self._env: simpy.Environment = ctx.env
        self._ledger = ctx.ledger
        self._warmup_s = ctx.warmup_s
        self.capacity = checks.integer("capacity", capacity, 1)
        self.ttl_s = checks.positive("ttl_s", ttl_s, none_ok=True)
        self.lookup_s = checks.non_negative("lookup_s", lookup_s)
        self.nodes = checks.integer("nodes", nodes, 1)
        self.usd_per_node_hour = checks.non_negative("usd_per_node_hour", usd_per_node_hour)
        if not len(miss):
            raise checks.ConfigError("miss=[] is empty: a cache needs a path for its misses")
        self.miss = miss
        self.semantic = semantic  # a SemanticMatch, or None for exact matching
        self.affects_quality = semantic is not None
        self.false_hits = 0
        # query -> (stored at, the stored answer was acceptable); LRU order
        self._store: OrderedDict[int, tuple[float, bool]] = OrderedDict()
        self._by_intent: dict[int, set[int]] = {}  # semantic: intent -> cached wordings
        self.lookups = 0
        self.hits = 0
        self.expired = 0
        self._gauge = (0, 0)  # lookups, hits at the previous gauge
        ctx.ledger.series(LAYER, name)

    def handle(self, req: Request) -> Generator[simpy.Event, Any, None]:
        """Answer from the cache, or walk the miss path and store what it served."""
        env = self._env
        store = self._store
        sem = self.semantic
        query = req.query
        key = query  # the cached entry that answers this request, if any
        entry = store.get(query)
        counted = req.arrived_at >= self._warmup_s
        if counted:
            self.lookups += 1
        if entry is not None and self.ttl_s is not None and env.now - entry[0] >= self.ttl_s:
            self._forget(query)
            entry = None
            self.expired += counted
        false_hit = False
        if sem is not None:  # embed the query; match by similarity, not only by id
            self._ledger.charge(env.now, LAYER, self.name, sem.usd_per_lookup)
            if entry is None:
                wordings = self._by_intent.get(sem.intent(query))
                if wordings and sem.paraphrase_matches():  # another wording, close enough
                    key = next(iter(wordings))
                    entry = store[key]
                    if self.ttl_s is not None and env.now - entry[0] >= self.ttl_s:
                        entry = None  # (expired: left for its own lookup to remove)
                if entry is None and store and sem.stranger_matches():
                    false_hit = True  # an unrelated cached answer came close enough
        if self.lookup_s > 0.0:
            yield env.timeout(self.lookup_s)
        if false_hit:
            self.hits += counted
            self.false_hits += counted
            req.first_token_at = env.now
            req.ok = False  # the answer to another question
            return
        if entry is not None:
            store.move_to_end(key)
            self.hits += counted
            req.first_token_at = env.now
            req.ok = entry[1]  # the cached answer is as good as when it was made
            return
        yield from self.miss.handle(req)
        if req.status == Status.IN_FLIGHT and not req.degraded:  # no stand-in answer kept
            store[query] = (env.now, req.ok)
            store.move_to_end(query)
            if sem is not None:
                self._by_intent.setdefault(sem.intent(query), set()).add(query)
            if len(store) > self.capacity:
                self._forget(next(iter(store)))

    def _forget(self, query: int) -> None:
        """Drop one cached answer (evicted or expired), and its intent index entry."""
        del self._store[query]
        if self.semantic is not None:
            intent = self.semantic.intent(query)
            wordings = self._by_intent[intent]
            wordings.discard(query)
            if not wordings:
                del self._by_intent[intent]

    # -- billing, gauges, report ----------------------------------------------------
    def bill(self, start_s: float, end_s: float) -> None:
        """Every provisioned node-second of ``[start_s, end_s)``, busy or idle."""
        hours = self.nodes * (end_s - start_s) / 3600.0
        self._ledger.charge(start_s, LAYER, self.name, hours * self.usd_per_node_hour)

    def gauges(self) -> dict[str, float]:
        """Hit rate of the lookups since the previous call (NaN without lookups)."""
        lookups, hits = self.lookups - self._gauge[0], self.hits - self._gauge[1]
        self._gauge = (self.lookups, self.hits)
        return {"hit_rate": hits / lookups if lookups else math.nan}

    @property
    def hit_rate(self) -> float | None:
        return self.hits / self.lookups if self.lookups else None

    def report(self) -> dict[str, Any]:
        """What ``summary.json`` shows of this cache."""
        return {
            "kind": "cache",
            "policy": "exact" if self.semantic is None else "semantic",
            "lookups": self.lookups,
            "hits": self.hits,
            "false_hits": self.false_hits,
            "hit_rate": self.hit_rate,
            "expired": self.expired,
            "entries_at_end": len(self._store),
            "capacity": self.capacity,
            "nodes": self.nodes,
        }

    def __repr__(self) -> str:
        return f"ResponseCache({self.name!r}, capacity={self.capacity}, miss={self.miss!r})"


@dataclass
class CacheConfig:
    """A response cache in front of its ``miss`` path (sizes and prices: see comments)."""

    policy: str = knob("exact", choices=CACHE_POLICIES)  # what levers.cache switches
    capacity: int = knob(100_000, ge=1, le=100_000_000, integer=True)  # responses (LRU)
    ttl_s: float | None = knob(None, gt=0, none_ok=True)  # null: responses never expire
    # Assumption: an in-memory key-value lookup in the same region, ~0.5 ms round trip.
    lookup_s: float = knob(0.0005, ge=0)
    # Assumption: a stored response (a few hundred tokens of text + key + overhead) ~4 kB.
    entry_kb: float = knob(4.0, gt=0)
    # AWS ElastiCache cache.r6g.large: 13.07 GiB, $0.206 per node-hour on demand,
    # us-east-1 (aws.amazon.com/elasticache/pricing, read 2024).
    node_memory_gb: float = knob(14.03, gt=0)  # 13.07 GiB in GB
    usd_per_node_hour: float = knob(0.206, ge=0)
    miss: list[str] = field(default_factory=list)  # the path a miss walks (component names)
    # semantic policy. Assumptions (to calibrate per corpus): similarity of two wordings
    # of one intent ~ Beta(18, 2) (mean 0.90), of the nearest unrelated cached query
    # ~ Beta(12, 6) (mean 0.67); a threshold of 0.85 then matches ~80 % of paraphrases
    # and ~3 % of strangers. Embedding: 30 tokens at $0.02 per 1M (text-embedding-3-small).
    threshold: float = knob(0.85, ge=0, le=1)
    paraphrase_a: float = knob(18.0, gt=0)
    paraphrase_b: float = knob(2.0, gt=0)
    stranger_a: float = knob(12.0, gt=0)
    stranger_b: float = knob(6.0, gt=0)
    embed_tokens: int = knob(30, ge=1, integer=True)
    embed_usd_per_mtok: float = knob(0.02, ge=0)


@register("caches", CacheConfig)
def build_cache(b: Any, name: str, c: Any) -> ResponseCache:
    """A response cache: repeated queries are answered without walking the miss path."""
    key = f"caches.{name}"
    if not c.miss:
        checks.fail(f"{key}.miss", [], "is empty: list the components a miss goes to, e.g. [llm]")
    nodes = max(1, math.ceil(c.capacity * c.entry_kb * 1e3 / (c.node_memory_gb * 1e9)))
    return ResponseCache(
        name,
        b.ctx,
        capacity=int(c.capacity),
        ttl_s=c.ttl_s,
        lookup_s=c.lookup_s,
        nodes=nodes,
        usd_per_node_hour=c.usd_per_node_hour,
        miss=b.path(c.miss, f"{key}.miss"),
        semantic=None
        if c.policy == "exact"
        else SemanticMatch(
            c.threshold,
            b.cfg.workload.queries.paraphrases,
            b.cfg.workload.queries.universe,
            (c.paraphrase_a, c.paraphrase_b),
            (c.stranger_a, c.stranger_b),
            c.embed_tokens * c.embed_usd_per_mtok / 1e6,
            b.ctx.rng.stream(f"caches.{name}"),
        ),
    )
