"""The ``pipelines`` section: typed config (rates, sizes, prices with sources) and builder.

``pipelines.NAME`` in a scenario declares one pipeline (:class:`PipelineConfig`);
:func:`build_pipeline` prices its workers from the ``hardware`` catalog (an instance's
``usd_per_hour``, and one vCPU's share of it for enrichment). It is registered for the
section, so importing :mod:`sim.components.pipeline` makes the kind known.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sim import checks
from sim.checks import knob
from sim.components.kinds import register
from sim.components.pipeline.report import IngestPipeline
from sim.components.pipeline.workers import SERVICE_DISTRIBUTIONS


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
