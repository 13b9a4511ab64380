"""Folder rules through the real command line: nothing overwritten, lost or mixed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from cli_runner import lines, run_cli

QUICK = ["scenario=demo", "horizon_s=86400", "progress=false", "plots=false"]


def test_runs_started_together_never_share_a_folder(tmp_path):
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "sim", *QUICK, f"seed={i}"],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for i in range(3)
    ]
    assert [p.wait(timeout=180) for p in procs] == [0, 0, 0]
    runs = sorted((tmp_path / "outputs" / "demo").iterdir())
    assert len(runs) == 3
    seeds = {json.loads((r / "summary.json").read_text())["seed"] for r in runs}
    assert seeds == {0, 1, 2}


def test_a_finished_run_is_never_overwritten(tmp_path):
    run_dir = tmp_path / "run"
    assert run_cli([*QUICK, f"hydra.run.dir={run_dir}"], tmp_path).returncode == 0
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    assert run_dir / ".hydra" / "config.yaml" in before
    out = run_cli([*QUICK, "seed=5", f"hydra.run.dir={run_dir}"], tmp_path)
    assert out.returncode == 2
    (line,) = lines(out.stderr)
    assert line.startswith("configuration error: hydra.run.dir=") and "finished run" in line
    after = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    assert after == before  # .hydra/ included


def test_no_stale_file_beside_a_new_summary(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "load.png").write_bytes(b"plot of an attempt that never finished")
    (run_dir / "error.json").write_text('{"error": "old"}')
    assert run_cli([*QUICK, f"hydra.run.dir={run_dir}"], tmp_path).returncode == 0
    names = {p.name for p in run_dir.iterdir()}
    assert "summary.json" in names
    assert "load.png" not in names and "error.json" not in names


def test_ctrl_c_prints_one_line_exits_130_and_writes_nothing(tmp_path):
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sim",
            "scenario=copilot_like",
            "workload.users=3000",
            "progress=false",
            f"hydra.run.dir={run_dir}",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (run_dir / ".hydra").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.5)  # inside the simulation (a week at 3,000 users takes ~30 s)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    (line,) = lines(err)
    assert line.startswith("interrupted at simulated t=") and "no results written" in line
    assert not (run_dir / "summary.json").exists()
    assert not run_dir.exists() or not [p for p in run_dir.iterdir() if p.suffix != ".log"]


def test_a_failing_sweep_job_does_not_stop_the_others(tmp_path):
    sweep = tmp_path / "sweep"
    args = [
        "--multirun",
        *QUICK,
        "workload.users=3,0,4",
        f"hydra.sweep.dir={sweep}",
    ]
    out = run_cli(args, tmp_path)
    assert out.returncode == 1, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    job_line = [ln for ln in lines(out.stderr) if ln.startswith("job 1 ")]
    assert len(job_line) == 1 and "configuration error: workload.users=0" in job_line[0]
    assert "1 of 3 jobs failed" in out.stderr and "workload.users=0" in out.stderr
    # job folders are named by the swept value; the manifest lists every job
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == [
        "users=0",
        "users=3",
        "users=4",
    ]
    assert (sweep / "users=3" / "summary.json").exists()
    assert (sweep / "users=4" / "summary.json").exists()
    error = json.loads((sweep / "users=0" / "error.json").read_text())
    assert "workload.users=0" in error["error"] and "workload.users=0" in error["overrides"]
    manifest = json.loads((sweep / "manifest.json").read_text())
    assert manifest["swept"] == ["workload.users"]
    assert [(j["num"], j["dir"], j["status"]) for j in manifest["jobs"]] == [
        (0, "users=3", "finished"), (1, "users=0", "failed"), (2, "users=4", "finished")
    ]  # fmt: skip
    assert "workload.users=0" in manifest["jobs"][1]["error"]
    # the same sweep again resumes it: the failed job runs (and fails) again, alone
    again = run_cli(args, tmp_path)
    assert again.returncode == 1 and "2 job(s) finished earlier are kept" in again.stderr


def test_a_sweep_that_succeeds_exits_0(tmp_path):
    out = run_cli(["--multirun", *QUICK, "seed=1,2", f"hydra.sweep.dir={tmp_path / 's'}"], tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "all 2 jobs finished" in out.stderr


def test_job_folders_are_named_by_what_the_sweep_varies(tmp_path):
    from sim.sweep import dirname

    swept = ["workload.users", "levers.cache", "pools.a.replicas", "pools.b.replicas"]
    job = ["scenario=demo", "workload.users=10", "+levers.cache=exact", "pools.a.replicas=2",
           "pools.b.replicas=3", "seed=4"]  # fmt: skip
    assert dirname(job, swept, 7, "demo") == (
        "users=10,cache=exact,pools.a.replicas=2,pools.b.replicas=3"
    )
    assert dirname(["scenario=demo", "seed=1"], [], 3, "demo") == "3_demo"  # nothing swept
    assert dirname(["workload.trace.path=/a/b c.csv"], ["workload.trace.path"], 0, "x") == (
        "path=_a_b_c.csv"
    )
    long = dirname([f"name={'x' * 400}"], ["name"], 12, "demo")
    assert len(long) <= 200 and long.endswith("_12")


def test_a_config_error_leaves_no_run_folder(tmp_path):
    out = run_cli(["scenario=demo", "horizon_s=-1"], tmp_path)
    assert out.returncode == 2
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").rglob("*.yaml"))


def test_result_files_are_group_readable(tmp_path):
    run_dir = tmp_path / "run"
    env = {**os.environ}
    out = subprocess.run(
        [
            "sh",
            "-c",
            f"umask 022 && {sys.executable} -m sim {' '.join(QUICK)} hydra.run.dir={run_dir}",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    for name in ("summary.json", "ledger.csv", "timeseries.csv"):
        assert (run_dir / name).stat().st_mode & 0o044 == 0o044, name


def test_rerunning_an_interrupted_sweep_keeps_what_finished(tmp_path):
    sweep = tmp_path / "sweep"
    args = ["--multirun", *QUICK, "seed=1,2", f"hydra.sweep.dir={sweep}"]
    assert run_cli(args, tmp_path).returncode == 0
    kept = sweep / "seed=1" / "summary.json"
    before = kept.read_bytes()
    (sweep / "seed=2" / "summary.json").unlink()  # as if the job had been killed
    (sweep / "seed=2" / "error.json").write_text('{"error": "killed", "overrides": []}')
    again = run_cli(args, tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "resuming" in again.stderr and "kept" in again.stderr
    assert kept.read_bytes() == before  # not run again
    assert (sweep / "seed=2" / "summary.json").exists()
    assert not (sweep / "seed=2" / "error.json").exists()
    other = run_cli(["--multirun", *QUICK, "seed=1,3", f"hydra.sweep.dir={sweep}"], tmp_path)
    assert other.returncode == 2 and "already holds another sweep" in other.stderr


def test_jobs_a_launcher_loses_are_listed_and_the_sweep_resumes(tmp_path):
    import os

    sweep = tmp_path / "sweep"
    tests = str(Path(__file__).resolve().parent)
    env = {**os.environ, "PYTHONPATH": tests + os.pathsep + os.environ.get("PYTHONPATH", "")}
    args = ["--multirun", *QUICK, "seed=1,2", f"hydra.sweep.dir={sweep}",
            "hydra.launcher._target_=hydra_plugins.lost_job_launcher.LosingLauncher"]  # fmt: skip
    out = run_cli(args, tmp_path, env=env)
    assert out.returncode == 1, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    assert "sweep: the launcher stopped: UncompletedJobError" in out.stderr
    assert "1 of 2 jobs failed" in out.stderr and "never started" in out.stderr
    manifest = json.loads((sweep / "manifest.json").read_text())
    assert [j["status"] for j in manifest["jobs"]] == ["finished", "missing"]
    again = run_cli(args[:-1], tmp_path)  # the same sweep, with a launcher that loses nothing
    assert again.returncode == 0 and "1 job(s) finished earlier are kept" in again.stderr
