"""Sweep folders people can read: jobs named by their swept values, and a manifest.

* ``${job_dir:}`` (the sweep's ``subdir`` in ``configs/config.yaml``) names each job's
  folder by the values it sweeps, ``users=1000`` or ``scenario=demo,cache=exact``: the
  keys swept on the command line (``a=1,2``, ``range(...)``, ``choice(...)``) or by a
  preset (``hydra.sweeper.params``), each by its last part unless two share it. Keys a
  job sets but does not sweep stay out of the name. A job that sweeps nothing, or whose
  name is taken by an earlier job of the sweep (a value listed twice), is named
  ``<num>_<scenario>`` or gets ``_<num>`` added.
* :func:`write_manifest` writes ``manifest.json`` at the end of a sweep: the command's
  overrides, the swept keys, and per job its number, folder, overrides and status
  (``finished``, ``failed`` with the error, or ``missing``). The jobs are those the
  sweep's overrides expand to (so a job a cluster never started is listed too) and any
  other job folder found.

Folder names keep to characters every file system takes: ``/`` and other separators in
values become ``_``, and a name longer than 200 characters is cut and ends in its job
number.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
SWEEP_FILE = "multirun.yaml"
_UNSAFE = re.compile(r"[^A-Za-z0-9=,._+\-\[\]]")
_MAX = 200


def _key(override: str) -> str:
    """The config key an override sets (``+a.b=1`` -> ``a.b``)."""
    return override.split("=", 1)[0].lstrip("+~")


def _swept_in(overrides: list[str]) -> list[str]:
    """Keys of the overrides that sweep (Hydra's own parser decides)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception:  # noqa: BLE001 - a malformed override was reported by Hydra already
        return []
    return [o.key_or_group for o in parsed if o.is_sweep_override()]


def recorded(sweep_dir: Path) -> tuple[list[str], dict[str, Any]] | None:
    """The sweep Hydra recorded in ``multirun.yaml``: its command-line (task) overrides
    and its preset's ``hydra.sweeper.params``; None when there is no readable record."""
    from omegaconf import OmegaConf

    try:
        saved = OmegaConf.load(sweep_dir / SWEEP_FILE)
        task = [str(t) for t in OmegaConf.select(saved, "hydra.overrides.task", default=[]) or []]
        params = dict(OmegaConf.select(saved, "hydra.sweeper.params", default=None) or {})
    except Exception:  # noqa: BLE001 - absent, not YAML, or not Hydra's layout
        return None
    return task, params


def swept_keys(sweep_dir: Path, params: Any = None) -> list[str]:
    """The keys a sweep varies: command-line sweeps (from ``multirun.yaml``) and presets."""
    keys: list[str] = []
    record = recorded(sweep_dir)
    if record is not None:
        task, saved_params = record
        keys += _swept_in(task)
        if params is None and saved_params:
            params = saved_params
    for k in dict(params or {}):
        keys.append(str(k))
    return list(dict.fromkeys(k.lstrip("+~") for k in keys))


def _labels(keys: list[str]) -> dict[str, str]:
    """Each key by its last part (``workload.users`` -> ``users``) unless two share it."""
    last = [k.rsplit(".", 1)[-1] for k in keys]
    return {k: (s if last.count(s) == 1 else k) for k, s in zip(keys, last)}


def dirname(overrides: list[str], swept: list[str], num: int, scenario: str) -> str:
    """The folder name of one job (see the module docstring)."""
    labels = _labels(swept)
    pairs = []
    for o in overrides:
        k = _key(o)
        if k in labels and "=" in o:
            pairs.append(f"{labels[k]}={o.split('=', 1)[1]}")
    name = _UNSAFE.sub("_", ",".join(pairs))
    if not name:
        return f"{num}_{_UNSAFE.sub('_', scenario)}"
    if len(name) > _MAX:
        name = f"{name[: _MAX - 12]}.._{num}"
    return name


def job_dir() -> str:
    """Resolver ``${job_dir:}``: this job's folder name, from Hydra's runtime config."""
    from hydra.core.hydra_config import HydraConfig

    hc = HydraConfig.get()
    sweep_dir = Path(str(hc.sweep.dir))
    num = int(hc.job.num)
    overrides = [str(o) for o in hc.overrides.task]
    scenario = next((o.split("=", 1)[1] for o in overrides if _key(o) == "scenario"), "")
    name = dirname(overrides, swept_keys(sweep_dir, hc.sweeper.params), num, scenario or "job")
    taken = _job_num(sweep_dir / name)
    if taken is not None and taken != num:  # a value listed twice in the sweep
        name = f"{name}_{num}"
    return name


def _job_num(folder: Path) -> int | None:
    """The job number Hydra recorded in a job folder, if it holds one."""
    try:
        text = (folder / ".hydra" / "hydra.yaml").read_text()
    except OSError:
        return None
    m = re.search(r"^    num: (\d+)$", text, flags=re.M)
    return int(m.group(1)) if m else None


def _job_overrides(folder: Path) -> list[str]:
    try:
        text = (folder / ".hydra" / "overrides.yaml").read_text()
    except OSError:
        return []
    return [line[2:].strip() for line in text.splitlines() if line.startswith("- ")]


def jobs(sweep_dir: Path) -> list[Path]:
    """Job folders of a sweep (those Hydra wrote a ``.hydra/`` into), in job order."""
    found = {p.parent for p in sweep_dir.glob("*/.hydra")} | {
        p.parent for p in sweep_dir.glob("*/*/.hydra")
    }
    return sorted(found, key=lambda p: (_job_num(p) is None, _job_num(p) or 0, str(p)))


def expected_jobs(sweep_dir: Path) -> list[list[str]] | None:
    """Every job's overrides, as Hydra's basic sweeper expands the sweep recorded in
    ``multirun.yaml`` (preset params first, then the command line); None if unknown."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    record = recorded(sweep_dir)
    if record is None:
        return None
    task, params = record
    try:
        parsed = OverridesParser.create().parse_overrides(
            [f"{k}={v}" for k, v in params.items()] + task
        )
        (batch,) = BasicSweeper.split_arguments(parsed, None)
    except Exception:  # noqa: BLE001 - another sweeper's syntax: fall back to the folders
        return None
    return [list(job) for job in batch]


def job_table(sweep_dir: Path, summary: str, error: str) -> list[dict[str, Any]]:
    """One entry per job of the sweep: the jobs expected from its overrides (so that a
    job that never started is listed) and every job folder found, with its status."""
    swept = swept_keys(sweep_dir)
    folders = jobs(sweep_dir)
    by_num = {n: f for f in folders if (n := _job_num(f)) is not None}
    entries: list[dict[str, Any]] = []
    expected = expected_jobs(sweep_dir) or []
    seen: set[Path] = set()
    for num, overrides in enumerate(expected):
        folder = by_num.get(num)
        scenario = next((o.split("=", 1)[1] for o in overrides if _key(o) == "scenario"), "job")
        name = folder.name if folder else dirname(overrides, swept, num, scenario)
        entries.append(_entry(sweep_dir, folder, num, name, overrides, summary, error))
        if folder is not None:
            seen.add(folder)
    for folder in folders:
        if folder not in seen:
            rel = str(folder.relative_to(sweep_dir))
            overrides = _job_overrides(folder)
            entries.append(
                _entry(sweep_dir, folder, _job_num(folder), rel, overrides, summary, error)
            )
    return entries


def _entry(
    sweep_dir: Path,
    folder: Path | None,
    num: int | None,
    name: str,
    overrides: list[str],
    summary: str,
    error: str,
) -> dict[str, Any]:
    entry: dict[str, Any] = {"num": num, "dir": name, "overrides": overrides}
    if folder is not None and (folder / summary).exists():
        entry["status"] = "finished"
    elif folder is not None and (folder / error).exists():
        entry["status"] = "failed"
        try:
            entry["error"] = json.loads((folder / error).read_text())["error"]
        except (OSError, ValueError, KeyError):
            entry["error"] = None
    else:
        entry["status"] = "missing"
        entry["error"] = (
            "no result: the job did not finish (killed, out of time, or still running)"
            if folder is not None
            else "no result: the job never started (its folder does not exist)"
        )
    return entry


def write_manifest(sweep_dir: Path, summary: str, error: str) -> list[dict[str, Any]]:
    """``manifest.json``: the sweep's overrides, swept keys and every job's status;
    returns the jobs' entries."""
    from sim.outputs import atomic_write_text

    task = (recorded(sweep_dir) or ([], {}))[0]
    entries = job_table(sweep_dir, summary, error)
    manifest = {
        "sweep_dir": str(sweep_dir),
        "overrides": task,
        "swept": swept_keys(sweep_dir),
        "jobs": entries,
    }
    atomic_write_text(sweep_dir / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return entries
