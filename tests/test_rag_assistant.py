"""rag_assistant end to end: every lever on, each switch changes what it should."""

from __future__ import annotations

import math

import pytest

from sim.compose import run_scenario

SHORT = ["workload.users=300", "horizon_s=86400", "workload.clock_start_h=0", "progress=false",
         "plots=false"]  # fmt: skip


@pytest.fixture(scope="module")
def runs():
    levers = {"as_written": [], "cache_off": ["levers.cache=off"],
              "full": ["levers.context=full"], "routing_off": ["levers.routing=off"]}  # fmt: skip
    return {k: run_scenario("rag_assistant", SHORT + v).summary for k, v in levers.items()}


def test_all_mechanisms_charge_their_layers(runs):
    s = runs["as_written"]
    req = s["requests"]
    assert req["arrived"] > 1000
    assert req["arrived"] == req["completed"] + req["failed"] + req["dropped"] + req["in_flight"]
    for layer in ("inference", "context_retrieval", "latency_optimization"):
        assert s["cost_usd"]["by_layer"][layer] > 0, layer
    assert math.isclose(
        sum(s["cost_usd"]["by_layer"].values()), s["cost_usd"]["total"], rel_tol=1e-12
    )
    assert set(s["quality"]["by_route"]) == {"small", "large"}
    assert s["components"]["answers"]["policy"] == "semantic"


def test_each_lever_moves_what_it_should(runs):
    base = runs["as_written"]
    assert (
        runs["cache_off"]["cost_usd"]["by_layer"]["inference"]
        > base["cost_usd"]["by_layer"]["inference"]
    )
    full = runs["full"]
    assert full["tokens"]["prompt_mean"] > base["tokens"]["prompt_mean"]  # 10 chunks, not 3
    assert full["quality"]["acceptable_share"] > base["quality"]["acceptable_share"]
    off = runs["routing_off"]
    assert off["components"]["route"]["routes"]["large"]["share"] == 1.0
    assert off["cost_usd"]["by_layer"]["inference"] > base["cost_usd"]["by_layer"]["inference"]
