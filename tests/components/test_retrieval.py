"""The vector store: M/G/1 waiting against Pollaczek-Khinchine, context tokens, prices."""

from __future__ import annotations

import math

import numpy as np
import pytest
from omegaconf import OmegaConf, open_dict

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
