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
import re
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
    skip = shutil.ignore_patterns("report*.csv", "*.png")
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


# -- replications: mean and 95 % confidence interval over seeds -----------------------------
SEEDS = [
    "--multirun",
    "scenario=demo",
    "horizon_s=3600",
    "workload.clock_start_h=9",
    "workload.users=5,50",
    "seed=0,1,2",
    "progress=false",
    "plots=false",
]
T975_DF2 = 4.303  # Student t, 0.975 quantile, 2 degrees of freedom (any t table)


@pytest.fixture(scope="module")
def seeds_dir(tmp_path_factory) -> Path:
    """A real sweep of two user counts, three seeds each (6 jobs, a few seconds)."""
    root = tmp_path_factory.mktemp("seeds")
    out = run_cli([*SEEDS, f"hydra.sweep.dir={root / 'sweep'}"], root)
    assert out.returncode == 0, out.stderr[-2000:]
    return root / "sweep"


@pytest.fixture(scope="module")
def seeds_reported(seeds_dir) -> subprocess.CompletedProcess:
    return report(seeds_dir)


def _t_cdf(t: float, df: int, steps: int = 4000) -> float:
    """Student's t CDF by Simpson's rule on its density (no scipy needed)."""
    c = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)
    h = t / steps
    f = [c * (1 + (i * h) ** 2 / df) ** (-(df + 1) / 2) for i in range(steps + 1)]
    return 0.5 + h / 3 * (f[0] + f[-1] + 4 * sum(f[1:-1:2]) + 2 * sum(f[2:-1:2]))


@pytest.mark.parametrize("df", [1, 2, 3, 5, 10, 29, 30, 31, 45, 60, 120, 1000])
def test_t_quantile_is_the_975th_percentile(df):
    from sim.report.stats import t975

    # the table has 3 decimals: its own rounding moves the CDF by at most pdf x 0.0005
    assert _t_cdf(t975(df), df) == pytest.approx(0.975, abs=1e-4)


def test_t_quantile_falls_towards_the_normal():
    from sim.report.stats import Z975, t975

    values = [t975(df) for df in range(1, 200)]
    assert values == sorted(values, reverse=True) and values[-1] > Z975
    assert t975(10**6) == pytest.approx(Z975, abs=1e-5)
    with pytest.raises(ValueError):
        t975(0)


def test_mean_ci_by_hand():
    from sim.report.stats import mean_ci

    assert mean_ci([1.0, 2.0, 3.0]) == pytest.approx((2.0, T975_DF2 / math.sqrt(3)))
    assert mean_ci([4.0]) == (4.0, None) and mean_ci([]) == (None, None)
    assert mean_ci([0.1 + 0.2, 0.3, 0.3])[1] == 0.0  # equal but for the last bit


def test_report_mean_has_one_row_per_configuration(seeds_reported, seeds_dir):
    assert seeds_reported.returncode == 0, seeds_reported.stderr
    runs = read_csv(seeds_dir / "report.csv")
    assert len(runs) == 6  # report.csv keeps one row per run
    means = read_csv(seeds_dir / "report_mean.csv")
    assert [m["workload.users"] for m in means] == ["5", "50"]
    assert "seed" not in means[0] and "job" not in means[0]
    for m in means:
        assert (m["n"], m["seeds"], m["scenario"]) == ("3", "0 1 2", "demo")
        mine = [r for r in runs if r["workload.users"] == m["workload.users"]]
        for name in (
            "monthly_cost_usd",
            "cost_per_request_usd",
            "cost_per_1k_requests_usd",
            "cost_per_user_month_usd",
            "latency_p50_s",
            "latency_p95_s",
            "latency_p99_s",
            *(f"monthly_usd.{ly}" for ly in LAYERS),
        ):
            values = [float(r[name]) for r in mine]
            mean = sum(values) / 3
            sd = math.sqrt(sum((v - mean) ** 2 for v in values) / 2)
            assert float(m[f"{name}_mean"]) == pytest.approx(mean, rel=1e-9, abs=1e-15), name
            assert float(m[f"{name}_ci95"]) == pytest.approx(
                T975_DF2 * sd / math.sqrt(3), rel=1e-9, abs=1e-12
            ), name
        # demo has no quality model: the columns exist and are empty
        assert m["quality_acceptable_share_mean"] == m["quality_acceptable_share_ci95"] == ""


def test_terminal_shows_means_with_their_interval(seeds_reported):
    text = seeds_reported.stdout
    assert "swept: workload.users, seed" in text
    assert "plots: usage set by workload.users; mean of 3 seeds, 95 % CI band" in text
    rows = [ln for ln in text.splitlines() if ln.startswith(("5 ", "50 "))]
    assert len(rows) == 2 and all(" 3 " in r and r.count("±") >= 3 for r in rows), rows
    assert "wrote report.csv, report_mean.csv, cost_vs_usage.png," in text
    assert "break-even" not in text and "cost_vs_quality" not in text


