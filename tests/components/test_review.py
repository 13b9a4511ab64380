"""Human oversight: shifts, pay by the shift-hour, review policies, inline waits, Erlang C."""

from __future__ import annotations

import copy
import functools
import math

import numpy as np
import pytest
import simpy
import yaml
from omegaconf import OmegaConf, open_dict

from sim.build import build
from sim.checks import ConfigError
from sim.components.request import Request
from sim.components.review import ReviewConfig, ShiftCalendar, ShiftConfig
from sim.compose import compose
from sim.metrics.queueing import mmc_mean_wait_s
from sim.run import run

H = 3600.0
WEEK = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
ALWAYS = {"start_h": 0.0, "hours": 24.0, "days": WEEK}  # one always-on shift
HARD = ["apis.llm.skill=0.5"]  # Beta(2, 5) difficulty: P(d > 0.5) = 0.109 bad answers


@functools.cache
def _demo() -> object:
    return compose(
        "demo",
        ["progress=false", "plots=false", "workload.arrival=poisson", "workload.rate_rps=2",
         "horizon_s=7200"],
    )  # fmt: skip


def _with_reviewers(overrides=(), path=("llm", "r"), **review) -> object:
    """demo's model behind Poisson arrivals, then the reviewers ``r``, as a scenario declares.

    ``overrides`` are ``key=value`` strings as on the command line (composed once, then
    copied: composing costs half a second).
    """
    cfg = copy.deepcopy(_demo())
    for item in overrides:
        key, value = item.split("=", 1)
        OmegaConf.update(cfg, key, yaml.safe_load(value), merge=False)
    with open_dict(cfg):
        cfg.reviewers["r"] = OmegaConf.structured(ReviewConfig(**review))
    cfg.path = list(path)
    return cfg


def _accounts_balance(s: dict) -> None:
    req = s["requests"]
    assert req["arrived"] == req["completed"] + req["failed"] + req["dropped"] + req["in_flight"]
    assert sum(s["cost_usd"]["by_layer"].values()) == pytest.approx(s["cost_usd"]["total"])
    by_comp = sum(v for c in s["cost_usd"]["by_component"].values() for v in c.values())
    assert by_comp == pytest.approx(s["cost_usd"]["total"])


def _drive(cfg, items: list[tuple[float, bool]]):
    """Build ``cfg``'s reviewers and hand them answers at chosen times (ok or not)."""
    built = build(cfg)
    r = built.components["r"]
    env: simpy.Environment = built.ctx.env

    def feed():
        for i, (t, ok) in enumerate(items):
            yield env.timeout(t - env.now)
            req = Request(i, env.now, 100, 100)
            req.ok = ok
            env.process(r.handle(req))

    r.start()
    env.process(feed())
    return r, env


# -- shifts and pay ----------------------------------------------------------------------
def test_items_queued_at_night_wait_for_the_shift_and_priorities_hold():
    """Mon 09:00-17:00, one reviewer, fixed review times (sigma 0)."""
    cfg = _with_reviewers(
        ["horizon_s=86400"],
        policy="all",
        escalate_unacceptable=True,
        review_median_s=300.0,
        escalation_median_s=600.0,
        time_sigma=0.0,
        sla_s=2 * H,
        shifts=[ShiftConfig(headcount=1, days=["mon"])],
    )
    items = [(1 * H, True), (3 * H, True), (8.5 * H, False), (17 * H - 10, True)]
    r, env = _drive(cfg, items)
    env.run(until=9 * H - 1)
    assert r.report()["reviewed"] == 0 and r.backlog == 3  # off shift: nobody served
    env.run(until=86400)
    r.bill(0.0, 86400)
    rep = r.report()
    # the escalation (bad answer at 08:30) goes first at 09:00; then the reviews, FIFO
    assert rep["escalation_wait_s"]["max"] == pytest.approx(0.5 * H)
    waits = [9 * H + 600 - 1 * H, 9 * H + 900 - 3 * H, 0.5 * H, 0.0]
    assert rep["wait_s"]["max"] == pytest.approx(max(waits))
    assert rep["wait_s"]["mean"] == pytest.approx(np.mean(waits))
    assert rep["wait_s"]["max"] >= 9 * H - 1 * H  # at least the time to the shift start
    assert rep["sla_misses"] == 2 and rep["sla_miss_share"] == 0.5
    # the 16:59:50 review ends at 17:04:50: finished in unpaid overtime
    assert rep["reviewed"] == 4 and rep["overtime_hours"] == pytest.approx(290 / H)
    assert rep["paid_reviewer_hours"] == pytest.approx(8.0)
    assert rep["busy_reviewer_hours"] == pytest.approx((300 * 3 + 600 - 290) / H)


