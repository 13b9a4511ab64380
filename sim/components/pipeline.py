"""The ``pipelines`` kind: continuous ingestion of documents into the index (``data_pipeline``).

Mechanism
    New or changed documents arrive as a Poisson stream (``docs_per_day``), sizes
    lognormal (median ``doc_kb_median``, log-spread ``doc_kb_sigma``); a share
    ``new_share`` are new, the rest replace an existing document of the same size.
    ``workers`` CPU instances (``hardware``, priced from the hardware catalog) take them
    one at a time, FIFO: validation, extraction, chunking and the embedding call take
    ``overhead_s + size / mb_per_s`` on average, times a factor of mean 1 (lognormal with
    ``service_cv``, or exponential). When the pipeline falls behind, documents queue.
    A processed document becomes visible in the index at the next refresh (every
    ``refresh_s`` from t = 0; at once with ``refresh_s: 0``). Workers, arrivals and
    refreshes are ``workers + 2`` processes started by :meth:`IngestPipeline.start`;
    nothing is created per document beyond its queue entry.

Staleness (what a linked store asks, O(1) per query)
    A query is about a document that arrived in the last ``fresh_window_s`` with
    probability ``fresh_query_share``, uniformly among those documents; it misses when
    that document is not yet visible. With FIFO processing the invisible documents are
    the newest, so ``stale_share = fresh_query_share × min(invisible, recent) / recent``.
    The run starts mid-stream: the part of the window before t = 0 counts as
    ``docs_per_day`` documents a day, all visible (the index had kept up). In steady
    state (Little's law) this is ``fresh_query_share × mean lag / window``; a lag longer
    than the window makes every fresh question miss. ``stores.NAME.pipeline`` links a
    vector store to it (:mod:`sim.components.retrieval`).

Per-request enrichment
    Named on a request path, the pipeline is also an input-processing stage: one
    timeout, lognormal (median ``enrich_median_s``, ``enrich_sigma``), billed for that
    time on one vCPU of the same instance type (its price / ``vcpus``): the pro-rata cost
    of an autoscaled, well-packed CPU tier. ``enrich_median_s: 0`` turns it off.

Accounting (layer ``data_pipeline``, charged when it happens)
    Instances: ``workers × hours × usd_per_hour``, busy or idle, at every bucket.
    Embedding: ``round(size × tokens_per_kb)`` tokens per processed document at
    ``embed_usd_per_mtok``. Index writes: each document adds ``ceil(tokens /
    chunk_tokens) × record_kb`` of records, 1 write unit per KB at
    ``usd_per_million_write_units``, plus ``refresh_usd`` per refresh, even one with
    nothing to write (per written document when ``refresh_s: 0``). Storage: raw text
    (``raw_usd_per_gb_month``, from arrival) and index records
    (``index_usd_per_gb_month``, from visibility) of new documents, billed as the
    integral of GB over time. The store bills the index it started with.

Statistics: documents that arrived after the warm-up (arrived, processed, visible,
waiting; lag from arrival to visibility in a LogHistogram; mean wait for a worker);
tokens, write units, refreshes and the cost parts count what happened after it.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from sim import checks
from sim.checks import knob
from sim.components.kinds import register
from sim.components.metering import BusyMeter
from sim.components.request import Request
from sim.engine.context import SimContext
from sim.kernels.blocks import BlockDraws, lognormal_draws
from sim.metrics.histogram import LogHistogram

LAYER = "data_pipeline"
SERVICE_DISTRIBUTIONS = ("lognormal", "exponential")
SECONDS_PER_MONTH = 30.4375 * 86400.0
PARTS = ("instances", "embedding", "writes", "refreshes", "storage", "enrichment")


def _factor_draws(rng: np.random.Generator, service: str, cv: float) -> BlockDraws:
    """Factors of mean 1 on the mean service time: exponential, or lognormal with CV ``cv``."""
    if service == "exponential":
        return BlockDraws(lambda n: rng.exponential(1.0, n))
    sigma = math.sqrt(math.log1p(cv * cv))
    return BlockDraws(lambda n: rng.lognormal(-sigma * sigma / 2, sigma, n))


class IngestPipeline:
    """Documents flow arrival -> queue -> worker -> refresh -> visible (see module)."""

    def __init__(
        self,
        name: str,
        ctx: SimContext,
        *,
        docs_per_day: float,
        doc_kb_median: float,
        doc_kb_sigma: float,
        new_share: float,
        workers: int,
        usd_per_worker_hour: float,
        overhead_s: float,
        mb_per_s: float,
        service: str,
        service_cv: float,
        tokens_per_kb: float,
        chunk_tokens: int,
        embed_usd_per_mtok: float,
        record_kb: float,
        usd_per_million_write_units: float,
        refresh_s: float,
        refresh_usd: float,
        raw_usd_per_gb_month: float,
        index_usd_per_gb_month: float,
        fresh_query_share: float,
        fresh_window_s: float,
        enrich_median_s: float,
        enrich_sigma: float,
        usd_per_vcpu_hour: float,
        rng: np.random.Generator,
    ) -> None:
        self.name = name
        self._env: simpy.Environment = ctx.env
        self._ledger = ctx.ledger
        self._warmup_s = ctx.warmup_s
        self.docs_per_day = checks.non_negative("docs_per_day", docs_per_day)
        checks.positive("doc_kb_median", doc_kb_median)
        checks.non_negative("doc_kb_sigma", doc_kb_sigma)
        self.new_share = checks.probability("new_share", new_share)
        self.workers = checks.integer("workers", workers, 1)
        self.usd_per_worker_hour = checks.non_negative("usd_per_worker_hour", usd_per_worker_hour)
        self.overhead_s = checks.non_negative("overhead_s", overhead_s)
        self.mb_per_s = checks.positive("mb_per_s", mb_per_s)
        checks.choice("service", service, SERVICE_DISTRIBUTIONS)
        checks.non_negative("service_cv", service_cv)
        self.tokens_per_kb = checks.positive("tokens_per_kb", tokens_per_kb)
        self.chunk_tokens = checks.integer("chunk_tokens", chunk_tokens, 1)
        self.usd_per_token = checks.non_negative("embed_usd_per_mtok", embed_usd_per_mtok) / 1e6
        self.record_kb = checks.positive("record_kb", record_kb)
        self.usd_per_wu = (
            checks.non_negative("usd_per_million_write_units", usd_per_million_write_units) / 1e6
        )
        self.refresh_s = checks.non_negative("refresh_s", refresh_s)
        self.refresh_usd = checks.non_negative("refresh_usd", refresh_usd)
        self.raw_usd_per_gb_month = checks.non_negative(
            "raw_usd_per_gb_month", raw_usd_per_gb_month
        )
        self.index_usd_per_gb_month = checks.non_negative(
            "index_usd_per_gb_month", index_usd_per_gb_month
        )
        self.fresh_query_share = checks.probability("fresh_query_share", fresh_query_share)
        self.fresh_window_s = checks.positive("fresh_window_s", fresh_window_s)
        checks.non_negative("enrich_median_s", enrich_median_s)
        checks.non_negative("enrich_sigma", enrich_sigma)
        self.usd_per_vcpu_s = checks.non_negative("usd_per_vcpu_hour", usd_per_vcpu_hour) / 3600
        # independent streams: arrivals and sizes do not change when the workers do
        r_gap, r_size, r_new, r_service, r_enrich = checks.rng("rng", rng).spawn(5)
        self._rate = rate = self.docs_per_day / 86400.0
        self._gap = BlockDraws(lambda n: r_gap.exponential(1.0 / rate, n)) if rate > 0 else None
        self._size = lognormal_draws(r_size, doc_kb_median, doc_kb_sigma)
        self._new = BlockDraws(r_new.random)
        self._factor = _factor_draws(r_service, service, service_cv)
        self._enrich = (
            lognormal_draws(r_enrich, enrich_median_s, enrich_sigma)
            if enrich_median_s > 0
            else None
        )
        # expected service time, for the capacity in the report
        mean_kb = doc_kb_median * math.exp(doc_kb_sigma**2 / 2)
        self.mean_service_s = self.overhead_s + mean_kb / 1000.0 / self.mb_per_s

        self._queue = simpy.Store(self._env)  # (arrived_at, kb, counted, new), FIFO
        self._in_service: dict[int, float] = {}  # worker -> arrival time of its document
        self._pending: list[tuple[float, float, bool, bool]] = []  # processed, not visible
        self._recent: deque[float] = deque()  # arrival times within the freshness window
        self.meter = BusyMeter(self.workers)
        self._invisible = 0  # arrived (any time) and not yet visible
        # storage: GB now, and what accrued since the last bill
        self.raw_gb = 0.0
        self.index_gb = 0.0
        self._accrued_t = 0.0
        self._accrued_usd = 0.0
        self.gb_s = 0.0  # GB-seconds stored after the warm-up
        # statistics (documents that arrived after the warm-up)
        self.arrived = self.started = self.processed = self.visible = 0
        self.wait_s_total = 0.0
        self.lag = LogHistogram()
        # what happened after the warm-up
        self.embed_tokens = 0
        self.write_units = 0.0
        self.refreshes = 0
        self.enriched = 0
        self.busy_s = 0.0
        self.usd = dict.fromkeys(PARTS, 0.0)
        self._utilization = math.nan
        ctx.ledger.series(LAYER, name)

    # -- processes -----------------------------------------------------------------
    def start(self) -> None:
        """Start the arrivals, the workers and the refresh clock."""
        env = self._env
        if self._gap is not None:
            env.process(self._arrivals())
        for i in range(self.workers):
            env.process(self._worker(i))
        if self.refresh_s > 0:
            env.process(self._refresher())

    def _arrivals(self) -> Generator[simpy.Event, Any, None]:
        env, gap, size, new = self._env, self._gap, self._size, self._new
        while True:
            yield env.timeout(gap.next())  # type: ignore[union-attr]
            self.arrive(size.next(), new.next() < self.new_share)

    def arrive(self, kb: float, new: bool = True) -> None:
        """A document of ``kb`` KB arrives now (the arrival process calls it; tests may too)."""
        t = self._env.now
        counted = t >= self._warmup_s
        self.arrived += counted
        self._invisible += 1
        if self.fresh_query_share > 0:
            self._recent.append(t)
        if new:
            self._grow(t, kb / 1e6, 0.0)  # the raw document lands in object storage
        self._queue.put((t, kb, counted, new))

    def _worker(self, i: int) -> Generator[simpy.Event, Any, None]:
        env = self._env
        while True:
            doc = yield self._queue.get()
            arrived_at, kb, counted, new = doc
            now = env.now
            if counted:
                self.started += 1
                self.wait_s_total += now - arrived_at
            self._in_service[i] = arrived_at
            self.meter.begin(i, now)
            mean_s = self.overhead_s + kb / 1000.0 / self.mb_per_s
            yield env.timeout(mean_s * self._factor.next())
            now = env.now
            self.meter.end(i, now)
            del self._in_service[i]
            tokens = max(1, round(kb * self.tokens_per_kb))
            if self._charge(now, "embedding", tokens * self.usd_per_token):
                self.embed_tokens += tokens
            self.processed += counted
            records_kb = math.ceil(tokens / self.chunk_tokens) * self.record_kb
            self._pending.append((arrived_at, records_kb, counted, new))
            if self.refresh_s == 0:
                self._publish()

    def _refresher(self) -> Generator[simpy.Event, Any, None]:
        while True:
            yield self._env.timeout(self.refresh_s)
            self._publish()

    def _publish(self) -> None:
        """Write the processed documents to the index: they become visible now."""
        now = self._env.now
        written_kb = grown_kb = 0.0
        for arrived_at, records_kb, counted, new in self._pending:
            written_kb += records_kb
            if new:
                grown_kb += records_kb
            if counted:
                self.visible += 1
                self.lag.add(now - arrived_at)
        self._invisible -= len(self._pending)
        self._pending.clear()
        if grown_kb:
            self._grow(now, 0.0, grown_kb / 1e6)
        if self._charge(now, "writes", written_kb * self.usd_per_wu):  # 1 WU per KB
            self.write_units += written_kb
            self.refreshes += 1
        self._charge(now, "refreshes", self.refresh_usd)

    # -- per-request enrichment (when named on a path) -----------------------------------
    def handle(self, req: Request) -> Generator[simpy.Event, Any, None]:
        """Input processing on the CPU tier: one timeout, its vCPU-time charged."""
        if self._enrich is not None:
            s = self._enrich.next()
            yield self._env.timeout(s)
            self._charge(self._env.now, "enrichment", s * self.usd_per_vcpu_s)
            self.enriched += req.arrived_at >= self._warmup_s

    # -- what a store asks ---------------------------------------------------------
    def stale_share(self, now: float | None = None) -> float:
        """Probability that a query asks about a document not yet visible (see module)."""
        if self.fresh_query_share == 0.0:
            return 0.0
        now = self._env.now if now is None else now
        recent, cutoff = self._recent, now - self.fresh_window_s
        while recent and recent[0] < cutoff:
            recent.popleft()
        # before t = 0 the stream ran at its mean rate and the index kept up
        n = len(recent) + self._rate * max(0.0, -cutoff)
        return self.fresh_query_share * min(self._invisible, n) / n if n > 0 else 0.0

    # -- accounting ------------------------------------------------------------------
    def _charge(self, t: float, part: str, usd: float) -> bool:
        """Charge ``usd`` at ``t``; True when it falls after the warm-up (it is counted)."""
        if usd > 0.0:
            self._ledger.charge(t, LAYER, self.name, usd)
        counted = t >= self._warmup_s
        if counted:
            self.usd[part] += usd
        return counted

    def _grow(self, t: float, raw_gb: float, index_gb: float) -> None:
        self._accrue(t)
        self.raw_gb += raw_gb
        self.index_gb += index_gb

    def _accrue(self, t: float) -> None:
        """Storage cost of the GB held from the last change to ``t``."""
        dt = t - self._accrued_t
        if dt > 0:
            usd_per_month = (
                self.raw_gb * self.raw_usd_per_gb_month
                + self.index_gb * self.index_usd_per_gb_month
            )
            self._accrued_usd += usd_per_month * dt / SECONDS_PER_MONTH
            if t > self._warmup_s:
                self.gb_s += (self.raw_gb + self.index_gb) * (
                    t - max(self._accrued_t, self._warmup_s)
                )
            self._accrued_t = t

    def bill(self, start_s: float, end_s: float) -> None:
        """Instances (busy or idle) and storage held in ``[start_s, end_s)``."""
        busy = self.meter.busy_in(start_s, end_s)
        provisioned_s = self.workers * (end_s - start_s)
        self._utilization = busy / provisioned_s if provisioned_s > 0 else math.nan
        if start_s >= self._warmup_s:
            self.busy_s += busy
        self._charge(start_s, "instances", provisioned_s / 3600.0 * self.usd_per_worker_hour)
        self._accrue(end_s)
        self._charge(start_s, "storage", self._accrued_usd)
        self._accrued_usd = 0.0

    def _oldest_invisible_at(self) -> float | None:
        times = [t for t, *_ in self._pending] + list(self._in_service.values())
        if self._queue.items:
            times.append(self._queue.items[0][0])
        return min(times) if times else None

    def gauges(self) -> dict[str, float]:
        """At the bucket edge: backlog, unrefreshed documents, age of the oldest not visible."""
        oldest = self._oldest_invisible_at()
        return {
            "utilization": self._utilization,
            "backlog": float(len(self._queue.items) + len(self._in_service)),
            "unrefreshed": float(len(self._pending)),
            "oldest_lag_s": self._env.now - oldest if oldest is not None else 0.0,
            "stale_share": self.stale_share(),
            "stored_gb": self.raw_gb + self.index_gb,
        }

    def report(self) -> dict[str, Any]:
        """What ``summary.json`` shows of this pipeline."""
        capacity = self.workers * 86400.0 / self.mean_service_s if self.mean_service_s > 0 else None
        load = self.docs_per_day / capacity if capacity else 0.0
        oldest = self._oldest_invisible_at()
        measured_s = self._env.now - self._warmup_s
        out: dict[str, Any] = {
            "kind": "pipeline",
            "documents": {
                "arrived": self.arrived,
                "processed": self.processed,
                "visible": self.visible,
                "waiting": self.arrived - self.started,
                "in_service": self.started - self.processed,
                "unrefreshed": self.processed - self.visible,
            },
            "docs_per_day": self.docs_per_day,
            "capacity_docs_per_day": capacity,
            "offered_load": load,
            "overloaded": load >= 1.0,
            "mean_wait_s": self.wait_s_total / self.started if self.started else None,
            "lag_s": self.lag.summary(),
            "oldest_waiting_s": self._env.now - oldest if oldest is not None else 0.0,
            "backlog_at_end": len(self._queue.items) + len(self._in_service),
            "workers": self.workers,
            "worker_utilization": self.busy_s / (self.workers * measured_s)
            if measured_s > 0
            else None,
            "stored_gb": {"raw": self.raw_gb, "index": self.index_gb},
            "gb_months": self.gb_s / SECONDS_PER_MONTH,
            "embedding_tokens": self.embed_tokens,
            "write_units": self.write_units,
            "refreshes": self.refreshes,
            "stale_share_at_end": self.stale_share(),
            "enriched_requests": self.enriched,
            "usd": dict(self.usd),
        }
        if load >= 1.0:
            out["note"] = (
                f"{self.docs_per_day:,.0f} documents/day arrive but {self.workers} worker(s) "
                f"process about {capacity:,.0f}/day: the backlog and the lag grow without bound"
            )
        return out


@dataclass
class PipelineConfig:
    """Continuous ingestion into the index (rates, sizes and prices: see each comment)."""

    # Assumption: a help centre or a company wiki of a few thousand people: 1,000 new or
    # changed pages a day, median 10 KB of text (~1,700 words), lognormal sigma 1.0
    # (mean 16.5 KB), half of them new pages, half edits.
    docs_per_day: float = knob(1000.0, ge=0, le=1e9)
    doc_kb_median: float = knob(10.0, gt=0, le=1e6)
    doc_kb_sigma: float = knob(1.0, ge=0, le=3)
    new_share: float = knob(0.5, ge=0, le=1)
    # CPU instances from the hardware catalog (c6i.2xlarge, $0.34/h on demand, AWS 2023).
    hardware: str = "c6i_2xlarge"
    workers: int = knob(1, ge=1, le=100_000, integer=True)
    vcpus: int = knob(8, ge=1, integer=True)  # AWS c6i.2xlarge: 8 vCPUs (instance page)
    # Assumption: per document ~2 s of fixed work (fetch, validate, parse, the embedding
    # API round trip) plus text extraction and cleaning at 0.5 MB/s; CV 0.5.
    overhead_s: float = knob(2.0, ge=0)
    mb_per_s: float = knob(0.5, gt=0)
    service: str = knob("lognormal", choices=SERVICE_DISTRIBUTIONS)
    service_cv: float = knob(0.5, ge=0, le=10)
    # ~4 characters of English per token (OpenAI, "What are tokens and how to count
    # them", help.openai.com): 1 KB of text ~ 250 tokens. Chunks as the store reads them.
    tokens_per_kb: float = knob(250.0, gt=0)
    chunk_tokens: int = knob(300, ge=1, integer=True)
    # OpenAI text-embedding-3-small: $0.02 per 1M tokens (openai.com/pricing, 2024-01).
    embed_usd_per_mtok: float = knob(0.02, ge=0)
    # A record of 1,536 dims + 1 kB metadata = 7.14 KB (Pinecone, "Understanding cost",
    # docs.pinecone.io, read 2026-11). Writes: 1 WU per KB written (the same page, as
    # summarised by usagepricing.com; not re-read here), $4 per 1M WU on the Standard
    # plan, us-east-1 (pinecone.io/pricing as captured 2026-11-04 by docs.flexprice.io's
    # Pinecone teardown). The per-request minimum of write units is not modelled.
    record_kb: float = knob(7.14, gt=0)
    usd_per_million_write_units: float = knob(4.0, ge=0)
    # Assumption: an hourly index refresh; its job runs on the workers (no extra price).
    refresh_s: float = knob(3600.0, ge=0)
    refresh_usd: float = knob(0.0, ge=0)
    # Raw documents: S3 Standard, first 50 TB, us-east-1, $0.023 per GB-month
    # (aws.amazon.com/s3/pricing, 2023-2026 list price; not re-read here). Index records:
    # Pinecone Standard $0.33 per GB-month (as stores.*.usd_per_gb_month).
    raw_usd_per_gb_month: float = knob(0.023, ge=0)
    index_usd_per_gb_month: float = knob(0.33, ge=0)
    # Assumption: 10 % of questions are about content changed in the last day.
    fresh_query_share: float = knob(0.1, ge=0, le=1)
    fresh_window_s: float = knob(86400.0, gt=0)
    # Assumption: per-request input processing (normalisation, PII scrubbing, language
    # detection) of ~5 ms on one vCPU, lognormal sigma 0.5; only when on a path.
    enrich_median_s: float = knob(0.005, ge=0)
    enrich_sigma: float = knob(0.5, ge=0, le=3)


@register("pipelines", PipelineConfig)
def build_pipeline(b: Any, name: str, c: Any) -> IngestPipeline:
    """A data pipeline: documents ingested on CPU workers, embedded, written to the index."""
    key = f"pipelines.{name}"
    hw = checks.lookup(f"{key}.hardware", c.hardware, b.cfg.hardware, "hardware")
    return IngestPipeline(
        name,
        b.ctx,
        docs_per_day=c.docs_per_day,
        doc_kb_median=c.doc_kb_median,
        doc_kb_sigma=c.doc_kb_sigma,
        new_share=c.new_share,
        workers=int(c.workers),
        usd_per_worker_hour=hw.usd_per_hour,
        overhead_s=c.overhead_s,
        mb_per_s=c.mb_per_s,
        service=c.service,
        service_cv=c.service_cv,
        tokens_per_kb=c.tokens_per_kb,
        chunk_tokens=int(c.chunk_tokens),
        embed_usd_per_mtok=c.embed_usd_per_mtok,
        record_kb=c.record_kb,
        usd_per_million_write_units=c.usd_per_million_write_units,
        refresh_s=c.refresh_s,
        refresh_usd=c.refresh_usd,
        raw_usd_per_gb_month=c.raw_usd_per_gb_month,
        index_usd_per_gb_month=c.index_usd_per_gb_month,
        fresh_query_share=c.fresh_query_share,
        fresh_window_s=c.fresh_window_s,
        enrich_median_s=c.enrich_median_s,
        enrich_sigma=c.enrich_sigma,
        usd_per_vcpu_hour=hw.usd_per_hour / int(c.vcpus),
        rng=b.ctx.rng.stream(f"pipelines.{name}"),
    )