def test_plots_draw_the_mean_with_a_band(seeds_dir):
    from matplotlib.collections import PolyCollection

    from sim.report import plots
    from sim.report.stats import MeanJob

    sweep = load_sweep(seeds_dir)
    layout = choose_layout(sweep)
    assert (layout.usage_key, layout.series_keys, layout.replicate_key) == (
        "workload.users",
        [],
        "seed",
    )
    for draw in (plots.cost_per_request_figure, plots.latency_figure, plots.cost_figure):
        fig = draw(sweep, layout)
        foot = fig._supxlabel.get_text()
        assert "mean of 3 seeds, 95 % CI band" in foot, foot
        if draw is plots.cost_per_request_figure:  # one mean line per panel, not one per seed
            assert [len(ax.lines) for ax in fig.axes] == [1, 1]
        if draw is not plots.cost_figure:  # the stacked plot has error bars on its total
            assert all(isinstance(c, PolyCollection) for c in fig.axes[0].collections)
            assert fig.axes[0].collections
        plots.style.plt().close(fig)
    means = plots.points(sweep, layout)
    assert [type(m) for m in means] == [MeanJob, MeanJob]
    assert [len(m.runs) for m in means] == [3, 3]


def test_a_single_seed_has_no_band_and_no_mean_csv(reported, sweep_dir):
    from matplotlib.collections import PolyCollection

    from sim.report import plots

    assert not (sweep_dir / "report_mean.csv").exists()
    sweep = load_sweep(sweep_dir)
    layout = choose_layout(sweep)
    assert layout.replicate_key is None and "seeds" not in layout.reason
    fig = plots.cost_per_request_figure(sweep, layout)
    assert not any(isinstance(c, PolyCollection) for ax in fig.axes for c in ax.collections)
    plots.style.plt().close(fig)


def test_a_sweep_of_seeds_alone_keeps_a_bar_per_seed_and_prints_the_mean(seeds_dir, tmp_path):
    copy = Path(shutil.copytree(seeds_dir, tmp_path / "one_config"))
    for summary in copy.glob("*/summary.json"):
        if json.loads(summary.read_text())["users"] == 50:
            shutil.rmtree(summary.parent)
    out = report(copy, "--no-plots")
    assert out.returncode == 0, out.stderr
    assert "one bar per run" in out.stdout  # the spread of the seeds is what it shows
    (line,) = [ln for ln in lines(out.stdout) if ln.startswith("mean of 3 seeds")]
    assert "per month $" in line and "±" in line
    (row,) = read_csv(copy / "report_mean.csv")
    assert row["n"] == "3" and row["workload.users"] == "5"


# -- serving choices: break-even -------------------------------------------------------------
SERVING = [
    "--multirun",
    "scenario=copilot_like",
    "horizon_s=1800",
    "workload.clock_start_h=10",  # a busy half hour
    "usage.requests_per_day=1000,10000,100000",
    "path=[gpu],[api]",
    "levers.autoscale=off",  # a fleet of fixed size: one crossing with the API
    "progress=false",
    "plots=false",
]
BREAK_EVEN = re.compile(
    r"break-even: (\[\w+\]) is cheaper than (\[\w+\]) above ~([\d,.]+) requests/day"
)


@pytest.fixture(scope="module")
def serving_dir(tmp_path_factory) -> Path:
    """Self-hosted against API at three usage levels (6 jobs, a few seconds)."""
    root = tmp_path_factory.mktemp("serving")
    out = run_cli([*SERVING, f"hydra.sweep.dir={root / 'sweep'}"], root)
    assert out.returncode == 0, out.stderr[-2000:]
    return root / "sweep"


def test_break_even_is_printed_and_drawn(serving_dir):
    out = report(serving_dir)
    assert out.returncode == 0, out.stderr
    (match,) = BREAK_EVEN.findall(out.stdout)
    cheap_above, cheap_below, usage = match[0], match[1], float(match[2].replace(",", ""))
    # independently: interpolate report.csv's monthly costs linearly in log-log
    rows = read_csv(serving_dir / "report.csv")
    curve = {
        path: sorted(
            (float(r["requests_per_day"]), float(r["monthly_cost_usd"]))
            for r in rows
            if r["path"] == path
        )
        for path in ("[gpu]", "[api]")
    }
    (gpu, api) = curve["[gpu]"], curve["[api]"]
    d = [math.log(g[1] / a[1]) for g, a in zip(gpu, api)]
    (i,) = [k for k in range(len(d) - 1) if (d[k] > 0) != (d[k + 1] > 0)]
    t = d[i] / (d[i] - d[i + 1])
    lu = math.log(gpu[i][0]) + t * (math.log(gpu[i + 1][0]) - math.log(gpu[i][0]))
    assert usage == pytest.approx(math.exp(lu), rel=0.05)  # printed to two digits
    assert gpu[i][0] < usage < gpu[i + 1][0]
    # the cheaper choice above the crossing is the one cheaper at the top level
    assert cheap_above == ("[gpu]" if d[-1] < 0 else "[api]") and cheap_below != cheap_above
    data = (serving_dir / "break_even.png").read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 30_000
    assert "break_even.png" in out.stdout.splitlines()[-1]


