"""The vector store: M/G/1 waiting against Pollaczek-Khinchine, context tokens, prices."""

from __future__ import annotations

import math

import numpy as np
import pytest
from omegaconf import OmegaConf, open_dict

from sim.build import build
from sim.checks import ConfigError
from sim.components.pipeline import PipelineConfig
from sim.components.retrieval import VectorStoreConfig
from sim.compose import compose
from sim.run import run


def _with_store(overrides: list[str], **store) -> object:
    cfg = compose("demo", ["progress=false", "plots=false", "workload.arrival=poisson", *overrides])
    with open_dict(cfg):  # declared as a scenario file would
        cfg.stores["docs"] = OmegaConf.structured(VectorStoreConfig(**store))
    cfg.path = ["docs", "llm"]
    return cfg


@pytest.mark.slow
def test_queries_wait_like_an_mg1_queue():
    """One query slot, lognormal service: mean wait = λ E[S²] / (2 (1 - ρ))."""
    m, s, lam = 0.02, 0.5, 30.0
    es, es2 = m * math.exp(s * s / 2), m * m * math.exp(2 * s * s)
    expected = lam * es2 / (2 * (1 - lam * es))
    waits = []
    for seed in range(3):
        cfg = _with_store(
            [f"seed={seed}", f"workload.rate_rps={lam}", "horizon_s=1500", "warmup_s=100"],
            servers=1,
            latency_median_s=m,
            latency_sigma=s,
        )
        waits.append(run(cfg).summary["components"]["docs"]["mean_wait_s"])
    assert abs(np.mean(waits) / expected - 1) < 0.08, (waits, expected)


def test_selective_context_reads_fewer_tokens_and_costs_less_inference():
    over = ["workload.rate_rps=2", "horizon_s=1800"]
    full = run(_with_store(over, context="full")).summary
    sel = run(_with_store(over, context="selective")).summary
    assert full["requests"]["arrived"] == sel["requests"]["arrived"]
    # the same requests, 10 vs 3 chunks of 300 tokens each
    added = full["tokens"]["prompt_mean"] - sel["tokens"]["prompt_mean"]
    assert added == pytest.approx(7 * 300, rel=0.02)
    assert full["cost_usd"]["by_layer"]["inference"] > sel["cost_usd"]["by_layer"]["inference"]
    # but the re-ranker costs per query: retrieval is dearer when selective
    assert (
        sel["cost_usd"]["by_layer"]["context_retrieval"]
        > full["cost_usd"]["by_layer"]["context_retrieval"]
    )
    assert sel["latency_s"]["p50"] > full["latency_s"]["p50"] - 1.0  # +0.1 s re-ranking


def test_every_query_and_the_storage_are_charged():
    cfg = _with_store(["workload.rate_rps=1", "horizon_s=3600"], servers=64)
    s = run(cfg).summary
    rep = s["components"]["docs"]
    per_query = 7.14 * 16 / 1e6 + 30 * 0.02 / 1e6
    storage = 7.14 * 0.33 * 3600 / (30.4375 * 86400)
    charged = s["cost_usd"]["by_component"]["docs"]["context_retrieval"]
    # queries still running at the horizon are counted but not yet charged (at most a few)
    assert rep["queries"] * per_query + storage - charged == pytest.approx(0, abs=3 * per_query)
    assert rep["usd_per_query"] == pytest.approx(per_query, rel=1e-12)
    assert s["layers"]["context_retrieval"]["active"]


def _fed_by(cfg: object, **pipe) -> object:
    """``cfg`` with the pipeline ``ingest`` that the store names (``pipeline: ingest``)."""
    with open_dict(cfg):
        cfg.pipelines["ingest"] = OmegaConf.structured(PipelineConfig(**pipe))
    return cfg


def test_a_stale_index_lowers_the_acceptable_share():
    """Half the questions are about documents of the last hour. Refreshed at once, the
    index shows them within seconds; refreshed hourly, a document waits half an hour on
    average: stale share = 0.5 x (t mod 3600) / 3600, 0.25 over the measured window."""
    over = ["workload.rate_rps=2", "horizon_s=5400", "warmup_s=1800"]
    pipe = dict(docs_per_day=20000, fresh_query_share=0.5, fresh_window_s=3600.0)
    runs = {}
    for refresh_s in (0.0, 3600.0):
        cfg = _with_store(over, full_miss_prob=0.0, servers=64, pipeline="ingest")
        runs[refresh_s] = run(_fed_by(cfg, refresh_s=refresh_s, **pipe)).summary
    fast, slow = runs[0.0], runs[3600.0]
    assert fast["requests"]["arrived"] == slow["requests"]["arrived"]
    assert fast["components"]["docs"]["mean_stale_share"] < 0.002  # ~0.5 x 0.75 / 833
    assert fast["quality"]["acceptable_share"] > 0.995
    stale = slow["components"]["docs"]["mean_stale_share"]
    assert stale == pytest.approx(0.25, abs=0.02)
    assert slow["quality"]["acceptable_share"] == pytest.approx(1 - stale, abs=0.02)
    assert slow["quality"]["acceptable_share"] < fast["quality"]["acceptable_share"] - 0.15
    # the pipeline is built and run from the store's link alone (not in services)
    assert slow["components"]["ingest"]["documents"]["arrived"] > 500


def test_a_store_without_a_pipeline_is_unchanged_and_reports_no_staleness():
    s = run(_with_store(["workload.rate_rps=1", "horizon_s=600"])).summary
    assert "mean_stale_share" not in s["components"]["docs"]
    assert "ingest" not in s["components"]


def test_a_link_to_what_is_not_a_pipeline_is_refused_with_its_key():
    cfg = _fed_by(_with_store(["horizon_s=600"], pipeline="llm"))
    with pytest.raises(ConfigError, match=r"^stores.docs.pipeline='llm' is not a data pipeline"):
        build(cfg)
    cfg = _fed_by(_with_store(["horizon_s=600"], pipeline="ingst"))
    with pytest.raises(
        ConfigError, match=r"^stores.docs.pipeline='ingst' names no component; did you mean"
    ):
        build(cfg)
