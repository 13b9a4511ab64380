"""Replications: runs that differ only in ``seed``, their mean and 95 % confidence interval.

When a sweep varies ``seed`` (``seed=0,1,2`` crossed with users, a usage ladder, levers)
the runs that share every other swept value are replications of one *configuration*.
``report.csv`` keeps one row per run; ``report_mean.csv`` has one row per configuration:
its swept values, ``n`` (runs that finished), the ``seeds``, and for each figure of
:data:`MEAN_COLUMNS` the mean (``NAME_mean``) and the half-width of a 95 % confidence
interval for it (``NAME_ci95``: the interval is mean ± ci95). The interval is Student's:
``t(0.975, n − 1) × s / √n`` with ``s`` the sample standard deviation across seeds. It
needs ``n ≥ 2`` (an empty cell otherwise); a figure some runs lack (quality without a
completed request, time to first token without tokens) is averaged over the runs that
have it, and its interval uses their number. A latency percentile's mean is the mean
of each run's percentile (what a reader of one run would see), not the percentile of
the pooled requests.

The plots draw a configuration through a :class:`MeanJob`: a :class:`Job` whose summary
holds the means, in the shape :mod:`sim.report.plots` reads, so that every figure draws
means the way it draws runs, and shades ``half_width`` around them.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from dataclasses import dataclass, field
from typing import Any

from sim.costs.layers import LAYERS
from sim.report.sweep import Job, Sweep, natural
from sim.report.table import FIGURES, LAYER_COLUMN, SEED, Layout, cell, monthly_by_layer

# Two-sided 95 % critical values t(0.975, df) of Student's t distribution for df = 1..30,
# as printed (3 decimals) in the NIST/SEMATECH e-Handbook of Statistical Methods,
# section 1.3.6.7.2 "Critical Values of the Student's t Distribution", column 0.025.
T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip
Z975 = 1.959963984540054  # the standard normal's 0.975 quantile


def t975(df: int) -> float:
    """Student's t 0.975 quantile with ``df`` degrees of freedom (two-sided 95 %).

    The table above up to 30; beyond, the Cornish–Fisher expansion of Abramowitz &
    Stegun, *Handbook of Mathematical Functions* (1964), 26.7.5, in powers of 1/df (four
    terms: within 1e-4 of the exact value from df = 30 on, where the table ends).
    """
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, not {df}")
    if df <= len(T975):
        return T975[df - 1]
    x = Z975
    g1 = (x**3 + x) / 4
    g2 = (5 * x**5 + 16 * x**3 + 3 * x) / 96
    g3 = (3 * x**7 + 19 * x**5 + 17 * x**3 - 15 * x) / 384
    g4 = (79 * x**9 + 776 * x**7 + 1482 * x**5 - 1920 * x**3 - 945 * x) / 92160
    return x + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


def mean_ci(values: list[float]) -> tuple[float | None, float | None]:
    """``(mean, half-width of its 95 % CI)``; the half-width is None below two values."""
    if not values:
        return None, None
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, None
    sd = statistics.stdev(values)
    if sd <= 1e-12 * max(abs(v) for v in values):  # equal but for rounding in the last bit
        sd = 0.0
    return mean, t975(len(values) - 1) * sd / math.sqrt(len(values))


# -- the figures averaged over seeds -----------------------------------------------------------
PER_RUN = (
    "requests_per_day",
    "users",
    "monthly_cost_usd",
    "cost_per_request_usd",
    "cost_per_1k_requests_usd",
    "cost_per_user_month_usd",
    "latency_p50_s",
    "latency_p95_s",
    "latency_p99_s",
    "ttft_p50_s",
    "ttft_p95_s",
    "quality_acceptable_share",
)
MEAN_COLUMNS = (*PER_RUN, *(LAYER_COLUMN.format(ly) for ly in LAYERS))
_READ = dict(FIGURES)


def figures_of(job: Job) -> dict[str, float | None]:
    """The figures of :data:`MEAN_COLUMNS` of one run (None where it has none)."""
    s = job.summary or {}
    out: dict[str, float | None] = {}
    for name in PER_RUN:
        value = _READ[name](s)
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        out[name] = float(value) if ok and math.isfinite(value) else None
    out.update({LAYER_COLUMN.format(k): v for k, v in monthly_by_layer(s).items()})
    return out


@dataclass
class MeanJob(Job):
    """The mean of a configuration's runs, drawn like a run (see the module docstring)."""

    runs: list[Job] = field(default_factory=list)
    means: dict[str, float | None] = field(default_factory=dict)
    half_width: dict[str, float | None] = field(default_factory=dict)

    def interval(self, column: str) -> tuple[float, float] | None:
        """``(low, high)`` of the figure's 95 % CI; None without one."""
        mean, hw = self.means.get(column), self.half_width.get(column)
        return None if mean is None or hw is None else (mean - hw, mean + hw)