def test_break_even_plan_names_the_path_key(serving_dir):
    from sim.report import compare

    sweep = load_sweep(serving_dir)
    layout = choose_layout(sweep)
    assert (layout.usage_key, layout.series_keys) == ("usage.requests_per_day", ["path"])
    p = compare.plan(sweep, layout)
    assert p.key == "path" and list(p.pairs) == [""]
    (pair,) = p.pairs[""]
    assert len(pair.crossings) == 1
    fig = compare.break_even_figure(sweep, layout, p)
    assert "copilot_like" in fig._suptitle.get_text() and "seed 0" in fig._suptitle.get_text()
    assert "is cheaper than" in fig.axes[0].get_title()
    compare.style.plt().close(fig)


def _curve_jobs(key: str, value: str, costs: dict[float, float]) -> list[Job]:
    """Jobs of one serving choice: usage level (requests/day) -> monthly cost."""
    return [
        Job(
            folder=Path("."),
            rel=f"{value}-{day:g}",
            overrides={"u": f"{day:g}", key: value},
            status=FINISHED,
            summary={"requests": {"arrived": day}, "measured_s": 86400.0, "monthly_cost_usd": c},
        )
        for day, c in costs.items()
    ]


def test_crossings_are_interpolated_in_log_log():
    from sim.report.compare import compare
    from sim.report.table import Layout

    layout = Layout("u", ["k"], False, "")
    flat = _curve_jobs("k", "a", {100: 100.0, 1000: 100.0, 10000: 100.0})
    # b = usage / 5 up to 1,000, then down: it meets a at 500 and again at 10^3.5
    up_down = _curve_jobs("k", "b", {100: 20.0, 1000: 200.0, 10000: 50.0})
    pair = compare("a", "b", flat, up_down, layout)
    assert [c.usage for c in pair.crossings] == pytest.approx([500.0, 10**3.5])
    assert [c.monthly_usd for c in pair.crossings] == pytest.approx([100.0, 100.0])
    assert [(c.cheaper_below, c.cheaper_above) for c in pair.crossings] == [("b", "a"), ("a", "b")]
    assert pair.verdict() == (
        "a and b cross 2 times; cheaper: b below ~500, a from ~500 to ~3,200, "
        "b above ~3,200 requests/day"
    )
    never = compare("a", "c", flat, _curve_jobs("k", "c", {100: 1.0, 10000: 90.0}), layout)
    assert not never.crossings and never.cheaper == "c"
    assert never.verdict() == (
        "no crossing: c is cheaper than a at every level swept (100–10,000 requests/day)"
    )
    # equal at the middle level: one crossing there, not two
    touch = compare(
        "a", "d", flat, _curve_jobs("k", "d", {100: 50.0, 1000: 100.0, 10000: 200.0}), layout
    )
    assert [c.usage for c in touch.crossings] == pytest.approx([1000.0])
    assert touch.verdict().startswith("a is cheaper than d above ~1,000 requests/day")


def test_break_even_picks_path_among_several_keys_else_skips_with_a_note():
    from sim.report import compare
    from sim.report.table import Layout

    jobs = []
    for lever in ("off", "on"):
        for path, costs in (("[gpu]", {10: 50.0, 1e4: 60.0}), ("[api]", {10: 1.0, 1e4: 1e3})):
            for job in _curve_jobs("path", path, costs):
                job.overrides["levers.x"] = lever
                jobs.append(job)
    sweep = Sweep(root=Path("."), jobs=jobs, swept=["u", "path", "levers.x"])
    layout = Layout("u", ["path", "levers.x"], False, "")
    p = compare.plan(sweep, layout)
    assert p.key == "path" and list(p.pairs) == ["levers.x=off", "levers.x=on"]
    text = compare.lines(p)
    assert len(text) == 2 and text[0].startswith("break-even (levers.x=off): [gpu] is cheaper")
    for job in jobs:
        job.overrides["mode"] = job.overrides.pop("path")
    sweep.swept = ["u", "mode", "levers.x"]
    skipped = compare.plan(sweep, Layout("u", ["mode", "levers.x"], False, ""))
    assert skipped.key is None and "break-even not drawn" in skipped.note
    assert compare.lines(skipped) == [skipped.note]


