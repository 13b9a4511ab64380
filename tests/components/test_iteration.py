"""Retraining cycles: triggered by detected drift they restore quality; scheduled ones keep time."""

from __future__ import annotations

import copy
import functools

import pytest
import yaml
from omegaconf import OmegaConf, open_dict

from sim.build import build
from sim.checks import ConfigError
from sim.components.iteration import RetrainingConfig
from sim.components.monitoring import MonitorConfig
from sim.compose import compose
from sim.run import run

# a short cycle: 0.25 h preparation, 0.25 h training, 0.25 h evaluation, 0.25 h canary
SHORT = dict(prep_hours=0.25, train_hours=0.25, eval_hours=0.25, canary_hours=0.25)
ENGINEERING = 24 * 90.33  # engineer_hours x usd_per_engineer_hour (defaults)
TRAINING = 5000 * 1000 * 3 * 3.0 / 1e6  # examples x tokens x epochs at $3 per 1M
EVALUATION = 500 * (1500 * 0.15 + 100 * 0.60) / 1e6  # items x judge tokens at gpt_4o_mini


@functools.cache
def _demo() -> object:
    """demo on Poisson arrivals without provider errors, composed once per test file."""
    return compose(
        "demo",
        ["progress=false", "plots=false", "workload.arrival=poisson", "apis.llm.error_prob=0",
         "workload.rate_rps=2", "bucket_s=300"],
    )  # fmt: skip


def _cfg(overrides: list[str], watch: dict | None = None, **retrain) -> object:
    """demo's model and a monitor on the path, a retraining loop beside it."""
    cfg = copy.deepcopy(_demo())
    for override in overrides:  # Hydra's key=value, on the composed config
        key, value = override.split("=", 1)
        OmegaConf.update(cfg, key, yaml.safe_load(value))
    with open_dict(cfg):  # declared as a scenario file would
        cfg.monitors["mon"] = OmegaConf.structured(MonitorConfig(**(watch or {})))
        cfg.retraining["rt"] = OmegaConf.structured(RetrainingConfig(**{**SHORT, **retrain}))
    cfg.path = ["llm", "mon"]
    cfg.services = ["rt"]
    return cfg


STEP = dict(eval_share=0.5, judge_error=0.0, drift_step_days=[1 / 24], drift_step_drop=[0.3])


def test_a_detected_step_drift_triggers_a_cycle_that_restores_quality():
    over = ["horizon_s=14400"]
    r = run(_cfg(over, STEP, monitor="mon", interval_days=None))
    s = r.summary
    mon, rt = s["components"]["mon"], s["components"]["rt"]
    (episode,) = mon["episodes"]
    assert episode["start_s"] == pytest.approx(3600.0)
    detected = episode["detected_s"]
    assert 3600.0 < detected < 3600.0 + 120.0  # a 30-point drop, one verdict per second
    assert rt["cycles_started"] == rt["cycles_completed"] == {"scheduled": 0, "triggered": 1}
    (cycle,) = rt["cycles"]
    assert cycle["started_s"] == cycle["detected_s"] == detected
    assert cycle["canary_s"] == pytest.approx(detected + 0.75 * 3600)
    assert episode["restored_s"] == cycle["restored_s"] == pytest.approx(detected + 3600)
    assert rt["detection_to_restore_s"]["mean"] == pytest.approx(3600.0)
    assert mon["drift_loss_at_end"] == 0.0
    # a perfect judge sees all answers acceptable before the step and after the rollout,
    # about 70 % in between, and 70 % + 10 % canary x 30 % during the canary
    share = r.timeseries["mon.judged_acceptable_share"]
    starts = r.timeseries["bucket_start_s"]
    for t, v in zip(starts, share):
        if t + 300 <= 3600 or t >= episode["restored_s"]:
            assert v == 1.0, (t, v)
        elif detected <= t and t + 300 <= cycle["canary_s"]:
            assert v == pytest.approx(0.7, abs=0.1), (t, v)
    # the cycle's whole cost, charged to iteration
    total = TRAINING + EVALUATION + ENGINEERING
    assert rt["usd_per_cycle"]["total"] == pytest.approx(total)
    assert s["cost_usd"]["by_layer"]["iteration"] == pytest.approx(total, rel=1e-12)
    assert s["cost_usd"]["by_component"]["rt"]["iteration"] == pytest.approx(total, rel=1e-12)
    # without retraining the drift stays and quality is lower
    cfg = _cfg(over, STEP, monitor="mon", interval_days=None)
    cfg.services = []
    without = run(cfg).summary
    assert without["components"]["mon"]["drift_loss_at_end"] == pytest.approx(0.3)
    assert (
        without["quality"]["acceptable_share"] < s["quality"]["acceptable_share"] - 0.1
    )  # 0.3 lost for 3 of 4 hours vs for ~1 hour
    assert without["cost_usd"]["by_layer"]["iteration"] == 0.0


