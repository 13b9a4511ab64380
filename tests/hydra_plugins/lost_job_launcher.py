"""A Hydra launcher that runs the first job of a sweep and then loses the rest, as a
cluster does when SLURM kills jobs (submitit raises UncompletedJobError)."""

from __future__ import annotations

from typing import Any

from hydra._internal.core_plugins.basic_launcher import BasicLauncher


class UncompletedJobError(RuntimeError):
    """Named like submitit's."""


class LosingLauncher(BasicLauncher):
    def launch(self, job_overrides: Any, initial_job_idx: int) -> Any:
        super().launch(job_overrides[:1], initial_job_idx)
        raise UncompletedJobError("Job 42_1 (task: 0) with path ... has state CANCELLED")
