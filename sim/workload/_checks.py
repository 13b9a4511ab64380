"""Argument checks shared by the workload constructors (messages name the argument)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def check_rng(rng: object) -> np.random.Generator:
    """``rng`` itself, if it is a ``np.random.Generator``."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def check_positive(name: str, value: float, *, allow_inf: bool = False) -> float:
    """``value`` as a float, if it is > 0 (and finite unless ``allow_inf``)."""
    v = float(value)
    if not v > 0 or (math.isinf(v) and not allow_inf):
        raise ValueError(f"{name}={value!r} must be > 0" + ("" if allow_inf else " and finite"))
    return v


def check_non_negative(name: str, value: float) -> float:
    """``value`` as a float, if it is finite and >= 0."""
    v = float(value)
    if not (v >= 0 and math.isfinite(v)):
        raise ValueError(f"{name}={value!r} must be >= 0 and finite")
    return v


def check_profile(name: str, values: Sequence[float], length: int | None = None) -> np.ndarray:
    """A float64 array of non-negative finite values with a positive sum."""
    a = np.asarray(values, dtype=np.float64)
    if a.ndim != 1 or (length is not None and a.shape[0] != length):
        want = f"{length} values" if length is not None else "a flat list"
        raise ValueError(f"{name} must be {want}, got {list(np.ravel(a))!r}")
    if a.shape[0] == 0 or not np.all(np.isfinite(a)) or np.any(a < 0) or not a.sum() > 0:
        raise ValueError(f"{name}={a.tolist()!r} must be finite, >= 0, and not all zero")
    return a


def check_block_size(block_size: int) -> int:
    """``block_size`` as an int, if it is >= 1."""
    if int(block_size) != block_size or block_size < 1:
        raise ValueError(f"block_size={block_size!r} must be an integer >= 1")
    return int(block_size)
