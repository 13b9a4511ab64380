"""The jobs of a sweep, read back from its folders: overrides, summary, and what went wrong.

A *job* is any folder under the sweep folder, at any depth, that holds
``.hydra/overrides.yaml`` (Hydra wrote it when the job started), ``summary.json`` (the
run finished; :mod:`sim.outputs` writes it last) or ``error.json`` (the job failed;
:func:`sim.runfolder.write_error`). Folder names are never parsed: a job's overrides
come from ``.hydra/overrides.yaml`` (or, failing that, from ``error.json``), and the
swept keys from the sweep's ``multirun.yaml`` (Hydra's record of the command line) plus
any key whose value differs between jobs. A finished job whose overrides do not name a
swept key (its ``.hydra/`` was not copied) takes the value from the resolved config in
its ``summary.json``.

Each job ends in one of four states:

* ``finished`` — ``summary.json`` parsed;
* ``failed`` — ``error.json`` and no summary; its one-line error is kept;
* ``unreadable`` — a ``summary.json`` that is not a complete JSON object (truncated,
  hand-edited) or lacks the keys the report needs;
* ``incomplete`` — overrides but neither file: killed, out of time, or still running.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.checks import ConfigError
from sim.runfolder import ERROR, SUMMARY

OVERRIDES = Path(".hydra") / "overrides.yaml"
FINISHED, FAILED, INCOMPLETE, UNREADABLE = "finished", "failed", "incomplete", "unreadable"
REQUIRED = ("requests", "measured_s", "cost_usd", "monthly_cost_usd")  # keys a row needs


@dataclass
class Job:
    """One job folder of a sweep and what it holds."""

    folder: Path
    rel: str  # the folder relative to the sweep folder ("." for the sweep folder itself)
    overrides: dict[str, str] = field(default_factory=dict)  # key -> value as typed
    status: str = INCOMPLETE
    summary: dict[str, Any] | None = None
    problem: str | None = None  # the error line, or why the summary is unreadable

    def override_text(self) -> str:
        """``key=value key=value`` as on the command line."""
        return " ".join(f"{k}={v}" for k, v in self.overrides.items())


@dataclass
class Sweep:
    """Every job found under ``root``, with the keys the sweep varied."""

    root: Path
    jobs: list[Job]
    swept: list[str]  # in command-line order

    def having(self, status: str) -> list[Job]:
        return [j for j in self.jobs if j.status == status]

    @property
    def finished(self) -> list[Job]:
        return self.having(FINISHED)


def find_job_folders(root: Path) -> list[Path]:
    """Folders under ``root`` (itself included, any depth) that hold a job's files.

    Hidden folders (``.hydra``) are not descended into, symlinks are not followed.
    """
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        here = Path(folder)
        if SUMMARY in files or ERROR in files or (here / OVERRIDES).is_file():
            found.append(here)
    return found


def split_override(text: str) -> tuple[str, str]:
    """``'+workload.users=5'`` -> ``('workload.users', '5')``; a bare ``~key`` -> ``(key, '')``.

    The key is what Hydra's parser calls ``key_or_group``: without ``+``/``++``/``~`` and
    without a ``@package``.
    """
    key, _, value = str(text).partition("=")
    return key.strip().lstrip("+~").split("@", 1)[0], value.strip()


def _load_yaml(path: Path) -> Any:
    import yaml

    return yaml.safe_load(path.read_text())


def read_overrides(folder: Path) -> dict[str, str] | None:
    """The job's overrides from ``.hydra/overrides.yaml``; None if absent or unreadable."""
    import yaml

    try:
        items = _load_yaml(folder / OVERRIDES)
    except (OSError, yaml.YAMLError):
        return None
    if not isinstance(items, list):
        return None
    return dict(split_override(item) for item in items)


def _read_json(path: Path) -> tuple[Any, str | None]:
    """``(object, None)`` or ``(None, why it cannot be read)``."""
    try:
        text = path.read_text()
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror or exc})"
    try:
        return json.loads(text), None
    except ValueError as exc:
        size = f"{len(text.encode()):,} bytes"
        return None, f"is not valid JSON ({size}; truncated?): {exc}"


