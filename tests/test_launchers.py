"""Sweeps through the launchers: hydra/launcher=joblib (local processes) and the slurm config.

The sweep rules of :mod:`sim.runfolder` must hold whatever runs the jobs: a failing job
records ``error.json`` and the others go on; the sweep lists the failures and exits 1.
The SLURM launcher itself runs against a real cluster in ``tests/test_slurm.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

from cli_runner import lines, run_cli

QUICK = ["scenario=demo", "horizon_s=86400", "progress=false", "plots=false"]
JOBLIB = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]


def job_with(sweep: Path, override: str) -> Path:
    """The folder of the job of ``sweep`` that ran with ``override`` (Hydra's record)."""
    found = [
        p.parent.parent
        for p in sweep.glob("*/.hydra/overrides.yaml")
        if f"- {override}" in p.read_text().splitlines()
    ]
    assert len(found) == 1, (override, sorted(p.name for p in sweep.iterdir()))
    return found[0]


def assert_accounted(summary: dict) -> None:
    r = summary["requests"]
    assert r["arrived"] > 0
    assert r["arrived"] == r["completed"] + r["failed"] + r["dropped"] + r["in_flight"], r


def test_joblib_runs_the_jobs_of_a_sweep(tmp_path):
    sweep = tmp_path / "sweep"
    out = run_cli(["--multirun", *QUICK, *JOBLIB, "seed=1,2", f"hydra.sweep.dir={sweep}"], tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Joblib.Parallel(n_jobs=2" in out.stdout  # Hydra's log: the joblib launcher ran them
    assert "all 2 jobs finished" in out.stderr
    for seed in (1, 2):
        summary = json.loads((job_with(sweep, f"seed={seed}") / "summary.json").read_text())
        assert summary["seed"] == seed
        assert_accounted(summary)


def test_joblib_a_failing_job_does_not_stop_the_other(tmp_path):
    sweep = tmp_path / "sweep"
    out = run_cli(
        ["--multirun", *QUICK, *JOBLIB, "workload.users=3,0", f"hydra.sweep.dir={sweep}"],
        tmp_path,
    )
    assert out.returncode == 1, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    assert "1 of 2 jobs failed" in out.stderr and "workload.users=0" in out.stderr
    assert_accounted(json.loads((job_with(sweep, "workload.users=3") / "summary.json").read_text()))
    failed = job_with(sweep, "workload.users=0")
    assert not (failed / "summary.json").exists()
    error = json.loads((failed / "error.json").read_text())
    assert "workload.users=0" in error["error"] and "workload.users=0" in error["overrides"]


def test_slurm_launcher_config_is_on_the_search_path(tmp_path):
    """``hydra/launcher=slurm`` is configs/hydra/launcher/slurm.yaml over submitit_slurm."""
    out = run_cli(
        ["scenario=demo", "hydra/launcher=slurm", "--cfg", "hydra", "-p", "hydra.launcher"]
    )
    assert out.returncode == 0, out.stderr[-2000:]
    text = "\n".join(lines(out.stdout))
    assert "_target_: hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher" in text
    for line in (
        "partition: null",
        "timeout_min: 60",
        "cpus_per_task: 1",
        "mem_gb: 2",
        "tasks_per_node: 1",
        "nodes: 1",
        "array_parallelism: 64",
        "submitit_folder: ${hydra.sweep.dir}/.submitit/%j",
    ):
        assert line in text.splitlines(), line
