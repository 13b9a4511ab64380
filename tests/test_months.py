"""Runs over months: growth by month, dated price changes, figures per month."""

from __future__ import annotations

import inspect
from types import SimpleNamespace

import numpy as np
import pytest

import sim.build
import sim.run
from sim.checks import ConfigError
from sim.compose import compose
from sim.costs.layers import LAYERS
from sim.engine.context import SimContext
from sim.months import (
    MONTH_S,
    GrowingArrivals,
    VolumeSchedule,
    check_growth,
    monthly_figures,
    price_changes,
    with_growth,
)
from sim.run import run
from sim.workload import PoissonArrivals, SessionArrivals

THREE_MONTHS = f"horizon_s={3 * MONTH_S:.0f}"


@pytest.fixture
def growth_wired(monkeypatch):
    """Until sim/build.py and sim/run.py call the hooks of sim/months.py (``with_growth``
    around the arrivals, ``price_changes(...).start()`` before the run), call them here the
    same way; a no-op once they do."""
    if not hasattr(sim.build, "_calendar_arrivals"):
        plain = sim.build.build_arrivals

        def grown(cfg, ctx):
            return with_growth(cfg.workload, ctx, lambda w: plain(SimpleNamespace(workload=w), ctx))

        monkeypatch.setattr(sim.build, "build_arrivals", grown)
    if "price_changes" not in inspect.getsource(sim.run.run):
        build = sim.run.build

        def build_with_prices(cfg):
            built = build(cfg)
            price_changes(cfg, built.components, built.ctx.env).start()
            return built

        monkeypatch.setattr(sim.run, "build", build_with_prices)


def _poisson(overrides: list[str]) -> dict:
    cfg = compose(
        "demo",
        [
            "workload.arrival=poisson",
            "workload.tokens.kind=fixed",
            "workload.tokens.prompt_median=1000",
            "workload.tokens.output_median=100",
            "apis.llm.error_prob=0",
            "progress=false",
            "plots=false",
            *overrides,
        ],
    )
    return run(cfg).summary


# --- the schedule ------------------------------------------------------------------------
def test_volume_schedule():
    s = VolumeSchedule.compounding(0.2, 3)
    np.testing.assert_allclose(s.multipliers, [1.0, 1.2, 1.44])
    t = np.array([0.0, MONTH_S - 1, MONTH_S, 2.5 * MONTH_S, 10 * MONTH_S])
    np.testing.assert_allclose(s.at(t), [1.0, 1.0, 1.2, 1.44, 1.44])  # the last beyond
    assert s.peak(1.5 * MONTH_S) == pytest.approx(1.2)
    assert s.mean(2 * MONTH_S) == pytest.approx(1.1)
    assert s.mean(1.5 * MONTH_S) == pytest.approx((1.0 + 0.5 * 1.2) / 1.5)


