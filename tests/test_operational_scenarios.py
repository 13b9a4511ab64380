"""support_chatbot and production: all eight layers carry cost, every request and cent
is accounted for, and the review lever changes what it should."""

from __future__ import annotations

import pytest

from sim.compose import run_scenario
from sim.costs.layers import LAYERS

QUIET = ["progress=false", "plots=false"]


def _accounted(s):
    r = s["requests"]
    assert r["arrived"] == r["completed"] + r["failed"] + r["dropped"] + r["in_flight"]
    assert sum(s["cost_usd"]["by_layer"].values()) == pytest.approx(s["cost_usd"]["total"])


@pytest.fixture(scope="module")
def chat():
    return run_scenario("support_chatbot", QUIET).summary


def test_support_chatbot_charges_all_eight_layers(chat):
    _accounted(chat)
    for layer in LAYERS:
        assert chat["cost_usd"]["by_layer"][layer] > 0, layer
    episode = chat["components"]["monitor"]["episodes"][0]
    assert episode["detected_s"] > episode["start_s"]  # the launch drift was caught ...
    assert episode["restored_s"] > episode["detected_s"]  # ... and a retraining fixed it
    agents = chat["components"]["agents"]
    assert agents["escalated"] > 0.2 * chat["requests"]["completed"] * 0.5  # a third of misses
    assert chat["quality"]["acceptable_share"] > 0.99  # people answer what the AI cannot


def test_no_review_team_costs_less_and_catches_nothing(chat):
    none = run_scenario("support_chatbot", [*QUIET, "levers.review=none"]).summary
    assert "qa" not in none["components"]
    assert (
        none["cost_usd"]["by_layer"]["human_oversight"]
        < chat["cost_usd"]["by_layer"]["human_oversight"]
    )
    assert chat["components"]["qa"]["caught"] > 0


def test_production_charges_all_eight_layers():
    # a smaller production (3,000 users) with a larger evaluation sample, so that the
    # drift is detected and a retraining cycle runs within the week
    s = run_scenario(
        "production", [*QUIET, "workload.users=3000", "monitors.monitor.eval_share=0.2"]
    ).summary
    _accounted(s)
    for layer in LAYERS:
        assert s["cost_usd"]["by_layer"][layer] > 0, layer
