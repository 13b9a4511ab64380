"""End to end: a run conserves requests and dollars, is a pure function of config and seed,
and writes complete outputs atomically."""

import csv
import json
import math

import pytest

from sim.compose import compose, run_scenario
from sim.costs.layers import LAYERS
from sim.outputs import format_summary, summary_json, write_run
from sim.run import run

SMALL_COPILOT = ["workload.users=40", "horizon_s=86400", "progress=false"]


@pytest.fixture(scope="module")
def copilot():
    return run_scenario("copilot_like", SMALL_COPILOT)


def _conserved(r):
    req = r["requests"]
    return req["arrived"] == req["completed"] + req["failed"] + req["dropped"] + req["in_flight"]


def test_request_conservation(copilot):
    s = copilot.summary
    assert s["requests"]["arrived"] > 1000
    assert _conserved(s)
    assert s["requests"]["completed"] > 0.99 * s["requests"]["arrived"]


def test_conservation_under_overload_and_failures():
    # One replica for many users: queues overflow and requests are dropped; still conserved.
    r = run_scenario(
        "copilot_like",
        [
            "workload.users=3000",
            "horizon_s=43200",
            "pools.gpu.replicas=1",
            "levers.autoscale=off",  # the one replica stays one
            "pools.gpu.max_queue=50",
            "progress=false",
            "plots=false",
        ],
    ).summary
    assert r["requests"]["dropped"] > 0
    assert _conserved(r)
    d = run_scenario("demo", ["apis.llm.error_prob=0.3", "progress=false"]).summary
    assert d["requests"]["failed"] > 0
    assert _conserved(d)


def test_cost_is_conserved_and_split_by_layer(copilot):
    s = copilot.summary
    by_layer = s["cost_usd"]["by_layer"]
    assert list(by_layer) == list(LAYERS)
    assert math.isclose(s["cost_usd"]["total"], sum(by_layer.values()), rel_tol=1e-12)
    comp_total = sum(v for c in s["cost_usd"]["by_component"].values() for v in c.values())
    assert math.isclose(s["cost_usd"]["total"], comp_total, rel_tol=1e-12)
    rows_total = sum(r[4] for r in copilot.ledger_rows)
    assert math.isclose(s["cost_usd"]["total"], rows_total, rel_tol=1e-12)
    # A self-hosted pool bills every provisioned second: busy -> inference, idle -> infrastructure.
    cfg = compose("copilot_like", SMALL_COPILOT)
    hw = cfg.hardware[cfg.pools.gpu.hardware]
    provisioned = cfg.pools.gpu.replicas * cfg.pools.gpu.devices_per_replica * hw.usd_per_hour * 24
    assert math.isclose(
        by_layer["inference"] + by_layer["infrastructure"], provisioned, rel_tol=1e-9
    )
    assert by_layer["infrastructure"] > 0  # idle headroom is visible
    active = [k for k, v in s["layers"].items() if v["active"]]
    assert active == ["inference", "infrastructure"]
    assert all(by_layer[k] == 0.0 for k in LAYERS if k not in active)


def test_per_request_and_monthly_figures(copilot):
    s = copilot.summary
    total, done = s["cost_usd"]["total"], s["requests"]["completed"]
    assert s["cost_per_request_usd"] == pytest.approx(total / done)
    assert s["cost_per_1k_requests_usd"] == pytest.approx(1000 * total / done)
    assert s["monthly_cost_usd"] == pytest.approx(total * 30.4375)
    assert s["cost_per_user_month_usd"] == pytest.approx(s["monthly_cost_usd"] / 40)
    for key in ("mean", "p50", "p95", "p99"):
        assert s["latency_s"][key] > 0 and s["ttft_s"][key] > 0
    assert s["ttft_s"]["p50"] <= s["latency_s"]["p50"]
    assert 0 < s["utilization"]["gpu"]["mean"] < 1


def test_same_seed_same_summary_different_seed_differs():
    a = run_scenario(
        "copilot_like", ["workload.users=20", "horizon_s=86400", "progress=false"]
    ).summary
    b = run_scenario(
        "copilot_like", ["workload.users=20", "horizon_s=86400", "progress=false"]
    ).summary
    c = run_scenario(
        "copilot_like", ["workload.users=20", "horizon_s=86400", "progress=false", "seed=1"]
    ).summary
    assert summary_json(a) == summary_json(b)
    assert summary_json(a) != summary_json(c)


