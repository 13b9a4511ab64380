"""Sweeps through ``hydra/launcher=slurm`` on a real SLURM cluster.

A cluster that answers ``sinfo`` is used as it is; otherwise the session starts the
one-node loopback cluster of ``.ci/slurm up`` (root; apt-get installs SLURM if needed)
and stops it at the end. With ``CI=true`` these tests never skip: a cluster that cannot
be started fails them with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_runner import run_cli
from test_launchers import assert_accounted, job_with

SCRIPT = Path(__file__).resolve().parents[1] / ".ci" / "slurm"
QUICK = ["scenario=demo", "horizon_s=86400", "progress=false", "plots=false"]
SWEEP_TIMEOUT_S = 300  # a lost job would make the launcher wait for ever


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def sinfo_answers() -> bool:
    if shutil.which("sinfo") is None:
        return False
    try:
        return subprocess.run(["sinfo", "-h"], capture_output=True, timeout=15).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _cannot(reason: str) -> None:
    if in_ci():
        pytest.fail(f"CI=true and no SLURM cluster: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[None]:
    """A SLURM cluster that answers; started by ``.ci/slurm up`` only when none does."""
    if sinfo_answers():
        yield
        return
    installed = shutil.which("slurmctld") and shutil.which("slurmd") and shutil.which("munged")
    if not installed and shutil.which("apt-get") is None:
        _cannot("no SLURM cluster answers sinfo, and apt-get is not available to install one")
    if os.geteuid() != 0:
        _cannot("no SLURM cluster answers sinfo, and starting one (.ci/slurm up) needs root")
    try:
        up = subprocess.run([str(SCRIPT), "up"], capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired as exc:
        _down()  # whatever it started
        pytest.fail(f".ci/slurm up did not finish in {exc.timeout:.0f} s", pytrace=False)
    if up.returncode != 0:
        _down()
        pytest.fail(
            f".ci/slurm up failed (exit {up.returncode}):\n{up.stdout}{up.stderr}", pytrace=False
        )
    try:
        yield
    finally:
        _down()


def _down() -> None:
    """``.ci/slurm down``: stops only the daemons ``.ci/slurm up`` started."""
    subprocess.run([str(SCRIPT), "down"], capture_output=True, text=True, timeout=120)


def slurm_sweep(tmp_path: Path, *values: str) -> tuple[subprocess.CompletedProcess, Path]:
    sweep = tmp_path / "sweep"
    args = ["--multirun", *QUICK, *values, "hydra/launcher=slurm", f"hydra.sweep.dir={sweep}"]
    return run_cli(args, tmp_path, timeout=SWEEP_TIMEOUT_S), sweep


def ran_under_slurm(sweep: Path, jobs: int) -> None:
    """Each job left the SLURM log that submitit's srun writes (<jobid>_<index>/...log.out)."""
    logs = sorted(sweep.glob(".submitit/*_*/*_0_log.out"))
    assert len(logs) == jobs, sorted(p.name for p in sweep.rglob("*"))


@pytest.mark.slow
def test_a_sweep_runs_as_a_slurm_array(slurm_cluster, tmp_path):
    out, sweep = slurm_sweep(tmp_path, "seed=1,2")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "all 2 jobs finished" in out.stderr
    ran_under_slurm(sweep, 2)
    for seed in (1, 2):
        summary = json.loads((job_with(sweep, f"seed={seed}") / "summary.json").read_text())
        assert summary["seed"] == seed
        assert_accounted(summary)


@pytest.mark.slow
def test_a_failing_slurm_job_does_not_stop_the_other(slurm_cluster, tmp_path):
    out, sweep = slurm_sweep(tmp_path, "workload.users=3,0")
    assert out.returncode == 1, out.stderr[-3000:]
    assert "1 of 2 jobs failed" in out.stderr and "workload.users=0" in out.stderr
    ran_under_slurm(sweep, 2)
    assert_accounted(json.loads((job_with(sweep, "workload.users=3") / "summary.json").read_text()))
    failed = job_with(sweep, "workload.users=0")
    assert not (failed / "summary.json").exists()
    error = json.loads((failed / "error.json").read_text())
    assert "workload.users=0" in error["error"] and "workload.users=0" in error["overrides"]


@pytest.mark.slow
def test_the_usage_ladder_runs_through_slurm(slurm_cluster, tmp_path):
    sweep = tmp_path / "ladder"
    args = ["--multirun", "+sweep=usage_ladder", "scenario=copilot_like",
            "usage.max_cell_requests=3000", "usage.min_requests=200", "horizon_s=3600",
            "workload.clock_start_h=9", "progress=false", "plots=false",
            "hydra/launcher=slurm", f"hydra.sweep.dir={sweep}"]  # fmt: skip
    out = run_cli(args, tmp_path, timeout=SWEEP_TIMEOUT_S * 2)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "all 11 jobs finished" in out.stderr
    ran_under_slurm(sweep, 11)
    manifest = json.loads((sweep / "manifest.json").read_text())
    for job in manifest["jobs"]:
        summary = json.loads((sweep / job["dir"] / "summary.json").read_text())
        assert_accounted(summary)
        assert summary["usage"]["requests_per_day"] == float(job["dir"].split("=")[1])