def read_job(root: Path, folder: Path) -> Job:
    """What ``folder`` holds: overrides, and a summary, an error or nothing."""
    rel = folder.relative_to(root).as_posix()
    job = Job(folder=folder, rel=rel, overrides=read_overrides(folder) or {})
    if (folder / SUMMARY).exists():
        summary, why = _read_json(folder / SUMMARY)
        if why is None and not isinstance(summary, dict):
            why = "is not a JSON object"
        if why is None:
            missing = [k for k in REQUIRED if k not in summary]
            if missing:
                why = "lacks " + ", ".join(missing)
        if why is None:
            job.status, job.summary = FINISHED, summary
        else:
            job.status, job.problem = UNREADABLE, f"{folder / SUMMARY} {why}"
        return job
    if (folder / ERROR).exists():
        record, why = _read_json(folder / ERROR)
        job.status = FAILED
        if isinstance(record, dict):
            job.problem = str(record.get("error", "(error.json holds no error line)"))
            if not job.overrides and isinstance(record.get("overrides"), list):
                job.overrides = dict(split_override(o) for o in record["overrides"])
        else:
            job.problem = f"(the error is not known: {ERROR} {why or 'is not a JSON object'})"
        return job
    job.problem = "no summary.json or error.json: killed, out of time, or still running"
    return job


def sweep_overrides(root: Path) -> list[str]:
    """The task overrides of ``multirun.yaml`` (and ``hydra.sweeper.params``), as typed."""
    from sim.sweep import recorded

    record = recorded(root)  # None: absent (a single run, a copied folder) or not YAML
    if record is None:
        return []
    task, params = record
    return task + [f"{k}={v}" for k, v in params.items()]


def swept_in(overrides: list[str]) -> list[str]:
    """Keys that Hydra's override grammar reads as sweeps (``a=1,2``, ``range(...)``...)."""
    if not overrides:
        return []
    try:
        from hydra.core.override_parser.overrides_parser import OverridesParser

        parsed = OverridesParser.create().parse_overrides(overrides)
        return [o.key_or_group for o in parsed if o.is_sweep_override()]
    except Exception:  # a grammar Hydra no longer accepts: guess from the commas
        return [split_override(o)[0] for o in overrides if "," in o and "[" not in o]


def swept_keys(root: Path, jobs: list[Job]) -> list[str]:
    """What the sweep varied: its sweep overrides, then any key whose value differs."""
    keys = swept_in(sweep_overrides(root))
    values: dict[str, set[str]] = {}
    for job in jobs:
        for key in set(values) | set(job.overrides):
            values.setdefault(key, set()).add(job.overrides.get(key, ""))
    for job in jobs:  # in the order keys appear in the jobs
        for key in job.overrides:
            if key not in keys and len(values[key]) > 1:
                keys.append(key)
    return keys


def config_value(job: Job, key: str) -> str | None:
    """``key``'s value in the resolved config of a finished job's summary, as text."""
    node: Any = (job.summary or {}).get("config")
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    if isinstance(node, bool):
        return "true" if node else "false"
    return None if isinstance(node, (dict, list)) or node is None else str(node)


def natural(value: str) -> tuple[int, float, str]:
    """Sort key: numbers by value before other text."""
    try:
        return (0, float(value), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(value))


def load_sweep(root: Path | str) -> Sweep:
    """Every job under ``root``; :class:`ConfigError` if there is no such folder or job."""
    root = Path(root)
    if not root.exists():
        raise ConfigError(
            f"SWEEP_DIR={str(root)!r} does not exist; give the folder of a sweep "
            "(multirun/<id>) or of a run",
            key="SWEEP_DIR",
        )
    if not root.is_dir():
        raise ConfigError(
            f"SWEEP_DIR={str(root)!r} is not a folder; give the folder of a sweep "
            "(multirun/<id>) or of a run",
            key="SWEEP_DIR",
        )
    jobs = [read_job(root, f) for f in find_job_folders(root)]
    if not jobs:
        raise ConfigError(
            f"SWEEP_DIR={str(root)!r} holds no job: expected folders with "
            f"{OVERRIDES.as_posix()}, {SUMMARY} or {ERROR} (what python -m sim --multirun writes)",
            key="SWEEP_DIR",
        )
    swept = swept_keys(root, jobs)
    for job in jobs:  # a summary copied without its .hydra/: the value it ran with
        for key in swept:
            if key not in job.overrides and (value := config_value(job, key)) is not None:
                job.overrides[key] = value
    jobs.sort(key=lambda j: ([natural(j.overrides.get(k, "")) for k in swept], natural(j.rel)))
    return Sweep(root=root, jobs=jobs, swept=swept)
