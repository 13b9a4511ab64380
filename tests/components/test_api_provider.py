"""Tests of the hosted-API stage: prices, latency distribution, errors, rate limits, catalog."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from omegaconf import OmegaConf

from sim.components.api_config import ApiConfig, api_provider_from_config
from sim.components.api_provider import ApiProvider
from sim.components.outages import OutageSchedule, outage_schedule
from sim.components.request import Request, Status
from sim.components.stage import Stage
from sim.config import ApiModelSpec
from sim.engine.context import SimContext
from sim.paths import configs_dir

SEEDS = [0, 1, 2, 3]


def make(ctx: SimContext, **overrides: Any) -> ApiProvider:
    kw: dict[str, Any] = dict(
        usd_per_mtok_input=2.5,
        usd_per_mtok_output=10.0,
        usd_per_mtok_cached_input=1.25,
        ttft_median_s=0.4,
        ttft_sigma=0.5,
        tokens_per_s_median=80.0,
        tokens_per_s_sigma=0.3,
        rpm_limit=None,
        tpm_limit=None,
        on_limit="queue",
        max_queue_s=60.0,
        error_prob=0.0,
        rng=ctx.rng.stream("api.test"),
    )
    kw.update(overrides)
    return ApiProvider("api", ctx, **kw)


def run(
    ctx: SimContext, provider: ApiProvider, reqs: list[Request], gap_s: float = 0.0
) -> dict[int, float]:
    """One process per request (arriving ``gap_s`` apart); returns each one's end time."""
    ended: dict[int, float] = {}

    def one(req: Request, delay: float):
        if delay:
            yield ctx.env.timeout(delay)
        req.arrived_at = ctx.env.now
        yield from provider.handle(req)
        ended[req.id] = ctx.env.now

    for i, req in enumerate(reqs):
        ctx.env.process(one(req, i * gap_s))
    ctx.env.run()
    return ended


def requests(n: int, prompt: int = 1000, output: int = 200) -> list[Request]:
    return [Request(i, 0.0, prompt, output) for i in range(n)]


# --- contract and validation ----------------------------------------------------------
def test_is_a_stage_and_registers_inference_layer() -> None:
    ctx = SimContext(seed=0, horizon_s=10.0)
    p = make(ctx)
    assert isinstance(p, Stage)
    assert ctx.ledger.active_layers() == ["inference"]
    assert ctx.ledger.n_entries == 0


@pytest.mark.parametrize(
    ("arg", "value", "allowed"),
    [
        ("on_limit", "wait", "queue"),
        ("error_prob", 1.5, "in [0, 1]"),
        ("rpm_limit", 0.0, "> 0"),
        ("tpm_limit", -5.0, "> 0"),
        ("max_queue_s", -1.0, ">= 0"),
        ("ttft_median_s", 0.0, "> 0"),
        ("tokens_per_s_sigma", -0.1, ">= 0"),
        ("usd_per_mtok_input", -1.0, ">= 0"),
        ("usd_per_mtok_cached_input", math.nan, "or null"),
    ],
)
def test_validation_names_argument_value_and_allowed(arg: str, value: Any, allowed: str) -> None:
    ctx = SimContext(seed=0, horizon_s=10.0)
    with pytest.raises(ValueError) as exc:
        make(ctx, **{arg: value})
    msg = str(exc.value)
    assert arg in msg and repr(value) in msg and allowed in msg


# --- cost -------------------------------------------------------------------------------
def test_cost_matches_price_formula() -> None:
    ctx = SimContext(seed=0, horizon_s=100.0)
    p = make(ctx)
    reqs = requests(3, prompt=12_000, output=800)
    run(ctx, p, reqs)
    expected = (12_000 * 2.5 + 800 * 10.0) / 1e6
    assert ctx.ledger.n_entries == 3
    assert ctx.ledger.entries_usd == pytest.approx(3 * expected, rel=1e-12)
    assert ctx.ledger.by_component()["api"]["inference"] == pytest.approx(3 * expected)
    assert all(r.status == Status.IN_FLIGHT and r.reason is None for r in reqs)


