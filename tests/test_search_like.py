"""search_like end to end: every mechanism on, layers charged, each lever does its job."""

from __future__ import annotations

import math

import pytest

from sim.compose import run_scenario

SHORT = ["horizon_s=1200", "warmup_s=300", "progress=false", "plots=false"]


@pytest.fixture(scope="module")
def runs():
    levers = {
        "as_written": [],
        "cache_off": ["levers.cache=off"],
        "semantic": ["levers.cache=semantic"],
        "selective": ["levers.context=selective"],
        "routing_off": ["levers.routing=off"],
    }
    return {k: run_scenario("search_like", SHORT + v).summary for k, v in levers.items()}


def test_every_layer_it_models_is_charged_and_conserved(runs):
    s = runs["as_written"]
    req = s["requests"]
    assert req["arrived"] == req["completed"] + req["failed"] + req["dropped"] + req["in_flight"]
    for layer in ("inference", "infrastructure", "context_retrieval", "latency_optimization"):
        assert s["layers"][layer]["active"] and s["cost_usd"]["by_layer"][layer] > 0, layer
    total = sum(s["cost_usd"]["by_layer"].values())
    assert math.isclose(total, s["cost_usd"]["total"], rel_tol=1e-12)
    assert 0.9 < s["quality"]["acceptable_share"] < 1.0
    assert s["components"]["answers"]["hit_rate"] > 0.1
    assert 0.1 < s["components"]["route"]["routes"]["ai"]["share"] < 0.3


def test_the_cache_lever_saves_inference_and_retrieval(runs):
    on, off = runs["as_written"], runs["cache_off"]
    for layer in ("inference", "context_retrieval"):
        assert off["cost_usd"]["by_layer"][layer] > on["cost_usd"]["by_layer"][layer]
    assert off["cost_usd"]["by_layer"]["latency_optimization"] == 0


def test_the_context_lever_reads_fewer_tokens_and_costs_quality(runs):
    full, sel = runs["as_written"], runs["selective"]
    assert sel["tokens"]["prompt_mean"] < full["tokens"]["prompt_mean"]
    assert sel["cost_usd"]["by_layer"]["inference"] < full["cost_usd"]["by_layer"]["inference"]
    assert sel["quality"]["acceptable_share"] < full["quality"]["acceptable_share"]


def test_the_routing_lever_off_answers_everything_with_ai(runs):
    routed, off = runs["as_written"], runs["routing_off"]
    assert off["components"]["route"]["routes"]["ai"]["share"] == 1.0
    assert off["cost_usd"]["total"] > 3 * routed["cost_usd"]["total"]
    assert off["quality"]["acceptable_share"] >= routed["quality"]["acceptable_share"]


def test_the_semantic_cache_hits_more_and_costs_quality(runs):
    exact, sem = runs["as_written"], runs["semantic"]
    assert sem["components"]["answers"]["policy"] == "semantic"
    assert sem["components"]["answers"]["hit_rate"] > exact["components"]["answers"]["hit_rate"]
    assert sem["components"]["answers"]["false_hits"] > 0
    assert sem["quality"]["acceptable_share"] < exact["quality"]["acceptable_share"]