def _mean_summary(runs: list[Job], means: dict[str, float | None]) -> dict[str, Any]:
    """A summary holding the means, in the keys the plots and the table read."""
    first = runs[0].summary or {}
    measured = float(first.get("measured_s") or 0.0)
    day = means["requests_per_day"]
    arrived = day * measured / 86400.0 if day is not None and measured else None
    monthly = means["monthly_cost_usd"]
    has = {key: any((r.summary or {}).get(key) for r in runs) for key in ("ttft_s", "quality")}

    def block(prefix: str) -> dict[str, Any]:
        out: dict[str, Any] = {p: means.get(f"{prefix}_{p}_s") for p in ("p50", "p95", "p99")}
        out["n"] = sum(((r.summary or {}).get(f"{prefix}_s") or {}).get("n") or 0 for r in runs)
        return out

    notes = dict.fromkeys(n for r in runs for n in (r.summary or {}).get("notes") or [])
    return {
        "scenario": first.get("scenario"),
        "measured_s": measured,
        "requests": {"arrived": arrived},
        "users": means["users"],
        "cost_usd": {
            "total": monthly,  # a month: monthly_by_layer then gives the layer means
            "by_layer": {ly: means[LAYER_COLUMN.format(ly)] for ly in LAYERS},
        },
        "monthly_cost_usd": monthly,
        "cost_per_request_usd": means["cost_per_request_usd"],
        "cost_per_1k_requests_usd": means["cost_per_1k_requests_usd"],
        "cost_per_user_month_usd": means["cost_per_user_month_usd"],
        "latency_s": block("latency"),
        "ttft_s": block("ttft") if has["ttft_s"] else None,
        "quality": {"acceptable_share": means["quality_acceptable_share"]}
        if has["quality"]
        else None,
        "notes": list(notes),
    }


def mean_job(runs: list[Job], keys: list[str]) -> MeanJob:
    """The configuration of ``runs`` (their values of ``keys``), averaged over its seeds."""
    per_run = [figures_of(r) for r in runs]
    means, hws = {}, {}
    for column in MEAN_COLUMNS:
        means[column], hws[column] = mean_ci([f[column] for f in per_run if f[column] is not None])
    overrides = {k: runs[0].overrides[k] for k in keys if k in runs[0].overrides}
    seeds = ",".join(r.overrides.get(SEED, "?") for r in runs)
    return MeanJob(
        folder=runs[0].folder.parent,
        rel=f"mean of {SEED}={seeds}",
        overrides=overrides,
        status=runs[0].status,
        summary=_mean_summary(runs, means),
        runs=runs,
        means=means,
        half_width=hws,
    )


def configuration_keys(sweep: Sweep) -> list[str]:
    """The swept keys that make a configuration: all but the seed."""
    return [k for k in sweep.swept if k != SEED]


def configurations(sweep: Sweep) -> list[MeanJob]:
    """One :class:`MeanJob` per configuration of the finished runs, in sweep order."""
    keys = configuration_keys(sweep)
    groups: dict[tuple, list[Job]] = {}
    for job in sweep.finished:
        groups.setdefault(tuple(job.overrides.get(k) for k in keys), []).append(job)
    out = []
    for runs in groups.values():
        runs.sort(key=lambda j: natural(j.overrides.get(SEED, "")))
        out.append(mean_job(runs, keys))
    return out


def has_replicates(sweep: Sweep) -> bool:
    """The sweep varies the seed and some configuration ran with two seeds or more."""
    if SEED not in sweep.swept:
        return False
    return any(len(m.runs) > 1 for m in configurations(sweep))


def points(sweep: Sweep, layout: Layout) -> list[Job]:
    """What the plots draw: each configuration's mean when the layout pools seeds, else runs."""
    if layout.replicate_key:
        return list(configurations(sweep))
    return list(sweep.finished)


def seeds_text(jobs: list[Job]) -> str:
    """``seed 0`` / ``seeds 0, 1, 2`` / ``mean of 3 seeds (0, 1, 2)``: for a title."""
    if any(isinstance(j, MeanJob) for j in jobs):
        ns = sorted({len(j.runs) for j in jobs if isinstance(j, MeanJob)})
        n = str(ns[0]) if len(ns) == 1 else f"{ns[0]}–{ns[-1]}"
        seeds = {
            r.overrides.get(SEED) or str((r.summary or {}).get(SEED))
            for j in jobs
            for r in getattr(j, "runs", [])
        }
        return f"mean of {n} seeds ({', '.join(sorted(seeds, key=natural))})"
    seeds = {str((j.summary or {}).get(SEED)) for j in jobs}
    listed = ", ".join(sorted(seeds, key=natural))
    return f"seed{'s' * (len(seeds) > 1)} {listed}"


# -- report_mean.csv -------------------------------------------------------------------------
def mean_columns(sweep: Sweep) -> list[str]:
    keys = configuration_keys(sweep)
    head = [*keys, *(["scenario"] if "scenario" not in keys else []), "n", "seeds"]
    return head + [f"{c}_{what}" for c in MEAN_COLUMNS for what in ("mean", "ci95")]


def report_mean_csv(sweep: Sweep) -> str:
    """``report_mean.csv``: one row per configuration, mean and 95 % CI half-width."""
    header = mean_columns(sweep)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for m in configurations(sweep):
        r: dict[str, Any] = dict(m.overrides)
        r.setdefault("scenario", (m.summary or {}).get("scenario"))
        r["n"] = len(m.runs)
        r["seeds"] = " ".join(j.overrides.get(SEED, "") for j in m.runs)
        for c in MEAN_COLUMNS:
            r[f"{c}_mean"], r[f"{c}_ci95"] = m.means[c], m.half_width[c]
        writer.writerow([cell(r.get(c)) for c in header])
    return buf.getvalue()
