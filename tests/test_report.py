"""The sweep report through the real command line: ``python -m sim.report SWEEP_DIR``.

One real sweep (``python -m sim --multirun``: the demo scenario, one busy hour, three
user counts and a job that fails, with the cache lever off and on) is reported as
written, then copied and damaged — renamed folders, a truncated summary, a job that
never finished — to check what the report says about each.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_runner import lines, run_cli

from sim.costs.layers import LAYERS
from sim.report.sweep import FINISHED, Job, Sweep, load_sweep
from sim.report.table import choose_layout, report_csv

SWEEP = [
    "--multirun",
    "scenario=demo",
    "horizon_s=3600",
    "workload.clock_start_h=9",  # Monday 09:00-10:00: the testers are at work
    "workload.users=5,50,500,0",  # 0 fails when its job starts: a real failed job
    "levers.cache=off,exact",
    "progress=false",
    "plots=false",
]
USERS = ["5", "50", "500"]


def report(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m sim.report ARGS`` with captured text output."""
    return subprocess.run(
        [sys.executable, "-m", "sim.report", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory) -> Path:
    """A real sweep: 8 jobs, 6 finished, 2 failed (workload.users=0)."""
    root = tmp_path_factory.mktemp("report")
    out = run_cli([*SWEEP, f"hydra.sweep.dir={root / 'sweep'}"], root)
    assert out.returncode == 1, out.stderr[-2000:]  # the sweep reports its failed jobs
    assert "2 of 8 jobs failed" in out.stderr
    return root / "sweep"


@pytest.fixture
def copy(sweep_dir, tmp_path) -> Path:
    """A copy of the sweep as the simulator left it (no report), that a test may damage."""
    skip = shutil.ignore_patterns("report.csv", "*_vs_usage.png")
    return Path(shutil.copytree(sweep_dir, tmp_path / "copy", ignore=skip))


@pytest.fixture(scope="module")
def reported(sweep_dir) -> tuple[subprocess.CompletedProcess, list[dict[str, str]]]:
    out = report(sweep_dir)
    return out, read_csv(sweep_dir / "report.csv")


def test_one_row_per_finished_run_with_the_swept_values(reported):
    out, rows = reported
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    assert len(rows) == 6
    pairs = sorted((r["levers.cache"], r["workload.users"]) for r in rows)
    assert pairs == sorted((c, u) for c in ("off", "exact") for u in USERS)
    header = list(rows[0])
    assert header[:3] == ["job", "workload.users", "levers.cache"]
    for name in ("requests_per_day", "monthly_cost_usd", "cost_per_request_usd", "ttft_p95_s"):
        assert name in header
    assert [h for h in header if h.startswith("monthly_usd.")] == [
        f"monthly_usd.{ly}" for ly in LAYERS
    ]


def test_each_row_holds_its_jobs_figures(reported, sweep_dir):
    _, rows = reported
    for r in rows:
        summary = json.loads((sweep_dir / r["job"] / "summary.json").read_text())
        overrides = (sweep_dir / r["job"] / ".hydra" / "overrides.yaml").read_text()
        assert f"workload.users={r['workload.users']}" in overrides
        assert float(r["total_cost_usd"]) == summary["cost_usd"]["total"]
        assert int(r["requests_completed"]) == summary["requests"]["completed"]
        assert float(r["latency_p95_s"]) == summary["latency_s"]["p95"]
        assert int(r["users"]) == int(r["workload.users"])
        day = int(r["requests_arrived"]) * 86400 / float(r["measured_s"])
        assert float(r["requests_per_day"]) == pytest.approx(day)


def test_layer_columns_sum_to_the_monthly_total(reported):
    _, rows = reported
    for r in rows:
        layers = sum(float(r[f"monthly_usd.{ly}"]) for ly in LAYERS)
        assert layers == pytest.approx(float(r["monthly_cost_usd"]), rel=1e-12)
        assert float(r["monthly_usd.inference"]) > 0
        # the cache node is billed to latency_optimization only when the lever is on
        assert (float(r["monthly_usd.latency_optimization"]) > 0) == (r["levers.cache"] == "exact")


def test_cost_and_usage_grow_with_users(reported):
    _, rows = reported
    for cache in ("off", "exact"):
        series = sorted(
            (r for r in rows if r["levers.cache"] == cache), key=lambda r: int(r["workload.users"])
        )
        for key in ("monthly_cost_usd", "requests_per_day"):
            values = [float(r[key]) for r in series]
            assert values == sorted(values) and values[0] < values[-1], (cache, key, values)
    # the cache node is a fixed cost: per user it falls as users grow
    exact = {
        r["workload.users"]: float(r["cost_per_user_month_usd"])
        for r in rows
        if r["levers.cache"] == "exact"
    }
    assert exact["5"] > exact["50"] > exact["500"]


def test_terminal_summary_lists_failures_and_files(reported):
    out, _ = reported
    text = out.stdout
    assert "runs 6 reported of 8 jobs · failed 2 · incomplete 0 · unreadable 0" in text
    assert "failed (2):" in text
    assert text.count("configuration error: workload.users=0") == 2  # each job's error line
    assert "workload.users=0" in text and "levers.cache=exact" in text  # and its overrides
    assert "plots: usage set by workload.users; one line per levers.cache" in text
    assert "wrote report.csv, cost_vs_usage.png, cost_per_request_vs_usage.png, " in text
    table = [ln for ln in text.splitlines() if ln.startswith(("off ", "exact "))]
    assert len(table) == 6 and all("$" in ln for ln in table)


def test_plots_are_written_and_not_empty(reported, sweep_dir):
    for name in ("cost_vs_usage.png", "cost_per_request_vs_usage.png", "latency_vs_usage.png"):
        data = (sweep_dir / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 30_000, (name, len(data))
    assert not list(sweep_dir.glob(".*.tmp"))  # written atomically, nothing left over


def test_folder_names_do_not_matter(copy, reported):
    """Jobs are found at any depth under any name; their values come from overrides.yaml."""
    _, rows = reported
    for i, job in enumerate(sorted(p for p in copy.iterdir() if p.is_dir())):
        target = copy / "deeper" / f"run-{i}" if i % 2 else copy / f"x{i}"
        target.parent.mkdir(exist_ok=True)
        job.rename(target)
    (copy / "multirun.yaml").unlink()  # the swept keys are then the values that differ
    out = report(copy, "--no-plots")
    assert out.returncode == 0, out.stderr
    moved = read_csv(copy / "report.csv")
    assert any(r["job"].startswith("deeper/") for r in moved)
    key = ("workload.users", "levers.cache", "monthly_cost_usd")
    assert sorted(tuple(r[k] for k in key) for r in moved) == sorted(
        tuple(r[k] for k in key) for r in rows
    )


def test_a_job_without_hydra_record_takes_its_values_from_the_summary(copy):
    job = sorted(copy.glob("*/summary.json"))[0].parent
    users = json.loads((job / "summary.json").read_text())["config"]["workload"]["users"]
    shutil.rmtree(job / ".hydra")
    out = report(copy, "--no-plots")
    assert out.returncode == 0, out.stderr
    (row,) = [r for r in read_csv(copy / "report.csv") if r["job"] == job.name]
    assert row["workload.users"] == str(users) and row["levers.cache"] in ("off", "exact")


def test_truncated_summary_is_listed_as_unreadable(copy):
    broken = next(p for p in sorted(copy.glob("*/summary.json")))
    text = broken.read_text()
    broken.write_text(text[: len(text) // 2])
    out = report(copy, "--no-plots")
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr and not out.stderr
    assert "unreadable 1" in out.stdout and "unreadable summary (1):" in out.stdout
    assert f"{broken} is not valid JSON" in out.stdout
    assert len(read_csv(copy / "report.csv")) == 5


def test_job_that_never_finished_is_listed_as_incomplete(copy):
    job = sorted(copy.glob("*/summary.json"))[0].parent
    for name in ("summary.json", "ledger.csv", "timeseries.csv", "run_info.json"):
        (job / name).unlink()
    out = report(copy, "--no-plots")
    assert out.returncode == 0, out.stderr
    assert "incomplete (1):" in out.stdout and f"  {job.name}: scenario=demo" in out.stdout
    assert "killed, out of time, or still running" in out.stdout


def test_no_finished_run_exits_1_and_lists_the_failures(copy):
    for summary in copy.glob("*/summary.json"):
        shutil.rmtree(summary.parent)
    out = report(copy)
    assert out.returncode == 1
    assert "none of 2 jobs finished; nothing written" in out.stdout
    assert out.stdout.count("configuration error: workload.users=0") == 2
    assert not (copy / "report.csv").exists()


@pytest.mark.parametrize("make", ["missing", "empty", "file"])
def test_no_sweep_exits_2_with_one_line(tmp_path, make):
    target = tmp_path / "sweep"
    if make == "empty":
        (target / "nothing" / "here").mkdir(parents=True)
    elif make == "file":
        target.write_text("not a folder")
    out = report(target)
    assert out.returncode == 2
    (line,) = lines(out.stderr)
    assert line.startswith(f"configuration error: SWEEP_DIR='{target}' ")
    assert not out.stdout and not (tmp_path / "sweep" / "report.csv").exists()


def test_bad_arguments_exit_2_with_one_line(sweep_dir):
    for args in ([], [sweep_dir, "--usage", "workload.userz"], [sweep_dir, "--bogus"]):
        out = report(*args)
        assert out.returncode == 2, args
        (line,) = lines(out.stderr)
        assert line.startswith("configuration error: "), line
    assert "swept: workload.users, levers.cache" in report(sweep_dir, "--usage", "x").stderr


def test_help_explains_the_command():
    out = report("--help")
    assert out.returncode == 0 and not out.stderr
    for needle in (
        "usage: python -m sim.report",
        "SWEEP_DIR",
        "report.csv",
        "cost_vs_usage.png",
        "exit status",
        "--no-plots",
        "hydra.sweep.dir=",
    ):
        assert needle in out.stdout, needle


# -- in-process: what the plots put on their axes ----------------------------------------
def _sweep_of(jobs: list[Job], swept: list[str]) -> Sweep:
    return Sweep(root=Path("."), jobs=jobs, swept=swept)


def _finished(sweep_dir: Path) -> list[Job]:
    return [j for j in load_sweep(sweep_dir).jobs if j.status == FINISHED]


def test_layout_finds_usage_and_series(sweep_dir):
    sweep = load_sweep(sweep_dir)
    assert sweep.swept == ["workload.users", "levers.cache"]
    layout = choose_layout(sweep)
    assert (layout.usage_key, layout.series_keys, layout.bars) == (
        "workload.users",
        ["levers.cache"],
        False,
    )


def test_a_sweep_without_usage_spread_draws_bars(sweep_dir, tmp_path):
    from sim.report.plots import save_plots

    same_users = [j for j in _finished(sweep_dir) if j.overrides["workload.users"] == "50"]
    lever = _sweep_of(same_users, ["levers.cache"])
    layout = choose_layout(lever)
    assert layout.bars and layout.usage_key is None
    assert "the sweep varies levers.cache, not usage" in layout.reason
    one = _sweep_of(same_users[:1], [])
    assert choose_layout(one).bars and "one run" in choose_layout(one).reason
    for sweep in (lever, one):
        folder = tmp_path / str(len(sweep.jobs))
        folder.mkdir()
        written = save_plots(sweep, choose_layout(sweep), folder)
        assert [p.stat().st_size > 15_000 for p in written] == [True] * 3


def test_a_number_that_tracks_usage_is_the_usage_key_but_never_a_seed(sweep_dir):
    jobs = [j for j in _finished(sweep_dir) if j.overrides["levers.cache"] == "off"]
    jobs.sort(key=lambda j: int(j.overrides["workload.users"]))
    for i, job in enumerate(jobs):  # a knob of our own that scales the traffic
        job.overrides = {"knob": str(10 * (i + 1))}
    layout = choose_layout(_sweep_of(jobs, ["knob"]))
    assert (layout.usage_key, layout.series_keys, layout.bars) == ("knob", [], False)
    for i, job in enumerate(jobs):
        job.overrides = {"seed": str(i)}
    layout = choose_layout(_sweep_of(jobs, ["seed"]))
    assert layout.usage_key is None and layout.series_keys == ["seed"]


def test_the_usage_level_asked_for_is_the_usage_key_and_a_column(sweep_dir):
    jobs = [j for j in _finished(sweep_dir) if j.overrides["levers.cache"] == "off"]
    for job in jobs:  # as a usage ladder (usage.requests_per_day=...) records them
        asked = 40.0 * int(job.overrides["workload.users"])
        job.summary = {**job.summary, "usage": {"requests_per_day": asked, "cells": 1}}
        job.overrides = {"usage.requests_per_day": f"{asked:g}"}
    sweep = _sweep_of(jobs, ["usage.requests_per_day"])
    assert choose_layout(sweep).usage_key == "usage.requests_per_day"
    rows = list(csv.DictReader(report_csv(sweep).splitlines()))
    for r, job in zip(rows, jobs):
        assert float(r["requests_per_day_asked"]) == job.summary["usage"]["requests_per_day"]
        assert r["cells"] == "1"
        measured = job.summary["requests"]["arrived"] * 86400 / job.summary["measured_s"]
        assert float(r["requests_per_day"]) == pytest.approx(measured)


def test_csv_cells_for_missing_figures_are_empty(sweep_dir):
    jobs = _finished(sweep_dir)[:1]
    jobs[0].summary = {**jobs[0].summary, "ttft_s": None, "users": None, "quality": None}
    rows = list(csv.DictReader(report_csv(_sweep_of(jobs, ["workload.users"])).splitlines()))
    assert rows[0]["ttft_p50_s"] == rows[0]["users"] == rows[0]["quality_acceptable_share"] == ""
    assert math.isfinite(float(rows[0]["monthly_cost_usd"]))
