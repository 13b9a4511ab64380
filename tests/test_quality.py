"""Quality next to cost: answers spoiled by misroutes, context that misses, cached answers."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf, open_dict

from sim.components.cache import CacheConfig
from sim.components.retrieval import VectorStoreConfig
from sim.components.router import RouterConfig
from sim.compose import compose, run_scenario
from sim.run import run

BASE = ["progress=false", "plots=false", "workload.arrival=poisson", "workload.rate_rps=20",
        "horizon_s=1800", "apis.llm.error_prob=0"]  # fmt: skip
UNIFORM = ["workload.difficulty.alpha=1", "workload.difficulty.beta=1"]


def _routed(policy: str, noise: float) -> dict:
    cfg = compose("demo", [*BASE, *UNIFORM, "apis.llm.skill=0.5"])
    with open_dict(cfg):
        cfg.apis["big"] = OmegaConf.merge(cfg.apis["llm"], {"model": "gpt_4o", "skill": 1.0})
        cfg.routers["r"] = OmegaConf.structured(
            RouterConfig(routes={"small": ["llm"], "large": ["big"]}, thresholds=[0.5],
                         noise=noise, policy=policy)
        )  # fmt: skip
    cfg.path = ["r"]
    return run(cfg).summary


def test_nothing_modelled_means_no_quality_figure():
    s = run_scenario("copilot_like", ["workload.users=20", "horizon_s=3600", "progress=false"])
    assert s.summary["quality"] is None


def test_under_routed_requests_are_the_unacceptable_answers():
    s = _routed("by_complexity", noise=0.1)
    q, rep = s["quality"], s["components"]["r"]
    assert q is not None and 0.8 < q["acceptable_share"] < 0.99
    # a request routed below what it needs is answered by the small model beyond its skill
    # (those still in flight at the horizon were routed but have no answer yet)
    in_flight = s["requests"]["in_flight"]
    assert (
        rep["under_routed"] - in_flight <= q["completed"] - q["acceptable"] <= rep["under_routed"]
    )
    assert q["by_route"]["large"]["acceptable_share"] == 1.0
    assert q["by_route"]["small"]["acceptable_share"] < 1.0


def test_routing_everything_to_the_large_model_costs_more_and_loses_no_quality():
    routed, off = _routed("by_complexity", 0.1), _routed("off", 0.1)
    assert off["quality"]["acceptable_share"] == 1.0 >= routed["quality"]["acceptable_share"]
    assert off["cost_usd"]["total"] > routed["cost_usd"]["total"]


def test_selective_context_costs_quality():
    shares = {}
    for policy in ("full", "selective"):
        cfg = compose("demo", BASE)
        with open_dict(cfg):
            cfg.stores["docs"] = OmegaConf.structured(VectorStoreConfig(context=policy))
        cfg.path = ["docs", "llm"]
        shares[policy] = run(cfg).summary["quality"]["acceptable_share"]
    assert shares["full"] == pytest.approx(0.98, abs=0.006)  # full_miss_prob 0.02
    assert shares["selective"] == pytest.approx(0.95, abs=0.008)  # selective_miss_prob 0.05


def test_a_cache_hit_carries_the_quality_of_the_answer_it_repeats():
    cfg = compose("demo", [*BASE, "workload.queries.universe=200", "workload.queries.new_share=0"])
    with open_dict(cfg):  # every retrieved context misses: every answer is unacceptable
        cfg.stores["docs"] = OmegaConf.structured(VectorStoreConfig(full_miss_prob=1.0))
        cfg.caches["c"] = OmegaConf.structured(CacheConfig(miss=["docs", "llm"]))
    cfg.path = ["c"]
    s = run(cfg).summary
    assert s["components"]["c"]["hit_rate"] > 0.5
    assert s["quality"]["acceptable_share"] == 0.0
