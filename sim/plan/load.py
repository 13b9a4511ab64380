"""The load the planner's estimate sees: the scenario's own arrivals, counted in windows.

The scenario's arrival process is sampled on its own (the same
process and random stream as the run, so the very arrivals the confirmation run will
see) and counted in windows of ``window_s``: window ``w`` has rate ``λ_w`` and weight
``n_w`` (its arrivals after the warm-up). Windows of nearly equal rate (within 3 %) are
merged, keeping the highest rate of the group (conservative).

The token sizes the estimate averages over are the trace's own pairs, or ``PAIRS`` draws
of the workload's token sampler from the random stream ``plan.estimate.tokens``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

PAIRS = 4096  # token pairs the estimate averages over
RATE_GROUP = 1.03  # windows whose rates differ by less than 3 % are one group


@dataclass
class LoadProfile:
    """Arrival rate per group of windows and how many requests each group brought."""

    rates_rps: np.ndarray
    weights: np.ndarray
    window_s: float
    arrivals: int
    pairs: tuple[np.ndarray, np.ndarray] | None = None  # token sizes the arrivals carry

    @property
    def peak_rps(self) -> float:
        return float(self.rates_rps.max()) if len(self.rates_rps) else 0.0

    @property
    def mean_rps(self) -> float:
        total = float(self.weights.sum())
        return float(self.weights @ self.rates_rps) / total if total else 0.0


def group_windows(counts: np.ndarray, window_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Rates and weights of windows with arrivals, grouped on a 3 % log grid (max rate kept)."""
    counts = np.asarray(counts, dtype=float)
    busy = counts[counts > 0]
    if not len(busy):
        return np.zeros(0), np.zeros(0)
    rates = busy / window_s
    keys = np.floor(np.log(rates) / math.log(RATE_GROUP)).astype(np.int64)
    uniq, inv = np.unique(keys, return_inverse=True)
    peak = np.zeros(len(uniq))
    np.maximum.at(peak, inv, rates)
    weight = np.bincount(inv, weights=busy, minlength=len(uniq))
    return peak, weight


def load_profile(cfg: Any, window_s: float) -> LoadProfile:
    """Sample ``cfg``'s arrivals (same process and stream as its run) into windows."""
    from sim.build import build_arrivals
    from sim.engine.context import SimContext

    ctx = SimContext(seed=int(cfg.seed), horizon_s=float(cfg.horizon_s),
                     warmup_s=float(cfg.warmup_s), bucket_s=float(window_s))  # fmt: skip
    warm = float(cfg.warmup_s)
    n_windows = max(1, math.ceil((cfg.horizon_s - warm) / window_s))
    counts = np.zeros(n_windows)
    carried_p: list[np.ndarray] = []
    carried_o: list[np.ndarray] = []
    for block in build_arrivals(cfg, ctx).blocks():
        t = block.times_s[block.times_s >= warm]
        idx = np.minimum(((t - warm) // window_s).astype(np.int64), n_windows - 1)
        counts += np.bincount(idx, minlength=n_windows)[:n_windows]
        if block.prompt_tokens is not None and sum(len(x) for x in carried_p) < PAIRS:
            carried_p.append(block.prompt_tokens)
            carried_o.append(block.output_tokens)  # type: ignore[arg-type]
    rates, weights = group_windows(counts, window_s)
    pairs = None
    if carried_p:
        p = np.maximum(np.concatenate(carried_p)[:PAIRS], 1)
        o = np.maximum(np.concatenate(carried_o)[:PAIRS], 1)
        pairs = (p, o)
    return LoadProfile(rates, weights, float(window_s), int(counts.sum()), pairs)


def token_pairs(cfg: Any, profile: LoadProfile | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(prompt, output) sizes to average over: the trace's own, or the token sampler's
    (random stream ``plan.estimate.tokens``, so the same seed gives the same estimate)."""
    if profile is not None and profile.pairs is not None:
        return profile.pairs
    from sim.build import build_tokens
    from sim.engine.context import SimContext

    ctx = SimContext(seed=int(cfg.seed), horizon_s=1.0)
    p, o = build_tokens(cfg, ctx, stream="plan.estimate.tokens").sample(PAIRS)
    return np.maximum(np.asarray(p), 1), np.maximum(np.asarray(o), 1)