# -- levers: cost against quality ------------------------------------------------------------
LEVER = [
    "--multirun",
    "scenario=copilot_like",
    "horizon_s=1800",
    "workload.clock_start_h=10",
    "workload.users=20,200",
    "levers.routing=off,by_complexity",
    "progress=false",
    "plots=false",
]


@pytest.fixture(scope="module")
def lever_dir(tmp_path_factory) -> Path:
    """The routing lever at two user counts (4 jobs, a few seconds)."""
    root = tmp_path_factory.mktemp("lever")
    out = run_cli([*LEVER, f"hydra.sweep.dir={root / 'sweep'}"], root)
    assert out.returncode == 0, out.stderr[-2000:]
    return root / "sweep"


def test_cost_vs_quality_is_drawn_for_a_lever(lever_dir):
    out = report(lever_dir)
    assert out.returncode == 0, out.stderr
    assert "cost_vs_quality.png" in out.stdout.splitlines()[-1]
    data = (lever_dir / "cost_vs_quality.png").read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 30_000
    head = next(ln for ln in out.stdout.splitlines() if ln.startswith("levers.routing"))
    assert head.endswith("acceptable")
    rows = {
        tuple(ln.split()[:2]): ln
        for ln in out.stdout.splitlines()
        if ln.startswith(("off ", "by_complexity "))
    }
    assert len(rows) == 4 and rows["off", "20"].endswith("—")
    assert re.search(r" \d+\.\d% *$", rows["by_complexity", "200"])


def test_cost_vs_quality_points(lever_dir):
    from sim.report import quality

    sweep = load_sweep(lever_dir)
    layout = choose_layout(sweep)
    p = quality.plan(sweep, layout)
    assert p.levers == ["levers.routing"] and (p.assumed, p.lacking) == (2, 0)
    assert list(p.groups) == ["levers.routing=by_complexity", "levers.routing=off"]
    for pt in p.groups["levers.routing=by_complexity"]:
        s = pt.job.summary
        assert pt.measured and pt.acceptable == s["quality"]["acceptable_share"] < 1
        assert pt.cost_per_1k_usd == s["cost_per_1k_requests_usd"]
    assert all(not pt.measured and pt.acceptable == 1.0 for pt in p.groups["levers.routing=off"])
    fig = quality.quality_figure(sweep, layout, p)
    title, foot = fig.axes[0].get_title(), fig._supxlabel.get_text()
    assert title == "copilot_like: cost vs quality by levers.routing · seed 0"
    assert "2 hollow points: no quality model in the run" in foot
    quality.style.plt().close(fig)


def test_cost_vs_quality_with_seeds_and_missing_shares(lever_dir):
    """Seeds become means with error bars; a run with no completed request is left out."""
    from sim.report import quality
    from sim.report.stats import MeanJob

    jobs = []
    for job in _finished(lever_dir):
        for seed, shift in (("0", 0.0), ("1", 0.02)):
            s = json.loads(json.dumps(job.summary))
            if s["quality"]:
                s["quality"]["acceptable_share"] -= shift
            jobs.append(Job(job.folder, job.rel, {**job.overrides, "seed": seed}, FINISHED, s))
    sweep = _sweep_of(jobs, ["workload.users", "levers.routing", "seed"])
    layout = choose_layout(sweep)
    assert layout.replicate_key == "seed" and layout.series_keys == ["levers.routing"]
    p = quality.plan(sweep, layout)
    (a, b) = p.groups["levers.routing=by_complexity"]
    assert isinstance(a, quality.Point) and isinstance(a.job, MeanJob)
    assert a.job.half_width["quality_acceptable_share"] == pytest.approx(12.706 * 0.01)
    fig = quality.quality_figure(sweep, layout, p)
    assert "mean of 2 seeds (0, 1)" in fig.axes[0].get_title()
    assert "95 % CI error bars" in fig._supxlabel.get_text()
    quality.style.plt().close(fig)
    for job in jobs:  # no request completed at 20 users with routing: no share
        if job.summary["quality"] and job.overrides["workload.users"] == "20":
            job.summary["quality"]["acceptable_share"] = None
    p = quality.plan(sweep, layout)
    assert p.lacking == 1 and len(p.groups["levers.routing=by_complexity"]) == 1
    fig = quality.quality_figure(sweep, layout, p)
    assert "1 point without an acceptable share" in fig._supxlabel.get_text()
    quality.style.plt().close(fig)


def test_a_lever_without_quality_model_says_why_there_is_no_plot(reported, sweep_dir):
    out, _ = reported
    assert "cost_vs_quality.png not drawn: no run has a quality model" in out.stdout
    assert not (sweep_dir / "cost_vs_quality.png").exists()
