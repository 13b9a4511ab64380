"""Routing by complexity: shares follow the thresholds, misroutes follow the predictor's error."""

from __future__ import annotations

import math

import pytest
from omegaconf import OmegaConf, open_dict

from sim.build import build
from sim.checks import ConfigError
from sim.components.router import RouterConfig
from sim.compose import compose
from sim.run import run

UNIFORM = ["workload.difficulty.alpha=1", "workload.difficulty.beta=1"]


def _with_router(overrides: list[str], **router) -> object:
    """demo's cheap model for easy requests, gpt_4o for hard ones, behind a router."""
    cfg = compose(
        "demo",
        ["progress=false", "plots=false", "workload.arrival=poisson", "workload.rate_rps=20",
         "horizon_s=1800", *overrides],
    )  # fmt: skip
    router.setdefault("routes", {"small": ["llm"], "large": ["big"]})
    router.setdefault("thresholds", [0.5])
    with open_dict(cfg):  # declared as a scenario file would
        cfg.apis["big"] = OmegaConf.merge(cfg.apis["llm"], {"model": "gpt_4o"})
        cfg.routers["r"] = OmegaConf.structured(RouterConfig(**router))
    cfg.path = ["r"]
    return cfg


def test_shares_follow_the_thresholds_without_noise():
    s = run(_with_router(UNIFORM, noise=0.0, thresholds=[0.3])).summary
    rep = s["components"]["r"]
    assert rep["misrouted_share"] == 0
    assert rep["routes"]["small"]["share"] == pytest.approx(0.3, abs=0.015)  # ~36k requests
    req = s["requests"]
    assert req["arrived"] == req["completed"] + req["failed"] + req["dropped"] + req["in_flight"]


def test_misroutes_follow_the_predictor_error():
    """Uniform difficulty, one boundary at 0.5, Gaussian error σ: P(misroute) = 2σ/√(2π)."""
    sigma = 0.05
    rep = run(_with_router(UNIFORM, noise=sigma)).summary["components"]["r"]
    expected = 2 * sigma / math.sqrt(2 * math.pi)
    assert rep["misrouted_share"] == pytest.approx(expected, rel=0.1)
    assert rep["under_routed"] == pytest.approx(rep["over_routed"], rel=0.2)  # symmetric


def test_routing_everything_to_the_large_model_costs_more():
    routed = run(_with_router([])).summary
    off = run(_with_router([], policy="off")).summary
    assert off["components"]["r"]["routes"]["large"]["share"] == 1.0
    assert off["cost_usd"]["by_component"]["big"]["inference"] > routed["cost_usd"]["total"]
    assert "llm" not in off["cost_usd"]["by_component"] or (
        off["cost_usd"]["by_component"]["llm"]["inference"] == 0
    )


def test_a_route_not_taken_costs_nothing():
    s = run(_with_router(UNIFORM, noise=0.0, thresholds=[0.999999])).summary
    assert s["components"]["r"]["routes"]["large"]["requests"] <= 1
    assert s["cost_usd"]["by_component"].get("big", {}).get("inference", 0.0) < 0.001


@pytest.mark.parametrize(
    ("router", "needle"),
    [
        (
            {"thresholds": [0.5, 0.7]},
            r"routers.r.routes=\['small', 'large'\] and routers.r.thresholds",
        ),
        (
            {"routes": {"a": ["llm"], "b": ["big"], "c": ["big"]}, "thresholds": [0.7, 0.5]},
            r"routers.r.thresholds=\[0.7, 0.5\] must increase",
        ),
        (
            {"routes": {"small": ["llm"], "large": ["bigg"]}},
            r"routers.r.routes.large\[0\]='bigg' names no component",
        ),
        ({"default": "medium"}, r"routers.r.default='medium' is not allowed"),
        (
            {"thresholds": [1.5]},
            r"routers.r.thresholds=\[1.5\] must be difficulties between 0 and 1",
        ),
        ({"thresholds": [-3.0]}, r"routers.r.thresholds\[0\]=-3.0 must be"),
    ],
)
def test_bad_routers_name_their_key(router, needle):
    with pytest.raises(ConfigError, match=needle):
        build(_with_router([], **router))


def test_a_query_is_as_hard_every_time_it_is_asked():
    import numpy as np

    from sim.workload.difficulty import BetaDifficulty, QueryDifficulty
    from sim.workload.queries import ZipfQueries

    rng = np.random.default_rng(3)
    queries = ZipfQueries(50, 1.0, 0.3, rng=rng)
    difficulty = QueryDifficulty(BetaDifficulty(2, 5, rng=rng), queries)
    seen: dict[int, float] = {}
    for _ in range(20):
        ids = queries.sample(500)
        for q, d in zip(ids.tolist(), difficulty.sample(500).tolist()):
            assert 0 <= d <= 1
            if q < 50:  # repeatable: always the same difficulty
                assert seen.setdefault(q, d) == d
    assert len(seen) == 50


def test_a_rule_on_prompt_length_sends_short_contexts_to_the_small_route():
    over = ["workload.tokens.prompt_median=1000", "workload.tokens.prompt_sigma=1"]
    cfg = _with_router(over, signal="prompt_tokens", thresholds=[1000], noise=0.5)
    assert "difficulty" not in build(cfg).attributes  # a rule on length needs no difficulty
    rep = run(cfg).summary["components"]["r"]
    assert rep["signal"] == "prompt_tokens"
    # the median prompt is 1,000 tokens: half go to each route, whatever the noise
    assert rep["routes"]["small"]["share"] == pytest.approx(0.5, abs=0.02)
    assert rep["misrouted_share"] is None and rep["under_routed"] is None
