"""Run and sweep folders: never overwrite a finished run, never lose a failed job.

Rules, applied through Hydra's callback hooks (``hydra.callbacks`` in ``configs/config.yaml``):

* **Before a single run** (``on_run_start``, before Hydra creates the folder or writes
  ``.hydra/``): the config is checked (:func:`sim.build.check`, memory preflight), so a
  rejected config leaves no folder behind; then the run folder must be writable and
  must not hold a finished run (a ``summary.json``). A rejected run leaves a finished
  run's files, ``.hydra/`` included, untouched.
* **Before a sweep** (``on_multirun_start``): the sweep folder must be writable and must
  not hold another sweep (``multirun.yaml``) or finished runs. The *same* sweep (the
  same overrides) in the same folder resumes it: jobs that finished are kept (the job
  prints that it was kept, :func:`sim.cli.resumed`), failed and missing ones run again.
* **Each job of a sweep** writes ``summary.json`` when it finishes or ``error.json``
  (its one-line error) when it fails; the other jobs go on.
* **After a sweep** (``on_multirun_end``): ``manifest.json`` records every job, its
  overrides and its status (:mod:`sim.sweep`, which also names job folders by their
  swept values); a report lists each job that did not finish,
  with its overrides and its error, and the process exits 1 if any job failed. The
  report reads the folders, so it also covers jobs that ran in other processes or on
  other machines (joblib, SLURM).

The default folders carry the time and a random suffix (``${run_id:}``), so two runs
started in the same second never share one.
"""

from __future__ import annotations

import json
import secrets
import sys
import time
from pathlib import Path
from typing import Any

from sim.checks import ConfigError
from sim.sweep import SWEEP_FILE

SUMMARY = "summary.json"
ERROR = "error.json"
SWEEP_MARK = SWEEP_FILE  # Hydra's record of a sweep


def run_id() -> str:
    """``2026-11-28_07-40-52_3fa91c``: local time and six random hex digits."""
    return time.strftime("%Y-%m-%d_%H-%M-%S") + "_" + secrets.token_hex(3)


