"""Fit the step-time parameters of one hardware x precision to its calibration cases.

The parameters are those of :class:`~sim.catalogs.StepCalibration`: ``prefill_efficiency``
(MFU), ``decode_efficiency`` (MBU), ``step_overhead_s``, ``seq_overhead_s``, and
``allreduce_latency_s`` when the group has tensor-parallel cases. The fit
minimises the mean squared log error ``mean(log(simulated / published)²)`` over the
group's calibration cases plus a weak pull (:data:`PRIOR_WEIGHT`) towards
:data:`PRIOR`, so a parameter the group's cases do not pin down (no prefill-heavy case,
say) stays at a plausible value instead of wandering. The search is Nelder-Mead on the
parameters' logarithms: derivative-free (the simulated figures are piecewise smooth in
the parameters), deterministic, and it follows the narrow valleys where two parameters
trade off (decode bandwidth against per-step overhead at small batches).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sim.calibration.cases import Case
from sim.calibration.measure import simulate_case

# Where the search starts and what it is pulled towards: the uncalibrated efficiencies
# (sim/latency/roofline.py UNCALIBRATED) and overheads of a few milliseconds per step
# and tens of microseconds per sequence (vLLM v0.6.0 blog, 2024-09-05: for Llama 3 8B on
# one H100 only 38 % of the time was GPU work before the CPU-overhead fixes).
PRIOR = {
    "prefill_efficiency": 0.5,
    "decode_efficiency": 0.6,
    "step_overhead_s": 0.003,
    "seq_overhead_s": 30e-6,
    "allreduce_latency_s": 10e-6,  # SGLang PR #2904: ~9 us on H100 (configs/hardware)
}
PRIOR_WEIGHT = 0.002  # per parameter, against the mean squared log error
BOUNDS = {
    "prefill_efficiency": (0.05, 1.0),
    "decode_efficiency": (0.05, 1.0),
    "step_overhead_s": (1e-5, 0.1),
    "seq_overhead_s": (1e-7, 1e-3),
    "allreduce_latency_s": (1e-6, 3e-4),
}


@dataclass
class Fit:
    """The fitted parameters of one group and how well they match its cases."""

    group: tuple[str, str]
    params: dict[str, float]
    cases: list[Case]
    rms_log_error: float
    evaluations: int


def loss(
    cases: Sequence[Case], params: dict[str, float], prior: dict[str, float] | None = None
) -> float:
    """Mean squared log error over ``cases`` plus the pull towards ``prior`` (see module)."""
    prior = prior or PRIOR
    err = 0.0
    for c in cases:
        sim = simulate_case(c, params)
        err += math.log(sim / c.value) ** 2
    err /= max(len(cases), 1)
    pull = sum(math.log(params[k] / prior[k]) ** 2 for k in params)
    return err + PRIOR_WEIGHT * pull


def _clamp(k: str, x: float) -> float:
    lo, hi = BOUNDS[k]
    return min(hi, max(lo, x))


def pattern_search(
    f: Callable[[dict[str, float]], float],
    start: dict[str, float],
    *,
    step: float = 0.4,
    tol: float = 1e-7,
    max_evals: int = 600,
) -> tuple[dict[str, float], float, int]:
    """Minimise ``f`` over positive parameters within :data:`BOUNDS` (see module).

    Nelder-Mead on the logarithms of the parameters (a simplex of n+1 points that
    reflects, expands, contracts and shrinks), each point clamped to its bounds with a
    steep penalty for the distance beyond them; the
    first simplex steps ``step`` in log space along each parameter. Stops when the
    simplex's values agree within ``tol`` or after ``max_evals`` evaluations.
    """
    keys = list(start)
    n = len(keys)

    def at(x: list[float]) -> dict[str, float]:
        return {k: _clamp(k, math.exp(v)) for k, v in zip(keys, x, strict=True)}

    evals = 0

    logb = {k: (math.log(BOUNDS[k][0]), math.log(BOUNDS[k][1])) for k in keys}

    def g(x: list[float]) -> float:
        nonlocal evals
        evals += 1
        # outside a bound: the value at the bound plus a steep wall, so the simplex is
        # pushed back in instead of collapsing on a flat, clamped region
        wall = 0.0
        for k, v in zip(keys, x, strict=True):
            lo, hi = logb[k]
            wall += max(lo - v, 0.0, v - hi) ** 2
        return f(at(x)) + 10.0 * wall

    x0 = [math.log(start[k]) for k in keys]
    simplex = [x0] + [[v + (step if i == j else 0.0) for j, v in enumerate(x0)] for i in range(n)]
    values = [g(x) for x in simplex]
    while evals < max_evals:
        order = sorted(range(n + 1), key=values.__getitem__)
        simplex = [simplex[i] for i in order]
        values = [values[i] for i in order]
        if values[-1] - values[0] <= tol:
            break
        centroid = [sum(x[j] for x in simplex[:-1]) / n for j in range(n)]
        worst = simplex[-1]
        refl = [c + (c - w) for c, w in zip(centroid, worst, strict=True)]
        fr = g(refl)
        if fr < values[0]:
            exp_ = [c + 2 * (c - w) for c, w in zip(centroid, worst, strict=True)]
            fe = g(exp_)
            simplex[-1], values[-1] = (exp_, fe) if fe < fr else (refl, fr)
        elif fr < values[-2]:
            simplex[-1], values[-1] = refl, fr
        else:
            con = [c + 0.5 * (w - c) for c, w in zip(centroid, worst, strict=True)]
            fc = g(con)
            if fc < values[-1]:
                simplex[-1], values[-1] = con, fc
            else:  # shrink towards the best point
                best = simplex[0]
                simplex = [best] + [
                    [b + 0.5 * (v - b) for b, v in zip(best, x, strict=True)] for x in simplex[1:]
                ]
                values = [values[0]] + [g(x) for x in simplex[1:]]
    i = min(range(n + 1), key=values.__getitem__)
    return at(simplex[i]), values[i], evals


def fit_group(cases: Sequence[Case], prior: dict[str, float] | None = None) -> Fit:
    """Fit one hardware x precision to its calibration ``cases`` (one group only).

    ``prior`` (default :data:`PRIOR`) is where the search starts and what it is pulled
    towards.
    """
    groups = {c.group for c in cases}
    if len(groups) != 1:
        raise ValueError(f"fit_group needs the cases of one group, got {sorted(groups)}")
    if any(c.set != "calibration" for c in cases):
        raise ValueError("fit_group fits calibration cases only")
    base = prior or {}
    prior = {**PRIOR, **base}
    start = dict(prior)
    if all(c.tp == 1 for c in cases):  # nothing to learn the all-reduce from: keep the catalog's
        del start["allreduce_latency_s"]
    params, _, evals = pattern_search(lambda p: loss(cases, p, prior), start)
    if "allreduce_latency_s" not in params and "allreduce_latency_s" in base:
        params["allreduce_latency_s"] = base["allreduce_latency_s"]  # kept from its base fit
    rms = math.sqrt(
        sum(math.log(simulate_case(c, params) / c.value) ** 2 for c in cases) / len(cases)
    )
    return Fit(groups.pop(), params, list(cases), rms, evals)


def fit_all(cases: Sequence[Case]) -> list[Fit]:
    """One :class:`Fit` per hardware x precision that has calibration cases.

    fp16 groups are fitted first; another precision of the same hardware starts from,
    and is pulled towards, its fp16 fit (an FP8 deployment runs the same engine on the
    same device: only what its cases show should move).
    """
    by_group: dict[tuple[str, str], list[Case]] = {}
    for c in cases:
        if c.set == "calibration":
            by_group.setdefault(c.group, []).append(c)
    order = sorted(by_group, key=lambda g: (g[1] != "fp16", g))
    fits: dict[tuple[str, str], Fit] = {}
    for g in order:
        base = fits.get((g[0], "fp16"))
        fits[g] = fit_group(by_group[g], base.params if base else None)
    return [fits[g] for g in sorted(fits)]