def test_cached_input_priced_at_cached_rate() -> None:
    ctx = SimContext(seed=0, horizon_s=100.0)
    p = make(ctx)
    req = Request(0, 0.0, 10_000, 100)
    req.cached_prompt_tokens = 6_000
    run(ctx, p, [req])
    expected = (4_000 * 2.5 + 6_000 * 1.25 + 100 * 10.0) / 1e6
    assert ctx.ledger.entries_usd == pytest.approx(expected, rel=1e-12)


def test_no_cached_price_means_input_price() -> None:
    ctx = SimContext(seed=0, horizon_s=100.0)
    p = make(ctx, usd_per_mtok_cached_input=None)
    req = Request(0, 0.0, 10_000, 100)
    req.cached_prompt_tokens = 6_000
    run(ctx, p, [req])
    assert ctx.ledger.entries_usd == pytest.approx((10_000 * 2.5 + 100 * 10.0) / 1e6)


# --- latency ----------------------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_mean_latency_matches_lognormal_means(seed: int) -> None:
    ctx = SimContext(seed=seed, horizon_s=1e6)
    p = make(ctx)
    n, out = 5000, 200  # > one block of draws, so refills are exercised
    reqs = requests(n, output=out)
    ended = run(ctx, p, reqs)
    lat = np.array([ended[r.id] - r.arrived_at for r in reqs])
    ttft = np.array([r.first_token_at - r.arrived_at for r in reqs])
    # E[LogNormal(median m, sigma s)] = m exp(s^2/2); 1/tps is lognormal with the same sigma
    e_ttft = 0.4 * math.exp(0.5**2 / 2)
    e_gen = out / 80.0 * math.exp(0.3**2 / 2)
    assert ttft.mean() == pytest.approx(e_ttft, rel=0.05)
    assert lat.mean() == pytest.approx(e_ttft + e_gen, rel=0.03)
    assert np.all(ttft > 0) and np.all(lat > ttft)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"error_prob": 0.1},  # successes and errors alike: exactly one timeout each
        {"rpm_limit": 60.0, "max_queue_s": 1e9},  # wait and service folded into one timeout
    ],
)
def test_one_timeout_per_request(kwargs: dict) -> None:
    ctx = SimContext(seed=0, horizon_s=1e6)
    made = {"n": 0}
    real_timeout = ctx.env.timeout

    def counting_timeout(delay: float, value: Any = None):
        made["n"] += 1
        return real_timeout(delay, value)

    ctx.env.timeout = counting_timeout  # type: ignore[method-assign]
    p = make(ctx, **kwargs)
    n = 200
    run(ctx, p, requests(n))
    assert made["n"] == n


def test_same_seed_same_results() -> None:
    def once() -> list[float]:
        ctx = SimContext(seed=7, horizon_s=1e6)
        p = make(ctx, error_prob=0.2)
        reqs = requests(500)
        ended = run(ctx, p, reqs)
        return [ended[r.id] for r in reqs]

    assert once() == once()


# --- errors -----------------------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_error_share_and_no_charge_for_errors(seed: int) -> None:
    ctx = SimContext(seed=seed, horizon_s=1e6)
    p = make(ctx, error_prob=0.2)
    n = 4000
    reqs = requests(n)
    ended = run(ctx, p, reqs)
    failed = [r for r in reqs if r.status == Status.FAILED]
    assert len(failed) / n == pytest.approx(0.2, abs=0.025)
    assert p.errors == len(failed) and p.calls == n
    assert all(r.reason == "api:error" for r in failed)
    assert all(math.isnan(r.first_token_at) for r in failed)
    assert all(ended[r.id] > 0.0 for r in failed)  # failed after a time to first token
    ok = n - len(failed)
    assert ctx.ledger.n_entries == ok
    assert ctx.ledger.entries_usd == pytest.approx(ok * (1000 * 2.5 + 200 * 10.0) / 1e6)


