"""Prompt (prefix) caching: the cache itself, the prefixes a workload shares, a pool that
skips prefill for cached blocks and an API that bills them at the cached-input price."""

from __future__ import annotations

import numpy as np
import pytest

from sim.components.prefix import PrefixCache
from sim.compose import run_scenario
from sim.workload.prefix import SyntheticPrefixes
from sim.workload.trace import TraceArrivals


def test_matches_only_a_prefix_from_the_start() -> None:
    c = PrefixCache()
    assert c.lookup([1, 2, 3], 0.0) == 0
    assert c.lookup([1, 2, 3, 4], 1.0) == 3
    assert c.lookup([9, 2, 3], 2.0) == 0  # block 2 is cached, but not after block 9
    assert c.lookup([1, 2, 7], 3.0) == 2


def test_capacity_evicts_the_least_recently_used() -> None:
    c = PrefixCache(capacity_blocks=4)
    c.lookup([1, 2], 0.0)
    c.lookup([3, 4], 1.0)
    c.lookup([1, 2], 2.0)  # 1, 2 are now the most recent
    c.lookup([5, 6], 3.0)  # evicts 3, 4
    assert len(c) == 4
    assert c.lookup([1, 2], 4.0) == 2
    assert c.lookup([3], 5.0) == 0


def test_ttl_forgets_idle_prefixes_but_keeps_used_ones() -> None:
    c = PrefixCache(ttl_s=300.0)
    c.lookup([1, 2], 0.0)
    assert c.lookup([1, 2], 200.0) == 2  # used again: idle time restarts
    assert c.lookup([1, 2], 450.0) == 2
    assert c.lookup([1, 2], 800.0) == 0  # idle 350 s > 300 s
    assert len(c) == 2


def test_unbounded_cache_over_mooncake_reuses_what_the_trace_reports() -> None:
    # ../shared/data/traces/README.md (computed from the file independently): 36.6 % of
    # the 288,500 prompt blocks of the conversation trace were seen before.
    t = TraceArrivals("mooncake_fast25_conversation.jsonl", horizon_s=1e9, loop=False)
    c = PrefixCache()
    matched = total = 0
    for block in t.blocks():
        for ids in t.prefix_blocks(block.rows):
            matched += c.lookup(ids, 0.0)
            total += len(ids)
    assert total == 288_500
    assert matched / total == pytest.approx(0.366, abs=0.0005)


def test_synthetic_prefixes_share_the_system_prompt_and_the_group() -> None:
    p = SyntheticPrefixes(128, 1000, 3, 0.0, 512, rng=np.random.default_rng(1))
    prompts = [100, 2000, 2000, 5000, 127 + 7 * 128]
    blocks = p.for_block(None, prompts)
    assert [len(b) for b in blocks] == [n // 128 for n in prompts]  # whole blocks only
    shared = list(range(1000 // 128))  # 7 shared blocks
    for b in blocks[1:]:
        assert b[:7] == shared
    mid = [tuple(b[7:11]) for b in blocks[1:4]]  # the group's 4 blocks
    assert len(set(mid)) <= 3
    own = [x for b in blocks for x in b[11:]]
    assert len(own) == len(set(own))  # a request's own blocks are nobody else's
    again = p.for_block(None, [2000])[0]
    assert set(again[11:]).isdisjoint(own)


SYSTEM = [
    "workload.arrival=poisson",
    "workload.rate_rps=2",
    "workload.tokens.kind=fixed",
    "workload.tokens.prompt_median=3000",
    "workload.tokens.output_median=50",
    "workload.prefix.shared_tokens=2048",
    "horizon_s=600",
    "progress=false",
    "plots=false",
]


@pytest.fixture(scope="module")
def api_runs():
    over = SYSTEM + ["path=[api]", "apis.api.model=gpt_4o_mini"]
    off = run_scenario("copilot_like", over).summary
    on = run_scenario("copilot_like", over + ["apis.api.prompt_caching=true"]).summary
    return off, on


def test_api_bills_the_shared_prefix_at_the_cached_price(api_runs) -> None:
    off, on = api_runs
    pc = on["components"]["api"]["prompt_cache"]
    # every prompt but the first starts with the 2,048-token (16-block) system prompt
    assert pc["cached_tokens"] == (pc["lookups"] - 1) * 2048
    assert "api" not in off["components"]
    saved = off["cost_usd"]["total"] - on["cost_usd"]["total"]
    # gpt-4o-mini: $0.15 input, $0.075 cached input per million tokens
    # (calls still running at the horizon were looked up but are not billed yet)
    expected = pc["cached_tokens"] * (0.15 - 0.075) / 1e6
    assert saved == pytest.approx(expected, rel=0.01)
    assert saved <= expected
    for s in (off, on):
        r = s["requests"]
        assert r["arrived"] == r["completed"] + r["failed"] + r["dropped"] + r["in_flight"]


def test_api_forgets_prefixes_idle_longer_than_the_ttl() -> None:
    over = SYSTEM + ["path=[api]", "apis.api.model=gpt_4o_mini",
                     "apis.api.prompt_caching=true", "apis.api.prompt_cache_ttl_s=1e-6"]  # fmt: skip
    s = run_scenario("copilot_like", over).summary
    assert s["components"]["api"]["prompt_cache"]["cached_tokens"] == 0


def test_pool_skips_prefill_of_cached_blocks() -> None:
    # one replica (a fixed fleet: its cache stays warm), not overloaded
    over = SYSTEM + ["workload.users=250", "workload.rate_rps=1", "levers.autoscale=off"]
    off = run_scenario("copilot_like", over).summary
    on = run_scenario("copilot_like", over + ["pools.gpu.prefix_caching=true"]).summary
    pc = on["components"]["gpu"]["prefix_cache"]
    assert pc["cached_tokens"] == (pc["lookups"] - 1) * 2048  # one replica: always warm
    assert on["ttft_s"]["mean"] < 0.6 * off["ttft_s"]["mean"]  # ~1/3 of the prompt prefilled
    assert on["requests"]["arrived"] == off["requests"]["arrived"]  # same arrivals
    assert on["requests"]["completed"] >= off["requests"]["completed"]


def test_the_terminal_shows_what_prefix_caching_saved(api_runs) -> None:
    from sim.outputs import format_summary

    _, on = api_runs
    share = on["components"]["api"]["prompt_cache"]["cached_token_share"]
    line = [x for x in format_summary(on).splitlines() if x.startswith("prefix ")]
    assert line == [
        f"prefix    api: {share:.1%} of {on['components']['api']['prompt_cache']['prompt_tokens']:,}"
        " prompt tokens cached (provider's prompt cache)"
    ]


def test_a_jsonl_trace_keeps_its_prefix_blocks_under_a_shifted_clock() -> None:
    over = ["workload.arrival=trace", "workload.trace.path=mooncake_fast25_conversation.jsonl",
            "workload.clock_start_h=9", "horizon_s=600", "pools.gpu.replicas=24",
            "pools.gpu.prefix_caching=true", "progress=false", "plots=false"]  # fmt: skip
    s = run_scenario("copilot_like", over).summary
    assert s["components"]["gpu"]["prefix_cache"]["cached_tokens"] > 0
