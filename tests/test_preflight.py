"""Preflight: runs that cannot fit are refused before anything is built; misfits are flagged."""

from __future__ import annotations

import re

import pytest

from sim import preflight
from sim.checks import ConfigError
from sim.compose import compose, run_scenario

GB = 1e9


def _need(cfg) -> float:
    return preflight.BASE_BYTES + sum(p.bytes for p in preflight.estimate(cfg))


def test_ordinary_runs_fit_in_a_gigabyte():
    for name in ("demo", "copilot_like"):
        assert _need(compose(name)) < 1 * GB
        preflight.check_memory(compose(name), available=1 * GB)


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        (["bucket_s=0.001", "horizon_s=86400"], "bucket_s"),
        (["workload.users=400000000", "horizon_s=60"], "workload.users"),
        (["pools.gpu.replicas=100000000", "horizon_s=60"], "pools.gpu.replicas"),
    ],
)
def test_the_dominant_knob_is_named(overrides, key):
    cfg = compose("copilot_like", overrides)
    with pytest.raises(ConfigError) as err:
        preflight.check_memory(cfg, available=16 * GB)
    assert err.value.key == key
    assert str(err.value).startswith(key) and "GB available" in str(err.value)


def test_estimate_grows_with_what_it_counts():
    small = _need(compose("copilot_like", ["workload.users=1000", "horizon_s=60"]))
    users = _need(compose("copilot_like", ["workload.users=10000000", "horizon_s=60"]))
    assert users - small > 10_000_000 * preflight.USER_BYTES * 0.9
    fine = _need(compose("demo", ["bucket_s=1"]))
    coarse = _need(compose("demo", ["bucket_s=3600"]))
    assert fine - coarse > 604_800 * preflight.BUCKET_BYTES * 0.9


def test_a_run_of_billions_of_requests_is_refused():
    cfg = compose("demo", ["workload.arrival=poisson", "workload.rate_rps=1e6", "horizon_s=86400"])
    with pytest.raises(ConfigError, match=r"^workload.rate_rps=1000000.0 over horizon_s=86400.0"):
        preflight.check_memory(cfg)


def test_available_memory_is_read():
    assert 0 < preflight.available_bytes() < 1e15


A10G = ["pools.gpu.model=llama2_7b", "pools.gpu.hardware=a10g_24gb"]


def test_a_pool_that_cannot_hold_a_typical_request_is_refused():
    with pytest.raises(ConfigError, match=r"KV cache holds 381 tokens, less than the median"):
        run_scenario("copilot_like", [*A10G, "pools.gpu.kv_memory_fraction=0.57", "horizon_s=60"])


def test_a_pool_that_cannot_hold_some_requests_gets_a_note_that_matches_the_run():
    s = run_scenario(
        "copilot_like",
        [*A10G, "pools.gpu.kv_memory_fraction=0.66", "workload.users=20", "horizon_s=86400",
         "progress=false", "plots=false"],
    ).summary  # fmt: skip
    note = [n for n in s["notes"] if "KV cache" in n]
    assert len(note) == 1
    predicted = float(re.search(r"([\d.]+)% of requests", note[0]).group(1)) / 100
    observed = s["outcomes"]["too_long"] / s["requests"]["arrived"]
    assert abs(observed - predicted) < 0.03


def test_an_api_whose_token_limit_is_below_a_typical_request_is_refused():
    with pytest.raises(ConfigError, match=r"^apis.api.tpm_limit=1000.0: .* less than the median"):
        run_scenario("copilot_like", ["path=[api]", "apis.api.tpm_limit=1000", "horizon_s=60"])


def test_a_window_with_no_arrival_says_why():
    s = run_scenario("demo", ["horizon_s=3600", "progress=false", "plots=false"]).summary
    assert s["requests"]["arrived"] == 0
    (note,) = [n for n in s["notes"] if "no request arrived" in n]
    assert "Monday 00:00 to Monday 01:00" in note and "workload.clock_start_h=9" in note
    busy = run_scenario(
        "demo", ["horizon_s=3600", "workload.clock_start_h=10", "progress=false", "plots=false"]
    ).summary
    assert not [n for n in busy["notes"] if "arrived in the measured window" in n]


def test_the_expected_rate_follows_growth_over_the_horizon():
    month = 30.4375 * 86400
    base = compose("demo", [f"horizon_s={2 * month}"])
    grown = compose("demo", [f"horizon_s={2 * month}", "workload.growth.monthly_rate=1.0"])
    # month 1 at x1, month 2 at x2: the mean over the two months is x1.5
    assert preflight.expected_rate_rps(grown) == pytest.approx(
        1.5 * preflight.expected_rate_rps(base), rel=1e-9
    )
    volumes = compose(
        "demo", [f"horizon_s={2 * month}", "workload.growth.monthly_volumes=[0.5,0.5]"]
    )
    assert preflight.expected_rate_rps(volumes) == pytest.approx(
        0.5 * preflight.expected_rate_rps(base), rel=1e-9
    )


def test_an_autoscaled_pool_is_sized_by_its_bound_and_named_by_it():
    cfg = compose(
        "copilot_like",
        ["levers.autoscale=on", "pools.gpu.autoscale.max_replicas=100000000"],
    )
    from sim.levers import apply_levers

    parts = {p.key: p for p in preflight.estimate(apply_levers(cfg))}
    fixed_cfg = apply_levers(compose("copilot_like", ["levers.autoscale=off"]))
    fixed = {p.key: p for p in preflight.estimate(fixed_cfg)}
    part = parts["pools.gpu.autoscale.max_replicas"]
    assert "100000000" in part.what
    assert part.bytes > 1000 * fixed["pools.gpu.replicas"].bytes