# --- rate limits ------------------------------------------------------------------------
def _deterministic(ctx: SimContext, **kw: Any) -> ApiProvider:
    # zero spread: every call takes exactly ttft + output / tps = 0.5 + 100/100 = 1.5 s
    return make(
        ctx,
        ttft_median_s=0.5,
        ttft_sigma=0.0,
        tokens_per_s_median=100.0,
        tokens_per_s_sigma=0.0,
        **kw,
    )


def test_queue_spaces_admissions_and_drops_beyond_max_queue() -> None:
    ctx = SimContext(seed=0, horizon_s=1e6)
    p = _deterministic(ctx, rpm_limit=60.0, on_limit="queue", max_queue_s=20.0)
    reqs = requests(100, output=100)
    ended = run(ctx, p, reqs)  # a burst: all arrive at t = 0
    served = [r for r in reqs if r.status == Status.IN_FLIGHT]
    dropped = [r for r in reqs if r.status == Status.DROPPED]
    # bucket holds 60: 60 at once, then one per second; waits <= 20 s: 20 more, 20 dropped
    assert len(served) == 80 and len(dropped) == 20
    assert all(r.reason == "api:queue_timeout" for r in dropped)
    assert all(ended[r.id] == 0.0 for r in dropped)  # dropped at once
    admitted = sorted(ended[r.id] - 1.5 for r in served)
    assert admitted[:60] == pytest.approx([0.0] * 60, abs=1e-9)
    assert admitted[60:] == pytest.approx([float(k) for k in range(1, 21)], abs=1e-9)
    assert all(
        r.first_token_at == pytest.approx(ended[r.id] - 1.0, abs=1e-9) for r in served
    )  # first token after the wait plus the ttft
    assert p.queue_timeouts == 20 and p.rejected_429 == 0
    assert p.mean_wait_s == pytest.approx(sum(range(1, 21)) / 80)
    assert ctx.ledger.n_entries == 80  # drops cost nothing


def test_dropped_requests_consume_no_capacity() -> None:
    ctx = SimContext(seed=0, horizon_s=1e6)
    p = _deterministic(ctx, rpm_limit=60.0, on_limit="queue", max_queue_s=0.5)
    burst = requests(70, output=100)
    run(ctx, p, burst)
    assert sum(r.status == Status.DROPPED for r in burst) == 10
    # had the 10 drops taken tokens, a request at t = 1 would wait ~10 s and be dropped
    late = Request(999, 1.0, 1000, 100)

    def later():
        yield ctx.env.timeout(1.0)
        yield from p.handle(late)

    ctx.env.process(later())
    ctx.env.run()
    assert late.status == Status.IN_FLIGHT


def test_reject_mode_fails_with_429_at_once_without_charge() -> None:
    ctx = SimContext(seed=0, horizon_s=1e6)
    p = _deterministic(ctx, rpm_limit=60.0, on_limit="reject")
    reqs = requests(100, output=100)
    ended = run(ctx, p, reqs)
    rejected = [r for r in reqs if r.status == Status.FAILED]
    assert len(rejected) == 40 and p.rejected_429 == 40
    assert all(r.reason == "api:429" for r in rejected)
    assert all(ended[r.id] == 0.0 for r in rejected)
    assert ctx.ledger.n_entries == 60
    assert p.mean_wait_s == 0.0


def test_reject_mode_recovers_as_the_bucket_refills() -> None:
    ctx = SimContext(seed=0, horizon_s=1e6)
    p = _deterministic(ctx, rpm_limit=60.0, on_limit="reject")
    reqs = requests(300, output=100)
    run(ctx, p, reqs, gap_s=0.5)  # 2 rps offered against 1 rps: about half rejected
    ok = sum(r.status == Status.IN_FLIGHT for r in reqs)
    # 60 of burst credit + 1/s over the 150 s of arrivals
    assert ok == pytest.approx(60 + 150, abs=3)


