"""Levers: the same switch names in every scenario, mapped by each scenario onto its parts."""

from __future__ import annotations

import pytest
from omegaconf import open_dict

from sim.checks import ConfigError
from sim.compose import compose, run_scenario
from sim.levers import apply_levers

QUICK = ["progress=false", "plots=false", "workload.clock_start_h=9", "horizon_s=28800"]


def test_a_lever_switches_the_components_it_maps_to():
    off = run_scenario("demo", [*QUICK, "levers.cache=off"]).summary
    on = run_scenario("demo", [*QUICK, "levers.cache=exact"]).summary
    assert off["config"]["path"] == ["llm"] and on["config"]["path"] == ["cache"]
    assert on["config"]["levers"]["cache"] == "exact"
    assert "cache" in on["components"] and "cache" not in off["components"]
    assert on["requests"]["arrived"] == off["requests"]["arrived"]  # the same traffic
    assert on["layers"]["latency_optimization"]["active"]
    assert not off["layers"]["latency_optimization"]["active"]
    hit = on["components"]["cache"]["hit_rate"]
    assert hit > 0
    # a hit buys no inference (the requests and their sizes are the same in both runs)
    assert on["cost_usd"]["by_layer"]["inference"] < off["cost_usd"]["by_layer"]["inference"]


def test_off_is_the_scenario_as_written():
    plain = run_scenario("demo", QUICK).summary
    off = run_scenario("demo", [*QUICK, "levers.cache=off"]).summary
    assert plain["cost_usd"] == off["cost_usd"] and plain["requests"] == off["requests"]


def test_a_lever_a_scenario_lacks_is_refused_naming_the_scenario():
    with pytest.raises(
        ConfigError, match=r"levers.cache='exact' does not apply to scenario 'copilot_like'"
    ):
        apply_levers(compose("copilot_like", ["levers.cache=exact"]))


def test_a_value_the_scenario_does_not_offer_lists_what_it_offers():
    with pytest.raises(
        ConfigError,
        match=r"levers.cache='semantic' is not offered by scenario 'demo'; choose one of: off, exact",
    ):
        apply_levers(compose("demo", ["levers.cache=semantic"]))


def test_an_option_that_names_no_key_is_refused():
    cfg = compose("demo", ["levers.cache=exact"])
    with open_dict(cfg):
        cfg.lever_options.cache.exact = {"pathz": ["cache"]}
    with pytest.raises(ConfigError, match=r"^lever_options.cache.exact.pathz="):
        apply_levers(cfg)


def test_applying_levers_leaves_the_input_alone():
    cfg = compose("demo", ["levers.cache=exact"])
    out = apply_levers(cfg)
    assert list(cfg.path) == ["llm"] and list(out.path) == ["cache"]


def test_copilot_routing_sends_short_contexts_to_the_small_model():
    # 1,000 developers: 4 A100s without routing, 3 A100s + 2 A10Gs with it
    short = ["workload.users=1000", "horizon_s=86400", "workload.clock_start_h=0",
             "progress=false", "plots=false"]  # fmt: skip
    off = run_scenario("copilot_like", short).summary
    on = run_scenario("copilot_like", short + ["levers.routing=by_complexity"]).summary
    routes = on["components"]["route"]["routes"]
    # 38 % of the Azure code trace's prompts are under 1,024 tokens
    assert routes["short"]["share"] == pytest.approx(0.379, abs=0.01)
    assert on["cost_usd"]["total"] < off["cost_usd"]["total"]
    q = on["quality"]
    assert q["by_route"]["long"]["acceptable_share"] == 1.0
    assert 0.6 < q["by_route"]["short"]["acceptable_share"] < 0.8  # the 3B model's price
    assert off["quality"] is None  # one model, the reference: nothing to spoil
