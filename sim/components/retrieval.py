"""The ``stores`` kind: a vector store queried for context before the model call.

Mechanism
    A query first embeds the request's question (``query_tokens`` at the embedding
    model's price), then takes one of ``servers`` query slots — FIFO, so queries wait
    under load (an M/G/c queue) — for a lognormal time (median ``latency_median_s``,
    log-spread ``latency_sigma``: the tail a user sees at p99). With ``context=full`` it
    returns ``top_k`` chunks; with ``context=selective`` only ``selective_top_k``
    chosen by a re-ranker, which adds its own latency and price. The retrieved chunks
    add ``chunks × chunk_tokens`` to the request's prompt: what the model downstream
    reads, and bills.

Quality
    With probability ``full_miss_prob`` / ``selective_miss_prob`` the retrieved context
    lacks what the answer needs, and the answer is not acceptable. A store linked to a
    data pipeline (``pipeline: NAME``, :mod:`sim.components.pipeline`) also misses when
    the query is about a document the index does not show yet: with ``s`` the pipeline's
    stale share when the query arrives, ``p_miss = miss_prob + (1 - miss_prob) × s``.

Accounting (layer ``context_retrieval``)
    Per query: read units ``max(0.25, index_gb)`` (a serverless store reads the whole
    namespace: Pinecone, "Understanding cost", 2025) at ``usd_per_million_read_units``,
    the embedding tokens, and the re-ranker when selective; charged when the query
    ends. Storage: ``index_gb × usd_per_gb_month``, billed for every second.

Statistics (queries of requests that arrived after the warm-up): queries, mean wait
for a slot, chunks added; :meth:`VectorStore.report` goes into ``summary.json``.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import simpy

from sim import checks
from sim.checks import knob
from sim.components.kinds import register
from sim.components.request import Request
from sim.engine.context import SimContext
from sim.kernels.blocks import BlockDraws, lognormal_draws

LAYER = "context_retrieval"
CONTEXT_POLICIES = ("full", "selective")
SECONDS_PER_MONTH = 30.4375 * 86400.0


class VectorStore:
    """Context retrieval with queueing for query slots and per-query prices (see module)."""

    def __init__(
        self,
        name: str,
        ctx: SimContext,
        *,
        servers: int,
        latency_median_s: float,
        latency_sigma: float,
        chunks: int,
        chunk_tokens: int,
        usd_per_query: float,
        rerank_s: float,
        usd_per_month: float,
        rng: Any,
        miss_prob: float = 0.0,
        pipeline: Any = None,
    ) -> None:
        self.name = name
        self._env: simpy.Environment = ctx.env
        self._ledger = ctx.ledger
        self._warmup_s = ctx.warmup_s
        self.servers = checks.integer("servers", servers, 1)
        checks.positive("latency_median_s", latency_median_s)
        checks.non_negative("latency_sigma", latency_sigma)
        self.chunks = checks.integer("chunks", chunks, 0)
        self.chunk_tokens = checks.integer("chunk_tokens", chunk_tokens, 1)
        self.usd_per_query = checks.non_negative("usd_per_query", usd_per_query)
        self.rerank_s = checks.non_negative("rerank_s", rerank_s)
        self.usd_per_month = checks.non_negative("usd_per_month", usd_per_month)
        self._slots = simpy.Resource(self._env, capacity=self.servers)
        self._latency = lognormal_draws(checks.rng("rng", rng), latency_median_s, latency_sigma)
        self.miss_prob = checks.probability("miss_prob", miss_prob)
        self._u = BlockDraws(rng.random)
        self.pipeline = pipeline  # has stale_share(now): the index's staleness, or None
        self.affects_quality = self.miss_prob > 0 or pipeline is not None
        self.stale_share_total = 0.0
        self.queries = 0
        self.wait_s_total = 0.0
        ctx.ledger.series(LAYER, name)

    def handle(self, req: Request) -> Generator[simpy.Event, Any, None]:
        """Wait for a query slot, retrieve, add the chunks to the prompt, charge the query."""
        env = self._env
        arrived = env.now
        miss_prob, stale = self.miss_prob, 0.0
        if self.pipeline is not None:  # a question about what the index does not show yet
            stale = self.pipeline.stale_share(arrived)
            miss_prob += (1.0 - miss_prob) * stale
        with self._slots.request() as slot:
            yield slot
            if req.arrived_at >= self._warmup_s:
                self.queries += 1
                self.wait_s_total += env.now - arrived
                self.stale_share_total += stale
            yield env.timeout(self._latency.next() + self.rerank_s)
        req.prompt_tokens += self.chunks * self.chunk_tokens
        if miss_prob > 0.0 and self._u.next() < miss_prob:
            req.ok = False  # the context lacks what the answer needs
        self._ledger.charge(env.now, LAYER, self.name, self.usd_per_query)

    def bill(self, start_s: float, end_s: float) -> None:
        """Storage of the index for ``[start_s, end_s)``."""
        usd = self.usd_per_month * (end_s - start_s) / SECONDS_PER_MONTH
        self._ledger.charge(start_s, LAYER, self.name, usd)

    def gauges(self) -> dict[str, float]:
        """Queries waiting for a slot at the bucket edge."""
        return {"queue_len": float(len(self._slots.queue))}

    def report(self) -> dict[str, Any]:
        """What ``summary.json`` shows of this store."""
        out = {
            "kind": "vector_store",
            "queries": self.queries,
            "mean_wait_s": self.wait_s_total / self.queries if self.queries else None,
            "chunks_per_query": self.chunks,
            "context_tokens_per_query": self.chunks * self.chunk_tokens,
            "usd_per_query": self.usd_per_query,
        }
        if self.pipeline is not None:  # the mean probability a query found the index stale
            out["pipeline"] = self.pipeline.name
            out["mean_stale_share"] = (
                self.stale_share_total / self.queries if self.queries else None
            )
        return out


@dataclass
class VectorStoreConfig:
    """A vector store for context (prices and sizes: see the comments of each field)."""

    context: str = knob("full", choices=CONTEXT_POLICIES)  # what levers.context switches
    servers: int = knob(8, ge=1, le=1_000_000, integer=True)  # concurrent queries
    # Assumption: a managed ANN query in-region, median 30 ms, lognormal sigma 0.6
    # (p99 ~ 4x the median): the order published for serverless vector stores.
    latency_median_s: float = knob(0.03, gt=0)
    latency_sigma: float = knob(0.6, ge=0, le=3)
    index_gb: float = knob(7.14, gt=0)  # 1M records of 1,536 dims + 1 kB metadata (Pinecone docs)
    # Pinecone serverless, Standard plan: $16 per 1M read units (the lowest regional rate;
    # up to ~$18), $0.33 per GB-month (pinecone.io/pricing as summarised by
    # usagepricing.com/blueprint/pinecone, checked against it 2026-06-09; read 2026-11).
    # A query reads 1 RU per GB of namespace, at least 0.25 ("Understanding cost",
    # docs.pinecone.io, read 2026-11). The plan's $50 monthly minimum is not modelled.
    usd_per_million_read_units: float = knob(16.0, ge=0)
    usd_per_gb_month: float = knob(0.33, ge=0)
    # OpenAI text-embedding-3-small: $0.02 per 1M tokens (openai.com/pricing, 2024-01).
    embed_usd_per_mtok: float = knob(0.02, ge=0)
    query_tokens: int = knob(30, ge=1, integer=True)  # assumption: a question's tokens
    top_k: int = knob(10, ge=0, integer=True)  # chunks with context=full
    selective_top_k: int = knob(3, ge=0, integer=True)  # chunks with context=selective
    chunk_tokens: int = knob(300, ge=1, integer=True)  # assumption: ~300-token chunks
    # Cohere Rerank: $2 per 1,000 searches (cohere.com/pricing; Rerank 3.5 and 4.0 at
    # the same rate per a Dec 2025 guide, artificial-intelligence-wiki.com, read 2026-11);
    # latency: assumption.
    rerank_usd_per_query: float = knob(0.002, ge=0)
    rerank_latency_s: float = knob(0.1, ge=0)
    # Share of queries whose context lacks what the answer needs, by policy. Assumptions
    # to set per corpus: fewer chunks miss more often, a re-ranker recovers part of it.
    full_miss_prob: float = knob(0.02, ge=0, le=1)
    selective_miss_prob: float = knob(0.05, ge=0, le=1)
    # The data pipeline that feeds this index (pipelines.NAME): a stale index misses more.
    pipeline: str | None = None


@register("stores", VectorStoreConfig)
def build_store(b: Any, name: str, c: Any) -> VectorStore:
    """A vector store: retrieved chunks add to the prompt; queries and storage are priced."""
    selective = c.context == "selective"
    pipeline = None
    if c.pipeline is not None:
        key = f"stores.{name}.pipeline"
        pipeline = b.component(c.pipeline, key)
        if not callable(getattr(pipeline, "stale_share", None)):
            checks.fail(key, c.pipeline, "is not a data pipeline: name one under pipelines.NAME")
    per_query = (
        max(0.25, c.index_gb) * c.usd_per_million_read_units / 1e6
        + c.query_tokens * c.embed_usd_per_mtok / 1e6
        + (c.rerank_usd_per_query if selective else 0.0)
    )
    return VectorStore(
        name,
        b.ctx,
        servers=int(c.servers),
        latency_median_s=c.latency_median_s,
        latency_sigma=c.latency_sigma,
        chunks=int(c.selective_top_k if selective else c.top_k),
        chunk_tokens=int(c.chunk_tokens),
        usd_per_query=per_query,
        rerank_s=c.rerank_latency_s if selective else 0.0,
        usd_per_month=c.index_gb * c.usd_per_gb_month,
        rng=b.ctx.rng.stream(f"stores.{name}"),
        miss_prob=c.selective_miss_prob if selective else c.full_miss_prob,
        pipeline=pipeline,
    )