def test_warmup_is_left_out():
    full = run_scenario("demo", ["horizon_s=172800", "progress=false"]).summary
    half = run_scenario("demo", ["horizon_s=172800", "warmup_s=86400", "progress=false"]).summary
    assert 0 < half["requests"]["arrived"] < full["requests"]["arrived"]
    assert half["measured_s"] == 86400
    assert 0 < half["cost_usd"]["total"] < full["cost_usd"]["total"]


def test_outputs_are_complete(copilot, tmp_path):
    written = write_run(copilot, tmp_path)
    names = {p.name for p in written}
    assert {
        "summary.json",
        "ledger.csv",
        "timeseries.csv",
        "cost_by_layer.png",
        "latency.png",
        "load.png",
    } <= names
    s = json.loads((tmp_path / "summary.json").read_text())
    for key in (
        "scenario",
        "seed",
        "horizon_s",
        "warmup_s",
        "requests",
        "latency_s",
        "ttft_s",
        "cost_usd",
        "cost_per_request_usd",
        "cost_per_1k_requests_usd",
        "monthly_cost_usd",
        "cost_per_user_month_usd",
        "utilization",
    ):
        assert key in s, key
    with open(tmp_path / "ledger.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert math.isclose(
        sum(float(r["usd"]) for r in rows if r["in_warmup"] == "0"),
        s["cost_usd"]["total"],
        rel_tol=1e-9,
    )
    assert not list(tmp_path.glob(".*.tmp"))
    for png in ("cost_by_layer.png", "latency.png", "load.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"
    text = format_summary(s)
    assert "inference" in text and "per user-month" in text


def test_demo_has_no_user_cost_when_not_a_user_model():
    s = run(
        compose(
            "demo",
            [
                "workload.arrival=poisson",
                "workload.rate_rps=0.5",
                "horizon_s=3600",
                "progress=false",
            ],
        )
    ).summary
    assert s["users"] is None and s["cost_per_user_month_usd"] is None
    assert s["ttft_s"] is not None


def test_files_are_replaced_atomically(tmp_path, monkeypatch):
    import os

    from sim import outputs

    (tmp_path / "summary.json").write_text('{"old": true}')

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        outputs.atomic_write_text(tmp_path / "summary.json", '{"new": true}')
    # the previous file is intact and no temporary file is left behind
    assert json.loads((tmp_path / "summary.json").read_text()) == {"old": True}
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_failed_write_leaves_no_partial_run(copilot, tmp_path, monkeypatch):
    from sim import outputs

    (tmp_path / "load.png").write_bytes(b"stale plot of an unfinished attempt")
    real = outputs.atomic_write_text
    calls = []

    def fail_on_second(path, text):
        calls.append(path.name)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C half-way through writing
        real(path, text)

    monkeypatch.setattr(outputs, "atomic_write_text", fail_on_second)
    with pytest.raises(KeyboardInterrupt):
        outputs.write_run(copilot, tmp_path, plots=False)
    assert calls[0] == "ledger.csv"
    assert not list(tmp_path.iterdir())  # neither the first file nor the stale plot


def test_result_files_follow_the_umask(copilot, tmp_path):
    import os
    import stat

    from sim import outputs

    old = os.umask(0o022)
    try:
        written = outputs.write_run(copilot, tmp_path, plots=False)
    finally:
        os.umask(old)
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path.name


def test_progress_bar_over_simulated_time(capsys):
    run_scenario("demo", ["horizon_s=86400", "progress=true", "plots=false"])
    err = capsys.readouterr().err
    assert "demo: simulated hours" in err  # says what it counts, in a unit people read
    assert "of 24.0" in err  # one simulated day = 24 hours


@pytest.mark.slow
def test_a_million_users_in_a_busy_window():
    s = run_scenario(
        "copilot_like",
        ["workload.users=1000000", "workload.clock_start_h=10", "horizon_s=10", "bucket_s=5",
         "progress=false", "plots=false"],
    ).summary  # fmt: skip
    assert s["config"]["pools"]["gpu"]["replicas"] == 4000
    # ~1M developers at 10:00 on a Monday send a few thousand requests per second
    assert 20_000 < s["requests"]["arrived"] < 60_000
    assert _conserved(s)
    assert s["cost_per_user_month_usd"] == pytest.approx(s["monthly_cost_usd"] / 1_000_000)