def test_reviewers_are_paid_every_shift_hour_and_nothing_outside_shifts():
    """3 people, 09:00-17:00 in a zone 2 h behind the clock (11:00-19:00), $20/h."""
    shift = ShiftConfig(headcount=3, start_h=9.0, hours=8.0, tz_offset_h=-2.0)
    over = ["horizon_s=172800", "bucket_s=3600", "workload.rate_rps=0.01"]
    res = run(_with_reviewers(over, usd_per_hour=20.0, shifts=[shift]))
    s = res.summary
    assert s["cost_usd"]["by_layer"]["human_oversight"] == pytest.approx(3 * 16 * 20.0)
    assert s["components"]["r"]["paid_reviewer_hours"] == pytest.approx(48.0)
    paid = [
        (start, usd) for start, _, layer, _, usd in res.ledger_rows if layer == "human_oversight"
    ]
    paid_hours = sorted(round(start / H) for start, usd in paid if usd > 0)
    assert paid_hours == [h + day for day in (0, 24) for h in range(11, 19)]
    assert all(usd == pytest.approx(60.0) for _, usd in paid if usd > 0)  # 3 people x $20
    assert max(res.timeseries["r.on_shift"]) == 3 and min(res.timeseries["r.on_shift"]) == 0
    _accounts_balance(s)
    weekend = run(_with_reviewers([*over, "workload.clock_start_h=120"], shifts=[shift])).summary
    assert weekend["cost_usd"]["by_layer"]["human_oversight"] == 0.0
    assert weekend["layers"]["human_oversight"]["active"]
    assert weekend["components"]["r"]["reviewed"] == 0  # Saturday and Sunday: all wait


def test_a_shift_calendar_merges_days_and_follows_the_clock():
    always = ShiftCalendar(1, 0.0, 24.0, list(range(7)), clock_start_h=37.5)
    assert list(always.windows(0.0, 30 * 86400.0))[0][0] < 0  # one period, always on
    assert always.on_s(12.3, 98765.4) == pytest.approx(98765.4 - 12.3)
    # Friday 22:00 for 8 h, clock starting Friday 20:00: on from t = 2 h to t = 10 h
    night = ShiftCalendar(4, 22.0, 8.0, [4], clock_start_h=4 * 24 + 20)
    assert list(night.windows(0.0, 86400.0)) == [(2 * H, 10 * H)]
    assert night.on_s(0.0, 14 * 86400.0) == pytest.approx(2 * 8 * H)


# -- policies ------------------------------------------------------------------------------
def test_all_reviews_every_completed_request():
    s = run(_with_reviewers(policy="all", shifts=[ShiftConfig(headcount=400, **ALWAYS)])).summary
    rep = s["components"]["r"]
    assert rep["answers"] == s["requests"]["completed"] > 10_000
    assert rep["queued"]["reviews"] == rep["answers"]
    assert rep["reviewed"] + rep["backlog"] + rep["in_review"] == rep["answers"]
    assert rep["backlog"] == 0 and rep["sla_misses"] == 0
    # 2 answers/s x mean 2 min x e^(0.7^2/2) over 400 people
    assert rep["utilization"] == pytest.approx(2 * 120 * math.exp(0.245) / 400, rel=0.05)
    assert s["quality"] is None  # async review changes no answer
    _accounts_balance(s)


def test_sample_reviews_its_share_of_answers():
    share = 0.1
    roster = [ShiftConfig(headcount=50, **ALWAYS)]
    rep = run(_with_reviewers(policy="sample", sample_share=share, shifts=roster)).summary
    rep = rep["components"]["r"]
    n, k = rep["answers"], rep["queued"]["reviews"]
    assert abs(k - n * share) < 4 * math.sqrt(n * share * (1 - share)), (k, n)


