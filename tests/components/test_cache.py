"""The response cache: LRU against Che's approximation, savings, TTL, billing, branches."""

from __future__ import annotations

import math

import numpy as np
import pytest
from omegaconf import OmegaConf, open_dict

from sim.components.cache import CacheConfig
from sim.compose import compose
from sim.metrics.caching import che_hit_rate
from sim.run import run
from sim.workload.queries import ZipfQueries


def _with_cache(scenario: str, overrides: list[str], miss: list[str], **cache) -> object:
    cfg = compose(scenario, ["progress=false", "plots=false", *overrides])
    with open_dict(cfg):  # declared as a scenario file would
        cfg.caches["resp"] = OmegaConf.structured(CacheConfig(miss=miss, **cache))
    cfg.path = ["resp"]
    return cfg


def test_zipf_queries_follow_their_popularity():
    q = ZipfQueries(1000, 1.0, 0.2, rng=np.random.default_rng(1))
    ids = q.sample(200_000)
    fresh = ids >= 1000
    assert abs(fresh.mean() - 0.2) < 0.005
    assert len(np.unique(ids[fresh])) == fresh.sum()  # never-seen queries never repeat
    top = np.mean(ids[~fresh] == 0)
    assert abs(top - q.popularity[0]) < 0.01 * 3  # rank 0: 1/H(1000) ~ 13.4 %
    assert q.popularity[0] > q.popularity[1] > q.popularity[-1]


def test_che_is_exact_for_uniform_popularity():
    assert che_hit_rate(np.full(500, 1 / 500), 125) == pytest.approx(0.25, rel=1e-9)
    assert che_hit_rate(np.full(10, 0.1), 10) == 1.0


@pytest.mark.slow
def test_lru_hit_rate_matches_che_approximation():
    """Poisson arrivals with independent Zipf queries (the independent reference model),
    a miss path that answers in ~0.1 ms (so a response is stored almost at once)."""
    universe, capacity, s = 20_000, 1_000, 0.8
    expected = che_hit_rate(
        ZipfQueries(universe, s, 0.0, rng=np.random.default_rng()).popularity, capacity
    )
    simulated = []
    for seed in range(3):
        cfg = _with_cache(
            "copilot_like",
            [
                f"seed={seed}",
                "workload.arrival=poisson",
                "workload.rate_rps=200",
                "horizon_s=1200",
                "warmup_s=200",
                f"workload.queries.universe={universe}",
                f"workload.queries.zipf_s={s}",
                "pools.gpu.latency=exponential",
                "pools.gpu.service_mean_s=0.0001",
                "pools.gpu.max_batch_size=1",
            ],
            ["gpu"],
            capacity=capacity,
            lookup_s=0.0,
        )
        simulated.append(run(cfg).summary["components"]["resp"]["hit_rate"])
    # ~200k lookups per seed: sampling error ~0.1 %; Che's error for Zipf is well below 1 %
    assert abs(np.mean(simulated) - expected) < 0.01, (simulated, expected)


def _demo(cache: bool, **kw) -> dict:
    over = ["workload.arrival=poisson", "workload.rate_rps=20", "horizon_s=1800"]
    over += ["workload.queries.universe=5000", "workload.queries.zipf_s=1.0"]
    if not cache:
        return run(compose("demo", ["progress=false", "plots=false", *over])).summary
    return run(_with_cache("demo", over, ["llm"], capacity=2000, **kw)).summary


def test_the_cache_saves_inference_and_costs_its_nodes():
    off, on = _demo(False), _demo(True)
    for s in (off, on):
        r = s["requests"]
        assert r["arrived"] == r["completed"] + r["failed"] + r["dropped"] + r["in_flight"]
        layers = s["cost_usd"]["by_layer"]
        assert math.isclose(sum(layers.values()), s["cost_usd"]["total"], rel_tol=1e-12)
    rep = on["components"]["resp"]
    assert 0.3 < rep["hit_rate"] < 0.9
    inf_off, inf_on = (
        off["cost_usd"]["by_layer"]["inference"],
        on["cost_usd"]["by_layer"]["inference"],
    )
    # a hit buys no inference: the saving is about the hit rate
    assert inf_on < inf_off * (1 - rep["hit_rate"] + 0.05)
    assert on["layers"]["latency_optimization"]["active"]
    # one cache.r6g.large node for 2,000 x 4 kB, billed for every second of the run
    node_usd = on["cost_usd"]["by_component"]["resp"]["latency_optimization"]
    assert node_usd == pytest.approx(0.206 * 1800 / 3600, rel=1e-9)
    assert on["latency_s"]["p50"] < off["latency_s"]["p50"]  # hits answer in 0.5 ms


def test_a_hit_never_walks_the_miss_path():
    cfg = _with_cache(
        "demo",
        ["workload.arrival=poisson", "workload.rate_rps=20", "horizon_s=600",
         "workload.queries.universe=300"],
        ["llm"],
    )  # fmt: skip
    from sim.build import build
    from sim.workload.source import RequestSource

    built = build(cfg)
    RequestSource(built.ctx, built.arrivals, built.tokens, built.path, built.attributes).start()
    built.ctx.env.run(until=cfg.horizon_s)
    cache, api = built.components["resp"], built.components["llm"]
    assert cache.hits > 0
    assert api.calls == cache.lookups - cache.hits


def test_a_short_ttl_expires_responses():
    s = _demo(True, ttl_s=0.001)
    rep = s["components"]["resp"]
    assert rep["hit_rate"] < 0.01 and rep["expired"] > 0


def test_an_empty_miss_path_is_refused():
    from sim.build import build
    from sim.checks import ConfigError

    cfg = _with_cache("demo", [], [])
    with pytest.raises(ConfigError, match=r"^caches.resp.miss=\[\] is empty"):
        build(cfg)


def _semantic(threshold: float, policy: str = "semantic") -> dict:
    over = ["workload.arrival=poisson", "workload.rate_rps=20", "horizon_s=1800",
            "apis.llm.error_prob=0", "workload.queries.universe=6000",
            "workload.queries.paraphrases=3", "workload.queries.new_share=0"]  # fmt: skip
    return run(
        _with_cache("demo", over, ["llm"], capacity=2000, policy=policy, threshold=threshold)
    ).summary


def test_a_semantic_cache_matches_paraphrases_and_pays_in_false_hits():
    exact, sem = _semantic(0.85, "exact"), _semantic(0.85)
    e, m = exact["components"]["resp"], sem["components"]["resp"]
    assert m["hit_rate"] > e["hit_rate"] + 0.05  # other wordings of cached intents match
    assert e["false_hits"] == 0 and m["false_hits"] > 0
    assert exact["quality"] is None  # an exact cache spoils nothing
    # every false hit is a wrong answer (the model here answers everything acceptably)
    q = sem["quality"]
    assert q["completed"] - q["acceptable"] == pytest.approx(m["false_hits"], abs=2)
    # each lookup is embedded, at 30 tokens x $0.02 per 1M, on top of the node
    usd = sem["cost_usd"]["by_component"]["resp"]["latency_optimization"]
    node = 0.206 * 1800 / 3600
    assert usd - node == pytest.approx(m["lookups"] * 30 * 0.02e-6, rel=1e-6)


def test_a_higher_threshold_trades_hits_for_fewer_false_hits():
    low, high = _semantic(0.8)["components"]["resp"], _semantic(0.95)["components"]["resp"]
    assert high["hit_rate"] < low["hit_rate"]
    assert high["false_hits"] < low["false_hits"]
