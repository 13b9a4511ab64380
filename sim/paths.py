"""Where configs, scenarios and shipped data live, from a clone or an installed wheel."""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def _root(name: str) -> Path:
    installed = _PKG / "_data" / name  # a regular `pip install .` ships them here
    if installed.is_dir():
        return installed
    clone = _PKG.parent / name  # a clone / editable install
    if clone.is_dir():
        return clone
    raise FileNotFoundError(f"cannot find the {name}/ folder next to {_PKG} or in {_PKG / '_data'}")


def configs_dir() -> Path:
    return _root("configs")


def scenarios_dir() -> Path:
    return _root("scenarios")


def data_dir() -> Path:
    """Data files shipped inside the package (trace samples)."""
    return _PKG / "data"


def scenario_names() -> list[str]:
    return sorted(p.stem for p in scenarios_dir().glob("*.yaml"))