def test_tpm_limit_and_both_limits_take_the_later_admission() -> None:
    ctx = SimContext(seed=0, horizon_s=1e6)
    # TPM 6000 -> 100 tokens/s, capacity 6000; each call 1000 + 100 = 1100 tokens
    p = _deterministic(ctx, rpm_limit=600.0, tpm_limit=6000.0, max_queue_s=1e9)
    reqs = requests(10, prompt=1000, output=100)
    ended = run(ctx, p, reqs)
    admitted = sorted(ended[r.id] - 1.5 for r in reqs)
    # 5 fit in the 6000-token bucket (5500), the 6th needs 600 more tokens: 6 s, then 11 s each
    assert admitted[:5] == pytest.approx([0.0] * 5, abs=1e-9)
    assert admitted[5:] == pytest.approx([6.0, 17.0, 28.0, 39.0, 50.0], abs=1e-9)


def test_call_larger_than_tpm_is_dropped_or_rejected() -> None:
    for mode, status, reason in [
        ("queue", Status.DROPPED, "api:queue_timeout"),
        ("reject", Status.FAILED, "api:429"),
    ]:
        ctx = SimContext(seed=0, horizon_s=1e6)
        p = make(ctx, tpm_limit=1000.0, on_limit=mode, max_queue_s=1e9)
        req = Request(0, 0.0, 5000, 100)
        run(ctx, p, [req])
        assert (req.status, req.reason) == (status, reason)
        assert ctx.ledger.n_entries == 0


# --- factory and catalog ----------------------------------------------------------------
def _catalog() -> dict[str, Any]:
    return OmegaConf.load(configs_dir() / "api_models" / "default.yaml")  # type: ignore[return-value]


def test_catalog_entries_merge_into_schema() -> None:
    cat = _catalog()
    names = list(cat.keys())
    for required in ["gpt_35_turbo_2023", "gpt_4_turbo_2023", "gpt_4o_mini", "gpt_4o",
                     "claude_3_5_haiku", "claude_3_5_sonnet"]:  # fmt: skip
        assert required in names
    for name in names:
        spec = OmegaConf.merge(OmegaConf.structured(ApiModelSpec), cat[name])
        assert not OmegaConf.missing_keys(spec), name
        obj = OmegaConf.to_object(spec)
        assert isinstance(obj, ApiModelSpec)
        assert 0 < obj.usd_per_mtok_input <= obj.usd_per_mtok_output
        if obj.usd_per_mtok_cached_input is not None:
            assert obj.usd_per_mtok_cached_input < obj.usd_per_mtok_input
        assert obj.ttft_median_s > 0 and obj.tokens_per_s_median > 0


def test_factory_builds_every_catalog_entry() -> None:
    cat = _catalog()
    ctx = SimContext(seed=0, horizon_s=100.0)
    api = OmegaConf.structured(ApiConfig(model="x", rpm_limit=500, on_limit="reject"))
    for name in cat:
        spec = OmegaConf.merge(OmegaConf.structured(ApiModelSpec), cat[name])
        p = api_provider_from_config(name, ctx, spec, api, ctx.rng.stream(f"api.{name}"))
        assert p.name == name and p.on_limit == "reject" and p.rpm_limit == 500
    mini = OmegaConf.merge(OmegaConf.structured(ApiModelSpec), cat["gpt_4o_mini"])
    p = api_provider_from_config("mini", ctx, mini, api, ctx.rng.stream("api.mini"))
    assert p.cost_usd(1_000_000, 1_000_000) == pytest.approx(0.15 + 0.60)


# --- outages ----------------------------------------------------------------------------
def _down(ctx: SimContext, behaviour: str, **kw: Any) -> ApiProvider:
    """Down from t=10 s to t=100 s (0.1 s to fail when it errors), 1.5 s per call when up."""
    sched = OutageSchedule([(10.0, 100.0)])
    return _deterministic(
        ctx, outages=sched, outage_behaviour=behaviour, outage_error_after_s=0.1, **kw
    )