def test_thinning_gives_the_rate_of_each_month():
    """Poisson at the peak rate, thinned by v(t) / peak: Poisson at v_k x the rate."""
    ctx = SimContext(seed=0, horizon_s=3 * MONTH_S)
    schedule = VolumeSchedule([0.5, 2.0, 1.0])
    proc = GrowingArrivals(
        PoissonArrivals(0.02 * 2.0, rng=np.random.default_rng(1), horizon_s=3 * MONTH_S),
        schedule,
        2.0,
        rng=ctx.rng.stream("workload.growth"),
        horizon_s=3 * MONTH_S,
    )
    t = np.concatenate([b.times_s for b in proc.blocks()])
    counts = np.bincount((t // MONTH_S).astype(int), minlength=3)
    expected = 0.02 * MONTH_S * np.array([0.5, 2.0, 1.0])
    # Poisson counts: within 4 standard deviations
    assert np.all(np.abs(counts - expected) < 4 * np.sqrt(expected)), (counts, expected)
    assert proc.mean_rate_rps == pytest.approx(0.02 * 3.5 / 3)


def test_sessions_grow_by_activity_and_keep_their_users():
    """Growth scales every user's activity: month over month, the requests grow by the
    rate beyond what the calendar does (weekdays per month, measured without growth),
    and the same users send (none appears or disappears)."""

    def months(rate: float) -> tuple[np.ndarray, list[float], list[set]]:
        ctx = SimContext(seed=0, horizon_s=2 * MONTH_S)
        cfg = compose("demo", ["workload.users=500", f"workload.growth.monthly_rate={rate}"])
        built_at: list[float] = []

        def build(w):
            built_at.append(w.sessions.requests_per_user_day)
            s = w.sessions
            return SessionArrivals(
                int(w.users), s.requests_per_user_day, s.workday_start_h, s.workday_hours,
                s.start_jitter_h, s.weekend_factor, s.active_period_s, s.idle_period_s,
                s.timezone_spread_h, rng=np.random.default_rng(2), horizon_s=ctx.horizon_s,
                activity_sigma=1.09,
            )  # fmt: skip

        blocks = list(with_growth(cfg.workload, ctx, build).blocks())
        month = (np.concatenate([b.times_s for b in blocks]) // MONTH_S).astype(int)
        users = np.concatenate([b.users for b in blocks])
        return np.bincount(month, minlength=2), built_at, [set(users[month == k]) for k in (0, 1)]

    grown, built_at, who = months(0.5)
    flat, built_flat, _ = months(0.0)
    assert built_at == [20.0 * 1.5] and built_flat == [20.0]  # built at the peak month's rate
    # ~220,000 requests a month; a month's count varies by ~0.7 % (the users' active time
    # varies day by day, weighted by their activity), the ratio of ratios by ~1.3 %
    assert (grown[1] / grown[0]) / (flat[1] / flat[0]) == pytest.approx(1.5, rel=0.05)
    assert grown[0] == pytest.approx(flat[0], rel=0.03)
    assert who[0] == who[1] == set(range(500))


def test_recorder_counts_arrivals_per_month():
    from sim.components.request import Request
    from sim.metrics.recorder import Recorder

    rec = Recorder(warmup_s=10.0, bucket_s=3600.0)
    times = [5.0, 20.0, MONTH_S - 1, MONTH_S, 2.5 * MONTH_S, 2.5 * MONTH_S + 1, 4 * MONTH_S]
    for i, t in enumerate(times):
        rec.on_arrival(Request(i, t, 10, 10))
    assert rec.arrivals_by_month == {0: 2, 1: 1, 2: 2, 4: 1}  # the warm-up's left out
    assert sum(rec.arrivals_by_month.values()) == rec.arrived


# --- end to end ---------------------------------------------------------------------------
def test_growth_20_percent_a_month(growth_wired):
    s = _poisson(["workload.rate_rps=0.01", THREE_MONTHS, "workload.growth.monthly_rate=0.2"])
    months = s["monthly"]
    assert [m["month"] for m in months] == [1, 2, 3]
    n = [m["requests"] for m in months]
    # about 26,300 requests in month 1: a ratio's sd is ~0.009
    assert n[1] / n[0] == pytest.approx(1.2, rel=0.04)
    assert n[2] / n[1] == pytest.approx(1.2, rel=0.04)
    assert sum(n) == s["requests"]["arrived"]
    # the monthly cost by layer adds up to the total, layer by layer
    assert sum(m["cost_usd"] for m in months) == pytest.approx(s["cost_usd"]["total"], rel=1e-9)
    for layer in LAYERS:
        assert sum(m["by_layer"][layer] for m in months) == pytest.approx(
            s["cost_usd"]["by_layer"][layer], rel=1e-9, abs=1e-12
        )
    # conservation
    r = s["requests"]
    assert r["arrived"] == r["completed"] + r["failed"] + r["dropped"] + r["in_flight"]


def test_a_price_cut_lowers_the_cost_per_request_from_its_day(growth_wired):
    """gpt_4o_mini at $0.15 / $0.60 per 1M input / output tokens, then $0.05 / $0.20 from
    day 2: 1,000 + 100 tokens cost exactly $0.00021, then $0.00007 per request."""
    cut = "{at_day:2,model:gpt_4o_mini,usd_per_mtok_input:0.05,usd_per_mtok_output:0.2}"
    result = run(
        compose(
            "demo",
            [
                "workload.arrival=poisson",
                "workload.rate_rps=0.05",
                "horizon_s=345600",
                "bucket_s=3600",
                "workload.tokens.kind=fixed",
                "workload.tokens.prompt_median=1000",
                "workload.tokens.output_median=100",
                "apis.llm.error_prob=0",
                f"workload.growth.price_changes=[{cut}]",
                "progress=false",
                "plots=false",
            ],
        )
    )
    ts = result.timeseries
    cost = {}
    for start, *_, usd in result.ledger_rows:
        cost[start] = cost.get(start, 0.0) + usd
    for start, done in zip(ts["bucket_start_s"], ts["completions"], strict=True):
        if done:  # an API charges when a call completes, at the price of that moment
            price = 210e-6 if start < 2 * 86400 else 70e-6
            assert cost[start] / done == pytest.approx(price, rel=1e-9), start
    s = result.summary
    assert s["monthly"] is None  # four days: no monthly breakdown
    assert s["cost_usd"]["total"] == pytest.approx(sum(cost.values()), rel=1e-12)


def test_a_price_change_for_an_unused_model_changes_nothing(growth_wired):
    base = ["workload.arrival=poisson", "workload.rate_rps=0.05", "horizon_s=7200"]
    a = _poisson(base)
    b = _poisson(
        [*base, "workload.growth.price_changes=[{at_day:0,model:gpt_4o,usd_per_mtok_input:0}]"]
    )
    assert a["cost_usd"]["total"] == b["cost_usd"]["total"] > 0


def test_monthly_figures_split_a_straddling_bucket():
    b = 86400.0
    k = int(MONTH_S // b)  # the bucket of day k straddles the first month's end
    rows = [
        (0.0, 100.0, "inference", "x", 999.0),  # the warm-up's: left out
        (100.0, 100.0 + b, "inference", "x", 2.0),
        (k * b, (k + 1) * b, "infrastructure", "y", 10.0),
        ((k + 2) * b, (k + 3) * b, "inference", "x", 4.0),
    ]
    out = monthly_figures(rows, {0: 7, 1: 3}, warmup_s=100.0, horizon_s=MONTH_S + 20 * b)
    assert [m["month"] for m in out] == [1, 2]
    share = (MONTH_S - k * b) / b  # the part of that day in month 1
    assert out[0]["by_layer"]["infrastructure"] == pytest.approx(10.0 * share)
    assert out[1]["by_layer"]["infrastructure"] == pytest.approx(10.0 * (1 - share))
    assert out[0]["cost_usd"] + out[1]["cost_usd"] == pytest.approx(16.0)
    assert (out[0]["requests"], out[1]["requests"]) == (7, 3)
    assert out[0]["days"] == pytest.approx(30.4375 - 100 / b)
    assert out[1]["days"] == pytest.approx(20.0)
    assert monthly_figures(rows, {}, 0.0, MONTH_S) is None


def test_monthly_figures_are_totals_over_cells(growth_wired):
    s = _poisson(["workload.rate_rps=0.004", f"horizon_s={1.5 * MONTH_S:.0f}", "usage.cells=2"])
    months = s["monthly"]
    assert sum(m["requests"] for m in months) == s["requests"]["arrived"]
    assert sum(m["cost_usd"] for m in months) == pytest.approx(s["cost_usd"]["total"], rel=1e-9)
    assert months[1]["days"] == pytest.approx(0.5 * 30.4375)


# --- bad input ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        (
            ["workload.growth.monthly_rate=0.2", "workload.growth.monthly_volumes=[1,2]"],
            "workload.growth.monthly_rate",
        ),
        (
            [THREE_MONTHS, "workload.growth.monthly_volumes=[1,2]"],
            "workload.growth.monthly_volumes",
        ),
        (["workload.growth.monthly_volumes=[0,1]"], "workload.growth.monthly_volumes"),
        (
            ["workload.growth.price_changes=[{at_day:1,model:gpt_4o_minii,usd_per_mtok_input:1}]"],
            "workload.growth.price_changes[0].model",
        ),
        (
            ["workload.growth.price_changes=[{at_day:-1,model:gpt_4o,usd_per_mtok_input:1}]"],
            "workload.growth.price_changes[0].at_day",
        ),
        (
            ["workload.growth.price_changes=[{model:gpt_4o,usd_per_mtok_input:1}]"],
            "workload.growth.price_changes[0].at_day",
        ),
        (
            ["workload.growth.price_changes=[{at_day:1,model:gpt_4o,usd_per_mtok_output:nan}]"],
            "workload.growth.price_changes[0].usd_per_mtok_output",
        ),
        (
            ["workload.growth.price_changes=[{at_day:1,model:gpt_4o}]"],
            "workload.growth.price_changes[0]",
        ),
    ],
)
def test_bad_growth_names_its_key(overrides, key):
    cfg = compose("demo", ["horizon_s=86400", *overrides])
    with pytest.raises(ConfigError) as err:
        check_growth(cfg)
    assert err.value.key == key and str(err.value).startswith(key)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("workload.growth.monthly_rate=-1", "workload.growth.monthly_rate=-1.0 must be"),
        ("workload.growth.monthly_volumes=[1,nan]", "workload.growth.monthly_volumes=[1.0, nan]"),
        ("workload.sessions.activity_sigma=-0.5", "workload.sessions.activity_sigma=-0.5 must"),
    ],
)
def test_bad_knobs_are_refused_by_the_schema(override, message):
    cfg = compose("demo", ["horizon_s=86400", override])
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace(".", r"\.")):
        sim.build.check(cfg)
