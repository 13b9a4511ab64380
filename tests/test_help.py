"""What the user reads runs: every example of ``--help`` and of the README, with a short horizon."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sim.helptext import EXAMPLES, help_text

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands() -> list[str]:
    """Every ``python -m sim ...`` line inside a ``bash``/``sh``/plain code block of the
    README (``console`` blocks show output and long sweeps; they are not run)."""
    commands = []
    lang = None  # the language of the open code block, None outside one
    for raw in (ROOT / "README.md").read_text().splitlines():
        if raw.startswith("```"):
            lang = raw[3:].strip() if lang is None else None
            continue
        if lang not in ("", "bash", "sh"):
            continue
        line = raw.split("  #")[0].strip()
        if line.startswith(("python -m sim ", "python -m sim.plan ")) or line == "python -m sim":
            commands.append(line)
        elif "&& python -m sim" in line:  # the install line
            commands.append("python -m sim" + line.split("&& python -m sim", 1)[1])
    return commands


def _short(command: str, folder: Path) -> list[str]:
    """The command's arguments with horizon_s capped (10 s at a million users, else 1 h)."""
    args = shlex.split(command)[3:]  # drop "python -m sim"
    big = any(
        re.fullmatch(r"workload\.users=(\d+)", a) and int(a.split("=")[1]) >= 100_000 for a in args
    )
    warmup = [float(a.split("=")[1]) for a in args if a.startswith("warmup_s=")]
    cap = (10.0 if big else 3600.0) + (warmup[0] if warmup else 0.0)
    out, seen = [], False
    for a in args:
        if a.startswith("horizon_s="):
            seen = True
            a = f"horizon_s={min(float(a.split('=')[1]), cap):g}"
        out.append(a)
    if not seen and "--cfg" not in args:
        out.append(f"horizon_s={cap:g}")
    sweep = "--multirun" in out
    cfg = out[out.index("--cfg") : out.index("--cfg") + 2] if "--cfg" in out else []
    overrides = [a for a in out if a != "--multirun" and a not in cfg]
    key = "hydra.sweep.dir" if sweep else "hydra.run.dir"
    extra = ["progress=false", f"{key}={folder}"]
    return ["--multirun"] * sweep + overrides + extra + cfg


def _module(command: str) -> str:
    """``sim`` or another entry point of the package (``sim.plan``)."""
    return shlex.split(command)[2]


def _run(command: str, folder: Path) -> tuple[str, subprocess.CompletedProcess]:
    if _module(command) == "sim.plan":  # the planner runs as written, into the folder
        args = [*shlex.split(command)[3:], f"plan.out={folder}"]
    else:
        args = _short(command, folder)
    out = subprocess.run(
        [sys.executable, "-m", _module(command), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    return command, out


def test_help_lists_scenarios_catalogs_and_examples():
    out = subprocess.run(
        [sys.executable, "-m", "sim", "--help"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0
    text = out.stdout
    for needle in (
        "copilot_like",
        "demo",
        "a100_80gb_sxm_2023",
        "h100_sxm_80gb_2023",
        "starcoder_15b",
        "llama3_70b",
        "gpt_4o_mini",
        "claude_3_5_sonnet",
        "workload.users",
    ):
        assert needle in text, needle
    for command, _ in EXAMPLES:
        assert command in text
    assert text == help_text() + "\n"


def test_every_example_runs(tmp_path):
    commands = list(dict.fromkeys([c for c, _ in EXAMPLES] + _readme_commands()))
    assert len(_readme_commands()) >= 8  # the README's examples were found
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(
            pool.map(lambda ic: _run(ic[1], tmp_path / f"ex{ic[0]}"), enumerate(commands))
        )
    failed = [
        (cmd, out.returncode, out.stderr[-800:]) for cmd, out in results if out.returncode != 0
    ]
    assert not failed, failed
    for i, (cmd, _) in enumerate(results):
        if "--cfg" in cmd:
            continue
        if _module(cmd) == "sim.plan":
            assert (tmp_path / f"ex{i}" / "plan.json").is_file(), cmd
            continue
        found = list((tmp_path / f"ex{i}").rglob("summary.json"))
        assert found, cmd
        if "--multirun" in cmd:
            assert len(found) == cmd.split("workload.users=")[1].split()[0].count(",") + 1


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_needs_no_scenario(flag):
    out = subprocess.run(
        [sys.executable, "-m", "sim", flag], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and "Usage" in out.stdout and not out.stderr