def test_scheduled_cycles_fire_on_schedule_without_drift():
    """Every 1.5 h over 4.9 h: cycles at 1.5, 3 and 4.5 h; the last is cut off by the horizon."""
    r = run(_cfg(["horizon_s=17640"], interval_days=1.5 / 24))
    s = r.summary
    rt = s["components"]["rt"]
    assert [c["started_s"] for c in rt["cycles"]] == pytest.approx([5400.0, 10800.0, 16200.0])
    assert rt["cycles_started"] == {"scheduled": 3, "triggered": 0}
    assert rt["cycles_completed"] == {"scheduled": 2, "triggered": 0}
    assert rt["monitor"] is None and s["components"]["mon"]["episodes"] == []
    # engineers are paid while they work (0.75 h a cycle), the job and the evaluation
    # when they end: the third cycle worked 0.4 h of its 0.75 h, its job never finished
    third = ENGINEERING * 0.4 / 0.75
    assert s["cost_usd"]["by_layer"]["iteration"] == pytest.approx(
        2 * (TRAINING + EVALUATION + ENGINEERING) + third, rel=1e-12
    )
    assert rt["usd_charged"] == pytest.approx(s["cost_usd"]["by_layer"]["iteration"])
    # charged when it happens: nothing before the first cycle
    early = [u for t, _, layer, _, u in r.ledger_rows if layer == "iteration" and t < 5400]
    assert sum(early) == 0


def test_gpu_training_bills_the_devices_for_the_hours_they_train():
    r = run(
        _cfg(
            ["horizon_s=7200"], interval_days=1 / 24, method="gpu", hardware="a100_80gb_sxm",
            train_gpus=8, engineer_hours=0.0, eval_items=0,
        )
    )  # fmt: skip
    cfg = r.summary["config"]
    price = cfg["hardware"]["a100_80gb_sxm"]["usd_per_hour"]
    assert r.summary["cost_usd"]["by_layer"]["iteration"] == pytest.approx(8 * 0.25 * price)
    # billed in the 5-minute buckets the job ran, [1.25 h, 1.5 h): a third in each
    rows = [(t0, usd) for t0, _, layer, _, usd in r.ledger_rows if layer == "iteration" and usd]
    third = pytest.approx(8 * 0.25 * price / 3)
    assert rows == [(4500.0, third), (4800.0, third), (5100.0, third)]


def test_drift_after_the_data_cut_off_needs_another_cycle_and_money_is_conserved():
    """A second step while the first cycle runs: its alarms are skipped, its drift remains
    after the rollout (the cycle's data ends at its start), is detected again, and a
    second cycle removes it."""
    watch = {**STEP, "drift_step_days": [1 / 24, 1.2 / 24], "drift_step_drop": [0.2, 0.5]}
    s = run(_cfg(["horizon_s=14400", "apis.llm.error_prob=0.01"], watch, monitor="mon")).summary
    rt, mon = s["components"]["rt"], s["components"]["mon"]
    assert rt["cycles_skipped_busy"]["triggered"] >= 1  # the chart re-alarms on the drift
    assert rt["cycles_started"] == rt["cycles_completed"] == {"scheduled": 0, "triggered": 2}
    first, second = mon["episodes"]
    assert first["start_s"] == pytest.approx(3600.0)
    assert second["start_s"] == first["restored_s"]  # the 0.5 drop is still there
    assert second["delay_s"] < 60  # seen at once: a 50-point drop
    assert mon["drift_loss_at_end"] == 0.0
    req = s["requests"]
    assert req["arrived"] == req["completed"] + req["failed"] + req["dropped"] + req["in_flight"]
    assert req["failed"] > 0
    by_layer = sum(s["cost_usd"]["by_layer"].values())
    by_comp = sum(sum(v.values()) for v in s["cost_usd"]["by_component"].values())
    assert s["cost_usd"]["total"] == pytest.approx(by_layer) == pytest.approx(by_comp)
    total = TRAINING + EVALUATION + ENGINEERING
    assert s["cost_usd"]["by_layer"]["iteration"] == pytest.approx(2 * total, rel=1e-12)
    assert s["cost_usd"]["by_layer"]["monitoring"] > 0


def test_the_same_seed_gives_the_same_cycles():
    a = run(_cfg(["horizon_s=7200"], STEP, monitor="mon", interval_days=None)).summary
    b = run(_cfg(["horizon_s=7200"], STEP, monitor="mon", interval_days=None)).summary
    assert a["components"] == b["components"] and a["cost_usd"] == b["cost_usd"]


@pytest.mark.parametrize(
    ("retrain", "message"),
    [
        (
            {"monitor": "mon2"},
            "retraining.rt.monitor='mon2' names no component; did you mean 'mon'",
        ),
        ({"monitor": "llm"}, "retraining.rt.monitor='llm' is not a monitor"),
        (
            {"monitor": None, "interval_days": None},
            "retraining.rt.interval_days=null and retraining.rt.monitor=null leave the loop",
        ),
        (
            {"monitor": "mon", "on_drift": False, "interval_days": None},
            "retraining.rt.interval_days=null and retraining.rt.on_drift=false leave the loop",
        ),
        ({"method": "gpu", "hardware": "a100"}, "retraining.rt.hardware='a100' is not in the"),
        ({"judge_model": "gpt5"}, "retraining.rt.judge_model='gpt5' is not in the api_models"),
        ({"canary_share": 0.0}, "retraining.rt.canary_share=0.0 must be a finite number in (0, 1]"),
        ({"method": "cpu"}, "retraining.rt.method='cpu' is not allowed"),
    ],
)
def test_bad_configs_name_their_key(retrain, message):
    cfg = _cfg([])
    for k, v in retrain.items():
        cfg.retraining["rt"][k] = v
    with pytest.raises(ConfigError) as err:
        build(cfg)
    assert str(err.value).startswith(message), str(err.value)


