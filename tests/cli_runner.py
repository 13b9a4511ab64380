"""Run the real command line in a subprocess (shared by the CLI tests)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def run_cli(
    args: list[str], cwd: Path | None = None, timeout: float = 180, **kw
) -> subprocess.CompletedProcess:
    """``python -m sim ARGS`` with captured text output."""
    return subprocess.run(
        [sys.executable, "-m", "sim", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        **kw,
    )


def lines(text: str) -> list[str]:
    """The non-blank lines of ``text``."""
    return [line for line in text.splitlines() if line.strip()]