def test_selective_review_catches_more_bad_answers_than_a_sample_of_the_same_size():
    roster = [ShiftConfig(headcount=100, **ALWAYS)]
    sel = run(_with_reviewers(HARD, policy="selective", threshold=0.45, shifts=roster)).summary
    rep = sel["components"]["r"]
    share = rep["queued"]["reviews"] / rep["answers"]
    assert 0.05 < share < 0.5  # reviews fewer than all
    samp = run(_with_reviewers(HARD, policy="sample", sample_share=share, shifts=roster)).summary
    rs = samp["components"]["r"]
    assert rs["queued"]["reviews"] == pytest.approx(rep["queued"]["reviews"], rel=0.1)
    assert rs["caught_share"] == pytest.approx(share, abs=0.05)  # a sample is blind
    assert rep["caught_share"] > 2 * rs["caught_share"], (rep["caught_share"], rs["caught_share"])
    assert rep["unacceptable_answers"] / rep["answers"] == pytest.approx(0.109, abs=0.01)


def test_levers_review_switches_the_policy():
    cfg = _with_reviewers(["horizon_s=600"], shifts=[ShiftConfig(headcount=5, **ALWAYS)])
    with open_dict(cfg):
        cfg.lever_options["review"] = {
            "none": {"reviewers.r.policy": "none"},
            "all": {"reviewers.r.policy": "all"},
        }
    cfg.levers.review = "all"
    rep = run(cfg).summary["components"]["r"]
    assert rep["policy"] == "all" and rep["queued"]["reviews"] == rep["answers"] > 0


# -- queueing theory -------------------------------------------------------------------------
@pytest.mark.slow
def test_mean_wait_matches_erlang_c():
    """One always-on shift of c reviewers, exponential review times, Poisson answers: M/M/3."""
    lam, c = 2.1, 3  # mean review 1 s: rho = 0.7
    waits, utils = [], []
    for seed in range(4):
        cfg = _with_reviewers(
            ["apis.llm.error_prob=0", f"seed={seed}", f"workload.rate_rps={lam}",
             "horizon_s=10000", "warmup_s=200"],
            policy="all",
            time_dist="exponential",
            review_median_s=math.log(2.0),  # exponential with median ln 2: mean 1 s
            shifts=[ShiftConfig(headcount=c, **ALWAYS)],
        )  # fmt: skip
        rep = run(cfg).summary["components"]["r"]
        waits.append(rep["wait_s"]["mean"])
        utils.append(rep["utilization"])
    expected = mmc_mean_wait_s(lam, 1.0, c)
    assert np.mean(waits) == pytest.approx(expected, rel=0.08), (waits, expected)
    assert np.mean(utils) == pytest.approx(lam / c, rel=0.02)


# -- inline mode ---------------------------------------------------------------------------
def test_inline_review_adds_the_wait_to_latency():
    roster = [ShiftConfig(headcount=5, **ALWAYS)]  # busy enough that answers queue
    common = {"policy": "all", "review_median_s": 2.0, "time_sigma": 0.5, "shifts": roster}
    over = ["workload.rate_rps=2", "horizon_s=3600", "apis.llm.error_prob=0"]
    a = run(_with_reviewers(over, mode="async", **common)).summary
    i = run(_with_reviewers(over, mode="inline", **common)).summary
    rep = i["components"]["r"]
    assert rep["wait_s"]["mean"] > 0.1
    added = i["latency_s"]["mean"] - a["latency_s"]["mean"]
    assert added == pytest.approx(rep["wait_s"]["mean"] + rep["mean_review_s"], rel=0.02)
    assert i["ttft_s"]["mean"] > a["ttft_s"]["mean"] + rep["wait_s"]["mean"]
    _accounts_balance(i)


def test_inline_escalation_makes_unacceptable_answers_acceptable():
    roster = [ShiftConfig(headcount=20, **ALWAYS)]
    common = {"policy": "none", "escalate_unacceptable": True, "shifts": roster}
    common["escalation_median_s"] = 5.0  # quick, so that few are left in flight
    a = run(_with_reviewers(HARD, mode="async", **common)).summary
    i = run(_with_reviewers(HARD, mode="inline", **common)).summary
    assert a["quality"]["acceptable_share"] == pytest.approx(0.891, abs=0.01)
    assert a["components"]["r"]["escalated"] == a["components"]["r"]["unacceptable_answers"]
    assert i["quality"]["acceptable_share"] == 1.0
    rep = i["components"]["r"]
    assert rep["fixed"] == rep["escalations_done"] > 1000
    assert rep["queued"]["reviews"] == 0  # policy none: only escalations
    _accounts_balance(i)