# -- notes ---------------------------------------------------------------------------------
def _loop_notes(summary: dict) -> list[str]:
    return [n for n in summary["notes"] if n.startswith("retraining.rt")]


def test_a_cycle_cut_off_by_the_horizon_is_a_note_with_what_the_run_holds_of_it():
    """Cycles every 1.5 h; at 4.9 h the third has worked 0.4 h of its 0.75 h (training)."""
    s = run(_cfg(["horizon_s=17640"], interval_days=1.5 / 24)).summary
    total = TRAINING + EVALUATION + ENGINEERING
    third = ENGINEERING * 0.4 / 0.75  # engineers so far; the job has not ended
    assert s["cost_usd"]["by_layer"]["iteration"] == pytest.approx(2 * total + third)
    (note,) = _loop_notes(s)
    assert note.startswith("retraining.rt: a scheduled cycle that started at day 0.19 was ")
    assert "still in training at the horizon (day 0.20)" in note
    assert f"the run holds ${third:,.2f} of its ${total:,.2f}" in note
    assert "(horizon_s)" in note


@pytest.mark.parametrize("horizon_s", [16000, 19000])
def test_no_cycle_under_way_or_one_in_its_canary_has_no_note(horizon_s):
    """At 16,000 s no cycle runs; at 19,000 s the third is in its canary, all of it paid."""
    s = run(_cfg([f"horizon_s={horizon_s}"], interval_days=1.5 / 24)).summary
    rt = s["components"]["rt"]
    total = TRAINING + EVALUATION + ENGINEERING
    assert s["cost_usd"]["by_layer"]["iteration"] == pytest.approx(
        sum(rt["cycles_started"].values()) * total
    )
    assert _loop_notes(s) == []


# -- what a month costs --------------------------------------------------------------------
MONTH_S = 30.4375 * 86400


def _run_keeping_loop(cfg, monkeypatch) -> tuple[dict, object]:
    """Run ``cfg`` and keep its retraining loop (run() returns only what it measured)."""
    import sim.run

    kept = {}

    def build_and_keep(c):
        kept["built"] = build(c)
        return kept["built"]

    monkeypatch.setattr(sim.run, "build", build_and_keep)
    return run(cfg).summary, kept["built"].components["rt"]


def test_a_day_of_a_monthly_schedule_costs_a_cycle_per_30_days_a_month(monkeypatch):
    """A 1-day run sees no cycle; the month still holds 30.4375 / 30 of them."""
    s, rt = _run_keeping_loop(
        _cfg(["horizon_s=86400", "bucket_s=3600"], interval_days=30), monkeypatch
    )
    total = TRAINING + EVALUATION + ENGINEERING
    assert s["cost_usd"]["by_layer"]["iteration"] == 0.0
    assert rt.expected_monthly_usd(s["measured_s"]) == {
        "iteration": pytest.approx(total * 30.4375 / 30, rel=1e-12)
    }


def test_triggered_cycles_are_extrapolated_at_the_rate_the_run_saw(monkeypatch):
    """One detected drift in 4 h: 182.6 triggered cycles a month; the monthly schedule
    loses the quarter of its ticks that fall while a triggered cycle runs (1 h in 4)."""
    cfg = _cfg(["horizon_s=14400"], STEP, monitor="mon", interval_days=30)
    s, rt = _run_keeping_loop(cfg, monkeypatch)
    assert rt.started == {"scheduled": 0, "triggered": 1}
    triggered = MONTH_S / 14400
    scheduled = 30.4375 / 30 * (1 - triggered * 3600 / MONTH_S)
    total = TRAINING + EVALUATION + ENGINEERING
    assert rt.expected_monthly_usd(14400) == {
        "iteration": pytest.approx((triggered + scheduled) * total, rel=1e-12)
    }
    assert rt.expected_monthly_usd(0.0)["iteration"] == pytest.approx(30.4375 / 30 * total)


def test_a_cycle_longer_than_the_interval_runs_every_other_tick(monkeypatch):
    """Ticks every 40 min, cycles of 60 min: the tick during a cycle is skipped, so the
    steady-state count (one cycle per 80 min) matches what the schedule did."""
    s, rt = _run_keeping_loop(_cfg(["horizon_s=43200"], interval_days=40 / 1440), monkeypatch)
    assert rt.started["scheduled"] == 9 and rt.skipped["scheduled"] == 8
    cycles = rt.expected_monthly_usd(43200)["iteration"] / rt.usd_per_cycle["total"]
    assert cycles == pytest.approx(MONTH_S / 4800) == pytest.approx(9 * MONTH_S / 43200)