def ensure_writable(folder: Path, key: str) -> None:
    """Create ``folder`` if needed and prove a file can be written in it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{secrets.token_hex(4)}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(
            f"{key}={str(folder)!r} cannot be written ({exc.strerror or exc}); "
            f"choose another folder with {key}=PATH",
            key=key,
        ) from None


def refuse_finished(folder: Path, key: str) -> None:
    """Refuse a folder that already holds a finished run."""
    if (folder / SUMMARY).exists():
        raise ConfigError(
            f"{key}={str(folder)!r} already holds a finished run ({SUMMARY}); a run never "
            f"overwrites another: choose a new folder with {key}=PATH or remove that one",
            key=key,
        )


def _task_config(config: Any) -> Any:
    """The run's own config: Hydra's node removed, as the task function receives it."""
    from omegaconf import OmegaConf

    return OmegaConf.masked_copy(config, [k for k in config.keys() if k != "hydra"])


def write_error(folder: Path, message: str, overrides: list[str]) -> None:
    """Record a failed job: its one-line error and its overrides, atomically."""
    from sim.outputs import atomic_write_text

    record = {"error": message, "overrides": overrides}
    atomic_write_text(folder / ERROR, json.dumps(record, indent=2) + "\n")


def discard_rejected(folder: Path) -> None:
    """Remove what Hydra wrote for a run that was then refused (``.hydra/``, the log).

    Only when nothing else is in the folder: a rejected run leaves no folder behind, and
    never touches files it did not write.
    """
    import shutil

    try:
        names = {p.name for p in folder.iterdir()}
    except OSError:
        return
    if names <= {".hydra", "cli.log", "__main__.log"}:
        shutil.rmtree(folder, ignore_errors=True)


def sweep_report(sweep_dir: Path) -> tuple[int, list[str]]:
    """``(jobs finished, one line per job that did not finish)``."""
    from sim.sweep import job_table

    return _report(job_table(sweep_dir, SUMMARY, ERROR))


def _report(entries: list[dict[str, Any]]) -> tuple[int, list[str]]:
    done = sum(1 for e in entries if e["status"] == "finished")
    failed = [
        f"  {e['dir']}: {' '.join(e['overrides'])}\n      {e.get('error')}"
        for e in entries
        if e["status"] != "finished"
    ]
    return done, failed


try:  # Hydra is a core dependency; the guard keeps `import sim.runfolder` cheap to reason about
    from hydra.experimental.callback import Callback
except ImportError:  # pragma: no cover
    Callback = object  # type: ignore[misc,assignment]


def _refuse(exc: ConfigError) -> None:
    """Stop Hydra from a callback: one line, exit 2.

    Hydra turns an exception raised in a callback into a warning and carries on, so a
    callback stops the run with ``SystemExit``, which Hydra lets through.
    """
    from sim.cli import traceback_wanted

    if traceback_wanted():
        import traceback

        traceback.print_exception(exc)
    print(f"configuration error: {exc}", file=sys.stderr)
    raise SystemExit(2)


class RunFolders(Callback):  # type: ignore[misc]
    """Hydra callback applying the folder rules of this module."""

    def on_run_start(self, config: Any, **kwargs: Any) -> None:
        from sim.build import check
        from sim.levers import apply_levers
        from sim.preflight import check_memory
        from sim.usage import apply_usage

        try:
            task = apply_usage(apply_levers(_task_config(config)))
            check(task)
            check_memory(task)
            folder = Path(str(config.hydra.run.dir))
            refuse_finished(folder, "hydra.run.dir")
            ensure_writable(folder, "hydra.run.dir")
        except ConfigError as exc:
            _refuse(exc)

    def on_multirun_start(self, config: Any, **kwargs: Any) -> None:
        folder = Path(str(config.hydra.sweep.dir))
        try:
            if (folder / SWEEP_MARK).exists():
                from sim.sweep import recorded

                earlier = (recorded(folder) or ([], {}))[0]
                now = [str(o) for o in config.hydra.overrides.task]
                if earlier != now:
                    raise ConfigError(
                        f"hydra.sweep.dir={str(folder)!r} already holds another sweep "
                        f"({' '.join(earlier) or 'no overrides'}); a sweep never overwrites "
                        "another: choose a new folder with hydra.sweep.dir=PATH, or repeat "
                        "that sweep's overrides exactly to resume it",
                        key="hydra.sweep.dir",
                    )
                finished = sum(1 for _ in folder.glob(f"*/{SUMMARY}"))
                print(
                    f"sweep: resuming in {folder}: {finished} job(s) finished earlier are "
                    "kept, the others run",
                    file=sys.stderr,
                )
            elif any(folder.glob(f"*/{SUMMARY}")):
                raise ConfigError(
                    f"hydra.sweep.dir={str(folder)!r} already holds finished runs; a sweep "
                    "never overwrites them: choose a new folder with hydra.sweep.dir=PATH",
                    key="hydra.sweep.dir",
                )
            ensure_writable(folder, "hydra.sweep.dir")
        except ConfigError as exc:
            _refuse(exc)
        global _active_sweep
        _active_sweep = folder

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        global _active_sweep
        _active_sweep = None
        if finish_sweep(Path(str(config.hydra.sweep.dir))):
            sys.exit(1)


_active_sweep: Path | None = None  # the sweep this process launched, until it ends


def active_sweep() -> Path | None:
    """The folder of a sweep this process started and has not finished (else None)."""
    return _active_sweep


def finish_sweep(folder: Path) -> int:
    """Write the manifest and report the jobs that did not finish; 1 if any, else 0."""
    from sim.sweep import write_manifest

    try:
        done, failed = _report(write_manifest(folder, SUMMARY, ERROR))
    except OSError as exc:  # the results are in the job folders either way
        print(f"sweep: could not write the manifest ({exc})", file=sys.stderr)
        done, failed = sweep_report(folder)
    total = done + len(failed)
    if not total:
        print(f"\nsweep: no job ran; nothing in {folder}", file=sys.stderr)
        return 1
    if not failed:
        print(f"\nsweep: all {total} jobs finished; results in {folder}", file=sys.stderr)
        return 0
    print(
        f"\nsweep: {len(failed)} of {total} jobs failed (results of the others are in "
        f"{folder}):\n" + "\n".join(failed) + "\nrun the same command with "
        f"hydra.sweep.dir={folder} to run those again and keep the others",
        file=sys.stderr,
    )
    return 1