def test_inline_escalated_failures_become_answered_requests():
    over = ["apis.llm.error_prob=0.2", "horizon_s=3600"]
    roster = [ShiftConfig(headcount=20, **ALWAYS)]
    common = {"policy": "none", "escalate_failures": True, "upstream": ["llm"], "shifts": roster}
    common["escalation_median_s"] = 5.0
    a = run(_with_reviewers(over, path=["r"], mode="async", **common)).summary
    i = run(_with_reviewers(over, path=["r"], mode="inline", **common)).summary
    assert a["requests"]["failed"] == pytest.approx(0.2 * a["requests"]["arrived"], rel=0.05)
    assert a["components"]["r"]["escalated"] == a["requests"]["failed"]  # followed up later
    assert i["requests"]["failed"] == 0 and i["outcomes"] == {}
    rep = i["components"]["r"]
    waiting = rep["backlog"] + rep["in_review"]
    assert rep["failures"] == rep["escalated"] == rep["escalations_done"] + waiting
    assert rep["fixed"] == rep["escalations_done"] > 0.15 * i["requests"]["arrived"]
    assert i["requests"]["completed"] + i["requests"]["in_flight"] == i["requests"]["arrived"]
    assert i["quality"]["acceptable_share"] == 1.0
    _accounts_balance(i)


# -- cost of doing nothing, bad configs ----------------------------------------------------------
def test_policy_none_adds_no_event_and_no_draw():
    over = ["horizon_s=1800"]
    plain = run(_with_reviewers(over, path=["llm"]))
    idle = run(_with_reviewers(over, policy="none", shifts=[]))
    assert idle.run_info["simpy_events"] == plain.run_info["simpy_events"]
    assert idle.summary["latency_s"] == plain.summary["latency_s"]
    assert idle.summary["cost_usd"]["total"] == plain.summary["cost_usd"]["total"]


def test_the_same_seed_gives_the_same_report():
    cfg = _with_reviewers(["horizon_s=1800"], policy="sample", sample_share=0.3)
    assert run(cfg).summary["components"] == run(cfg).summary["components"]


@pytest.mark.parametrize(
    ("review", "needle"),
    [
        (
            {"shifts": [ShiftConfig(hours=30.0)]},
            r"^reviewers.r.shifts\[0\].hours=30.0 must be a finite number in \(0, 24\]",
        ),
        (
            {"shifts": [], "policy": "sample"},
            r"^reviewers.r.shifts=\[\] is empty but policy=sample",
        ),
        (
            {"shifts": [], "policy": "none", "escalate_unacceptable": True},
            r"^reviewers.r.shifts=\[\] is empty but escalation",
        ),
        (
            {"sample_share": 1.5},
            r"^reviewers.r.sample_share=1.5 must be a finite number in \[0, 1\]",
        ),
        (
            {"shifts": [ShiftConfig(days=["mon", "fry"])]},
            r"^reviewers.r.shifts\[0\].days\[1\]='fry' is not allowed; did you mean 'fri'",
        ),
        ({"shifts": [ShiftConfig(days=[])]}, r"^reviewers.r.shifts\[0\].days=\[\] is empty"),
        (
            {"escalate_failures": True},
            r"^reviewers.r.escalate_failures=true and reviewers.r.upstream=\[\] do not go together",
        ),
        ({"policy": "some"}, r"^reviewers.r.policy='some' is not allowed"),
        ({"upstream": ["lm"]}, r"^reviewers.r.upstream\[0\]='lm' names no component"),
    ],
)
def test_bad_reviewer_configs_name_their_key(review, needle):
    with pytest.raises(ConfigError, match=needle):
        build(_with_reviewers(**review))


def test_a_request_failed_before_the_stage_is_not_seen():
    """On the main path after the model, failures never reach the reviewers (documented)."""
    s = run(_with_reviewers(["apis.llm.error_prob=0.3", "horizon_s=600"], policy="all")).summary
    rep = s["components"]["r"]
    assert s["requests"]["failed"] > 100 and rep["failures"] == 0
    assert rep["answers"] == s["requests"]["completed"]


# -- notes ---------------------------------------------------------------------------------
NIGHT_SHIFT_CFG = dict(
    policy="all",
    escalate_unacceptable=True,
    review_median_s=300.0,
    escalation_median_s=600.0,
    time_sigma=0.0,  # fixed times: the work in the backlog is exact
    shifts=[ShiftConfig(headcount=1, days=["mon"])],  # Monday 09:00-17:00: 8 reviewer-hours
)


