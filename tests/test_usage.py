"""Usage levels and cells: any scenario at N requests per day; one cell x k vs k cells."""

from __future__ import annotations

import math

import pytest

from sim.checks import ConfigError
from sim.compose import compose, run_scenario
from sim.preflight import expected_rate_rps
from sim.usage import apply_usage

QUIET = ["progress=false", "plots=false"]


@pytest.mark.parametrize(
    ("scenario", "knob"),
    [("copilot_like", "users"), ("search_like", "rate_rps"), ("demo", "users"),
     ("rag_assistant", "users")],
)  # fmt: skip
def test_a_usage_level_sets_the_scenarios_own_traffic_knob(scenario, knob):
    for per_day in (100.0, 1e5, 3e6):
        cfg = apply_usage(compose(scenario, [f"usage.requests_per_day={per_day}"]))
        got = expected_rate_rps(cfg) * 86400 * cfg.usage.cells
        # users are whole people: 100 requests/day is a handful of them
        assert got == pytest.approx(per_day, rel=0.5 if knob == "users" and per_day < 1e3 else 0.01)
        assert getattr(cfg.workload, knob) != getattr(compose(scenario).workload, knob)


def test_cells_keep_each_cell_within_its_budget():
    cfg = apply_usage(
        compose("copilot_like", ["usage.requests_per_day=1e7", "usage.max_cell_requests=1e6"])
    )
    per_cell = expected_rate_rps(cfg) * cfg.horizon_s
    assert cfg.usage.cells == math.ceil(1e7 * 7 / 1e6)
    assert per_cell <= 1e6 * 1.001


def test_a_tiny_deployment_runs_longer_to_see_enough_requests():
    cfg = apply_usage(
        compose("search_like", ["usage.requests_per_day=100", "usage.min_requests=2000"])
    )
    assert cfg.horizon_s == cfg.warmup_s + 604800  # capped at one week (700 requests)
    cfg = apply_usage(
        compose("search_like", ["usage.requests_per_day=10000", "usage.min_requests=2000"])
    )
    assert cfg.horizon_s - cfg.warmup_s == math.ceil(2000 / (1e4 / 86400) / 3600) * 3600
    cfg = apply_usage(  # enough requests already: the scenario's horizon
        compose("search_like", ["usage.requests_per_day=100000", "usage.min_requests=2000"])
    )
    assert cfg.horizon_s == compose("search_like").horizon_s


def test_one_cell_times_k_agrees_with_k_cells_simulated_together():
    # 1,000 developers on Monday: 4 A100s as one fleet, or 4 cells of 250 with one each
    day = ["horizon_s=86400", "workload.clock_start_h=0", "levers.autoscale=off", *QUIET]
    whole = run_scenario("copilot_like", [*day, "workload.users=1000"]).summary
    cells = run_scenario("copilot_like", [*day, "workload.users=1000", "usage.cells=4"]).summary
    assert cells["usage"]["cells"] == 4 and cells["config"]["workload"]["users"] == 250
    assert cells["users"] == whole["users"] == 1000
    assert cells["requests"]["arrived"] == pytest.approx(whole["requests"]["arrived"], rel=0.03)
    assert cells["cost_usd"]["total"] == pytest.approx(whole["cost_usd"]["total"], rel=0.02)
    assert cells["cost_per_request_usd"] == pytest.approx(whole["cost_per_request_usd"], rel=0.03)
    # busy vs idle replica-time differs: one fleet spreads requests over idle replicas,
    # a one-replica cell batches them
    for layer in ("inference", "infrastructure"):
        assert cells["cost_usd"]["by_layer"][layer] == pytest.approx(
            whole["cost_usd"]["by_layer"][layer], rel=0.15
        )
    # latency is where cells differ: a one-replica cell batches what a fleet spreads over
    # idle replicas, so a cell's latency is an upper bound (README: when cells are valid)
    for q in ("p50", "p95"):
        assert cells["latency_s"][q] >= whole["latency_s"][q]
    # and the scaled totals still account for every request and every cent
    r = cells["requests"]
    assert r["arrived"] == r["completed"] + r["failed"] + r["dropped"] + r["in_flight"]
    assert sum(cells["cost_usd"]["by_layer"].values()) == pytest.approx(cells["cost_usd"]["total"])
    assert sum(v["usd"] for v in cells["layers"].values()) == pytest.approx(
        cells["cost_usd"]["total"]
    )


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("usage.requests_per_day=-5", r"usage.requests_per_day=-5(\.0)? must be"),
        ("usage.cells=0", "usage.cells=0 must be"),
        ("usage.requests_per_day=nan", "usage.requests_per_day=nan must be"),
    ],
)
def test_bad_usage_names_its_key(override, needle):
    with pytest.raises(ConfigError, match=needle):
        apply_usage(compose("demo", [override]))


def test_the_usage_ladder_preset_runs_end_to_end_and_reports(tmp_path):
    import json
    import subprocess
    import sys

    sweep = tmp_path / "ladder"
    out = subprocess.run(
        [sys.executable, "-m", "sim", "--multirun", "+sweep=usage_ladder", "scenario=demo",
         "usage.max_cell_requests=3000", "usage.min_requests=200", "horizon_s=3600",
         "workload.clock_start_h=9", "plots=false", "progress=false",
         f"hydra.sweep.dir={sweep}"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    manifest = json.loads((sweep / "manifest.json").read_text())
    assert manifest["swept"] == ["usage.requests_per_day"]
    levels = [float(j["dir"].split("=")[1]) for j in manifest["jobs"]]
    assert levels[0] == 100 and levels[-1] == 1e7 and len(levels) == 11  # 1e2..1e7, half decades
    assert all(j["status"] == "finished" for j in manifest["jobs"])
    cells = []
    for j in manifest["jobs"]:
        s = json.loads((sweep / j["dir"] / "summary.json").read_text())
        r = s["requests"]
        assert r["arrived"] == r["completed"] + r["failed"] + r["dropped"] + r["in_flight"]
        assert s["config"]["horizon_s"] - s["warmup_s"] <= 604800
        cells.append(s["usage"]["cells"])
    assert cells[0] == 1 and cells[-1] > 1 and cells == sorted(cells)
    report = subprocess.run(
        [sys.executable, "-m", "sim.report", str(sweep), "--no-plots"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert report.returncode == 0, report.stderr
    assert len((sweep / "report.csv").read_text().splitlines()) == 12  # header + 11 runs


def test_layers_the_cells_share_are_counted_once():
    from sim.usage import scale_summary

    s = run_scenario("demo", ["horizon_s=86400", "workload.clock_start_h=0", *QUIET]).summary
    s["cost_usd"]["by_layer"]["iteration"] = 10.0  # as if a retraining cycle ran in the cell
    s["cost_usd"]["total"] += 10.0
    inference = s["cost_usd"]["by_layer"]["inference"]
    scaled = scale_summary(s, 4)
    assert scaled["cost_usd"]["by_layer"]["iteration"] == 10.0  # one model, one loop
    assert scaled["cost_usd"]["by_layer"]["inference"] == pytest.approx(4 * inference)
    assert scaled["cost_usd"]["total"] == pytest.approx(4 * inference + 10.0)
    with pytest.raises(ConfigError, match=r"usage.shared_layers\[0\]='iter' is not a cost layer"):
        apply_usage(compose("demo", ["usage.cells=2", "usage.shared_layers=[iter]"]))