@pytest.mark.parametrize(("behaviour", "fails_at"), [("error", 20.1), ("hang", 100.0)])
def test_a_call_in_an_outage_fails_unbilled(behaviour: str, fails_at: float) -> None:
    ctx = SimContext(seed=0, horizon_s=1e6)
    p = _down(ctx, behaviour)
    before, during = Request(0, 0.0, 1000, 100), Request(1, 20.0, 1000, 100)
    after = Request(2, 150.0, 1000, 100)
    ended: dict[int, float] = {}

    def at(req: Request):
        yield ctx.env.timeout(req.arrived_at)
        yield from p.handle(req)
        ended[req.id] = ctx.env.now

    for r in (before, during, after):
        ctx.env.process(at(r))
    ctx.env.run()
    assert (during.status, during.reason) == (Status.FAILED, "api:outage")
    assert ended[1] == pytest.approx(fails_at)  # error: after error_after_s; hang: at the end
    assert before.status == after.status == Status.IN_FLIGHT
    assert ended[0] == pytest.approx(1.5) and ended[2] == pytest.approx(151.5)
    assert ctx.ledger.n_entries == 2  # the outage call is not billed
    assert p.outage_failures == 1 and p.calls == 3
    rep = p.resilience()
    assert rep is not None
    assert rep["outage_failures"] == 1 and rep["calls"] == 3 and rep["downtime_s"] == 90.0


def test_an_outage_call_takes_no_rate_limit_capacity() -> None:
    ctx = SimContext(seed=0, horizon_s=1e6)
    p = _down(ctx, "error", rpm_limit=60.0, on_limit="reject")
    down = [Request(i, 20.0, 1000, 100) for i in range(100)]
    up = [Request(100 + i, 200.0, 1000, 100) for i in range(60)]

    def at(req: Request):
        yield ctx.env.timeout(req.arrived_at)
        yield from p.handle(req)

    for r in down + up:
        ctx.env.process(at(r))
    ctx.env.run()
    assert all(r.reason == "api:outage" for r in down)
    assert all(r.status == Status.IN_FLIGHT for r in up)  # the full bucket of 60 was left
    assert p.rejected_429 == 0


def test_resilience_report_only_when_something_can_fail() -> None:
    ctx = SimContext(seed=0, horizon_s=1e6)
    quiet = make(ctx)
    run(ctx, quiet, requests(20))
    assert quiet.resilience() is None  # the summary of a scenario without it is unchanged
    ctx = SimContext(seed=0, horizon_s=1e6)
    flaky = make(ctx, error_prob=0.5)
    reqs = requests(200)
    run(ctx, flaky, reqs)
    rep = flaky.resilience()
    assert rep is not None and rep["kind"] == "api" and "downtime_s" not in rep
    assert rep["calls"] == 200
    assert rep["errors"] == sum(r.reason == "api:error" for r in reqs) == flaky.errors


def test_counts_after_the_warmup_only() -> None:
    ctx = SimContext(seed=0, horizon_s=1e6, warmup_s=50.0)
    p = _down(ctx, "error")
    reqs = [Request(i, t, 1000, 100) for i, t in enumerate([20.0, 30.0, 60.0])]

    def at(req: Request):
        yield ctx.env.timeout(req.arrived_at)
        yield from p.handle(req)

    for r in reqs:
        ctx.env.process(at(r))
    ctx.env.run()
    rep = p.resilience()
    assert p.outage_failures == 3
    assert rep["outage_failures"] == 1 and rep["calls"] == 1
    assert rep["downtime_s"] == 50.0  # [50, 100) of the measured window


def test_outages_from_config_and_their_errors() -> None:
    ctx = SimContext(seed=0, horizon_s=1e6)
    cat = _catalog()
    spec = OmegaConf.merge(OmegaConf.structured(ApiModelSpec), cat["gpt_4o_mini"])
    api = OmegaConf.structured(ApiConfig(model="gpt_4o_mini"))
    api.outages.windows_h = [[0, 1]]
    api.outages.behaviour = "hang"
    sched = outage_schedule("apis.x.outages", api.outages, ctx)
    p = api_provider_from_config("x", ctx, spec, api, ctx.rng.stream("api.x"), outages=sched)
    assert p._gate is not None and p._gate.behaviour == "hang"
    assert p._gate.schedule.intervals() == [(0.0, 3600.0)]