@pytest.mark.parametrize("reviews", [16, 17])
def test_a_backlog_of_more_than_one_shift_of_work_is_a_note_with_its_hours(reviews):
    """40 escalations (600 s) + 16 reviews (300 s) are 8.0 h of work: one shift does it.
    One more review and the backlog outgrows the shift."""
    cfg = _with_reviewers(["horizon_s=86400"], **NIGHT_SHIFT_CFG)
    items = [(1 * H + i, False) for i in range(40)] + [(2 * H + i, True) for i in range(reviews)]
    r, env = _drive(cfg, items)
    env.run(until=9 * H - 1)  # everything waits for the shift
    work_h = (40 * 600 + reviews * 300) / H
    if work_h <= 8.0:
        assert r.notes() == []
        return
    (note,) = r.notes()
    assert note.startswith(f"reviewers.r: {40 + reviews} items wait at the end")
    assert f"about {work_h:.1f} reviewer-hours" in note and "(the largest: 8.0 " in note
    assert "reviewers.r.shifts[i].headcount" in note and "(reviewers.r.shifts)" in note


def test_sla_misses_of_items_queued_off_shift_are_a_note_naming_the_hours():
    """Two of four items wait past the 2 h SLA because nobody works before 09:00."""
    cfg = _with_reviewers(["horizon_s=86400"], **{**NIGHT_SHIFT_CFG, "sla_s": 2 * H})
    r, env = _drive(cfg, [(1 * H, True), (3 * H, True), (8.5 * H, False), (10 * H, True)])
    env.run(until=86400)
    r.bill(0.0, 86400)
    rep = r.report()
    assert rep["sla_misses"] == 2 and rep["sla_miss_share"] == 0.5
    (note,) = r.notes()
    assert "50% of the items picked up (2 of 4) waited longer than the SLA" in note
    assert "(reviewers.r.sla_s=7200 s)" in note
    assert "2 of them were queued while nobody was on shift" in note
    assert "reviewers.r.shifts: hours, days" in note
    # a 3 h SLA: one late item of four is 25 %, still a note; a 9 h SLA: none late
    for sla_h, notes in ((3, 1), (9, 0)):
        cfg = _with_reviewers(["horizon_s=86400"], **{**NIGHT_SHIFT_CFG, "sla_s": sla_h * H})
        r, env = _drive(cfg, [(1 * H, True), (3 * H, True), (8.5 * H, False), (10 * H, True)])
        env.run(until=86400)
        assert len(r.notes()) == notes, r.notes()


def test_sla_misses_of_items_queued_on_shift_are_a_note_naming_the_headcount():
    """Always on, one reviewer, 20 reviews of 300 s at once: from the 3rd on they wait
    more than 600 s (a queue while on shift: too few people)."""
    cfg = _with_reviewers(
        ["horizon_s=86400"],
        **{**NIGHT_SHIFT_CFG, "sla_s": 600.0, "shifts": [ShiftConfig(headcount=1, **ALWAYS)]},
    )
    r, env = _drive(cfg, [(H + i, True) for i in range(20)])
    env.run(until=86400)
    r.bill(0.0, 86400)
    rep = r.report()
    late = sum(1 for k in range(20) if 300 * k - k > 600)  # item k waits 300 k - k s
    assert rep["sla_misses"] == late == 17
    (note,) = r.notes()
    assert f"{late / 20:.0%} of the items picked up ({late} of 20)" in note
    assert f"{late} of them were queued while reviewers were on shift" in note
    assert f"busy {rep['utilization']:.0%} of their paid time" in note
    assert "add people (reviewers.r.shifts[i].headcount)" in note


def test_reviewers_that_keep_up_have_no_note():
    """36 reviews an hour for 2 people who do 47 (mean 2.55 min): rho 0.77, and by Erlang C
    P(wait > 30 min) ~ 0.3 %."""
    s = run(
        _with_reviewers(
            ["horizon_s=7200"], policy="sample", sample_share=0.005, sla_s=1800.0,
            shifts=[ShiftConfig(headcount=2, **ALWAYS)],
        )
    ).summary  # fmt: skip
    rep = s["components"]["r"]
    assert rep["reviewed"] > 40 and rep["sla_miss_share"] < 0.1
    assert not [n for n in s["notes"] if n.startswith("reviewers.r")]
