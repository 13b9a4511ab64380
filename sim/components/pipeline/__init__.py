"""The ``pipelines`` kind: continuous ingestion of documents into the index (``data_pipeline``).

A pipeline is a service beside the request path (``services: [ingest]``): documents
arrive, wait for a CPU worker, are embedded and written to the index, and become
visible at the next refresh. Named on a path as well, it is an input-processing stage
(per-request enrichment). The parts of the mechanism, one module each:

* :mod:`~sim.components.pipeline.workers` — arrivals, the FIFO worker queue, refreshes,
  per-request enrichment, and the charges made as they happen (embedding, index writes,
  refreshes, enrichment) (:class:`IngestWorkers`).
* :mod:`~sim.components.pipeline.storage` — raw text and index records held, billed as
  GB-months (:class:`StoredVolume`).
* :mod:`~sim.components.pipeline.lag` — lag to visibility and the staleness a linked
  vector store sees (:class:`Freshness`).
* :mod:`~sim.components.pipeline.report` — instances billed by bucket, gauges, the
  report and the notes (:class:`IngestPipeline`, the component a run builds).
* :mod:`~sim.components.pipeline.config` — the typed config (:class:`PipelineConfig`)
  and the builder registered for the ``pipelines`` section.
"""

from __future__ import annotations

from sim.components.pipeline.config import PipelineConfig, build_pipeline
from sim.components.pipeline.lag import Freshness
from sim.components.pipeline.report import IngestPipeline
from sim.components.pipeline.storage import SECONDS_PER_MONTH, StoredVolume
from sim.components.pipeline.workers import LAYER, PARTS, SERVICE_DISTRIBUTIONS, IngestWorkers

__all__ = [
    "LAYER",
    "PARTS",
    "SECONDS_PER_MONTH",
    "SERVICE_DISTRIBUTIONS",
    "Freshness",
    "IngestPipeline",
    "IngestWorkers",
    "PipelineConfig",
    "StoredVolume",
    "build_pipeline",
]
