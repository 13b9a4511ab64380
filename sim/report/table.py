"""One row per finished run (``report.csv``), and what the plots put on their axes.

Columns, in order: ``job`` (the folder, relative to the sweep folder), one column per
swept key holding its value as typed, then the figures of :data:`FIGURES` taken from
``summary.json`` (see the README's summary table), then ``monthly_usd.LAYER`` for the
eight cost layers. The layer columns are monthly, like ``monthly_cost_usd``, and sum to
it. A figure a run does not have (no time to first token, no quality model, no users)
is an empty cell, so every sweep gets the same columns.

*Usage* is requests per day at the measured rate: ``requests_arrived × 86,400 ÷
measured_s``. It extrapolates the measured window exactly as ``monthly_cost_usd`` does,
so cost per request stays consistent with both; a busy hour scaled to a day is a busy
day, not an average one (the run's notes say so). The level a run was asked for
(``usage.requests_per_day``, a long-run mean, when the summary has it) is its own column,
``requests_per_day_asked``, next to ``cells`` (identical cells the totals cover).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sim.costs.layers import LAYERS
from sim.report.sweep import Job, Sweep, natural


def _get(d: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(d, dict):
            return None
        d = d.get(key)
    return d


def requests_per_day(s: dict[str, Any]) -> float | None:
    """Arrivals per day at the rate measured in the run's window."""
    arrived, measured = _get(s, "requests", "arrived"), s.get("measured_s")
    if not isinstance(arrived, (int, float)) or not measured:
        return None
    return arrived * 86400.0 / measured


# column name -> how to read it from a summary
FIGURES: tuple[tuple[str, Callable[[dict[str, Any]], Any]], ...] = (
    ("scenario", lambda s: s.get("scenario")),
    ("measured_s", lambda s: s.get("measured_s")),
    ("requests_arrived", lambda s: _get(s, "requests", "arrived")),
    ("requests_completed", lambda s: _get(s, "requests", "completed")),
    ("requests_failed", lambda s: _get(s, "requests", "failed")),
    ("requests_dropped", lambda s: _get(s, "requests", "dropped")),
    ("throughput_rps", lambda s: s.get("throughput_rps")),
    ("requests_per_day", requests_per_day),
    ("requests_per_day_asked", lambda s: _get(s, "usage", "requests_per_day")),
    ("cells", lambda s: _get(s, "usage", "cells")),
    ("users", lambda s: s.get("users")),
    ("total_cost_usd", lambda s: _get(s, "cost_usd", "total")),
    ("monthly_cost_usd", lambda s: s.get("monthly_cost_usd")),
    ("cost_per_request_usd", lambda s: s.get("cost_per_request_usd")),
    ("cost_per_1k_requests_usd", lambda s: s.get("cost_per_1k_requests_usd")),
    ("cost_per_user_month_usd", lambda s: s.get("cost_per_user_month_usd")),
    ("latency_p50_s", lambda s: _get(s, "latency_s", "p50")),
    ("latency_p95_s", lambda s: _get(s, "latency_s", "p95")),
    ("latency_p99_s", lambda s: _get(s, "latency_s", "p99")),
    ("ttft_p50_s", lambda s: _get(s, "ttft_s", "p50")),
    ("ttft_p95_s", lambda s: _get(s, "ttft_s", "p95")),
    ("quality_acceptable_share", lambda s: _get(s, "quality", "acceptable_share")),
)
LAYER_COLUMN = "monthly_usd.{}"


def monthly_by_layer(s: dict[str, Any]) -> dict[str, float]:
    """Each layer's cost over a month (they sum to ``monthly_cost_usd``): the summary's
    ``layers.LAYER.monthly_usd``, or, in summaries from before it, the layer scaled like
    the total."""
    layers = s.get("layers") or {}
    if layers and all("monthly_usd" in (layers.get(ly) or {}) for ly in LAYERS):
        return {layer: float(layers[layer]["monthly_usd"] or 0.0) for layer in LAYERS}
    total = _get(s, "cost_usd", "total") or 0.0
    factor = (s.get("monthly_cost_usd") or 0.0) / total if total else 0.0
    by_layer = _get(s, "cost_usd", "by_layer") or {}
    return {layer: float(by_layer.get(layer) or 0.0) * factor for layer in LAYERS}


def columns(sweep: Sweep) -> list[str]:
    """The header of ``report.csv``."""
    figures = [name for name, _ in FIGURES if name not in sweep.swept]
    return ["job", *sweep.swept, *figures, *(LAYER_COLUMN.format(ly) for ly in LAYERS)]


def row(job: Job, sweep: Sweep) -> dict[str, Any]:
    """A finished job as a row: column name -> value (None for a figure it lacks)."""
    s = job.summary or {}
    out: dict[str, Any] = {"job": job.rel}
    out.update({key: job.overrides.get(key) for key in sweep.swept})
    out.update({name: read(s) for name, read in FIGURES if name not in sweep.swept})
    out.update({LAYER_COLUMN.format(k): v for k, v in monthly_by_layer(s).items()})
    return out


def cell(value: Any) -> str:
    """A CSV cell: empty for None and for a value that is not finite."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    return str(value)


def report_csv(sweep: Sweep) -> str:
    """``report.csv``: a header and one row per finished run."""
    header = columns(sweep)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for job in sweep.finished:
        r = row(job, sweep)
        writer.writerow([cell(r.get(c)) for c in header])
    return buf.getvalue()


# -- what goes on the axes -----------------------------------------------------------------
# Keys that set how much traffic arrives, best first; a key ending in one of these counts too.
USAGE_KEYS = (
    "usage.requests_per_day",
    "workload.users",
    "workload.rate_rps",
    "workload.sessions.requests_per_user_day",
)
USAGE_SUFFIXES = (
    ".users",
    "rate_rps",
    "requests_per_day",
    "requests_per_user_day",
    "trace.speedup",
)
SAME_USAGE = 1.5  # runs whose requests/day all lie within this factor are "the same usage"
SEED = "seed"  # runs that differ only in it are replications (sim.report.stats)


@dataclass
class Layout:
    """What the plots draw: usage on x (or bars), one line per series."""

    usage_key: str | None  # the swept number that sets requests/day, if any
    series_keys: list[str]  # other swept keys that vary: one line per combination
    bars: bool  # True: one bar per run instead of curves against usage
    reason: str  # one sentence a reader sees in the terminal and under the plots
    replicate_key: str | None = None  # "seed": runs differing only in it are pooled

    def series_of(self, job: Job) -> str:
        """The legend label of ``job``'s series ('' when there is one series)."""
        return ", ".join(f"{k}={job.overrides.get(k, '')}" for k in self.series_keys)

    def usage_of(self, job: Job) -> float | None:
        return _number(job.overrides.get(self.usage_key)) if self.usage_key else None


def _number(text: Any) -> float | None:
    try:
        x = float(text)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _ranks(xs: list[float]) -> list[float]:
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    ranks = [0.0] * len(xs)
    for r, i in enumerate(order):
        ranks[i] = float(r)
    return ranks


def rank_correlation(xs: list[float], ys: list[float]) -> float:
    """Spearman's rank correlation (ties broken by position; enough to spot a usage key)."""
    rx, ry = _ranks(xs), _ranks(ys)
    n = len(xs)
    mean = (n - 1) / 2
    cov = sum((a - mean) * (b - mean) for a, b in zip(rx, ry))
    var = sum((a - mean) ** 2 for a in rx)
    return cov / var if var else 0.0


def numeric_swept(sweep: Sweep) -> list[str]:
    """Swept keys whose values in the finished runs are numbers, at least two of them."""
    out = []
    for key in sweep.swept:
        values = [_number(j.overrides.get(key)) for j in sweep.finished]
        if values and all(v is not None for v in values) and len(set(values)) > 1:
            out.append(key)
    return out


def choose_usage_key(sweep: Sweep) -> str | None:
    """The swept number that sets the traffic: a known usage key, or one that tracks it."""
    numeric = numeric_swept(sweep)
    for key in [*USAGE_KEYS, *numeric]:
        if key in numeric and (key in USAGE_KEYS or key.endswith(USAGE_SUFFIXES)):
            return key
    jobs = [j for j in sweep.finished if requests_per_day(j.summary or {})]
    days = [requests_per_day(j.summary or {}) or 0.0 for j in jobs]
    if len(jobs) < 3 or max(days, default=0) < SAME_USAGE * min(days, default=0):
        return None
    for key in numeric:  # e.g. a custom knob that scales arrivals; never a seed
        xs = [_number(j.overrides.get(key)) or 0.0 for j in jobs]
        if key != "seed" and rank_correlation(xs, days) >= 0.9:
            return key
    return None


def choose_layout(sweep: Sweep, usage_key: str | None = None) -> Layout:
    """Usage key (given or found), series keys, and whether curves against usage make sense.

    Curves need a series with two runs or more whose requests/day differ by
    :data:`SAME_USAGE` or more; otherwise (one run, a sweep of levers or scenarios alone)
    the plots draw one bar per run. Seeds are pooled (see :func:`replications`): the
    seed is then no series key, and ``replicate_key`` says so.
    """
    usage = usage_key or choose_usage_key(sweep)
    varying = []
    for key in sweep.swept:
        if key != usage and len({j.overrides.get(key) for j in sweep.finished}) > 1:
            varying.append(key)
    seeds = replications(sweep, usage, varying)
    if seeds:
        varying.remove(SEED)
    layout = Layout(usage, varying, False, "", SEED if seeds else None)
    groups: dict[str, list[float]] = {}
    for job in sweep.finished:
        if day := requests_per_day(job.summary or {}):
            groups.setdefault(layout.series_of(job), []).append(day)
    days = [d for ds in groups.values() for d in ds]
    if len(sweep.finished) == 1:
        layout.bars, layout.reason = True, "one run: nothing to draw against usage, one bar"
    elif not any(len(ds) > 1 and max(ds) >= SAME_USAGE * min(ds) for ds in groups.values()):
        what = f"the sweep varies {', '.join(varying)}" if varying else "the runs do not vary"
        lo, hi = (_compact(min(days)), _compact(max(days))) if days else ("no", "no")
        span = f"all at {lo}" if lo == hi else f"{lo}–{hi}"
        layout.bars = True
        per = "configuration" if seeds else "run"
        layout.reason = f"{what}, not usage ({span} requests/day): one bar per {per}"
    else:
        layout.reason = (
            f"usage set by {usage}" if usage else "no swept key sets usage: x is measured usage"
        ) + (f"; one line per {', '.join(varying)}" if varying else "")
    if seeds:
        shown = "error bars" if layout.bars else "band"
        layout.reason += f"; mean of {seeds} seeds, 95 % CI {shown}"
    return layout


def replications(sweep: Sweep, usage: str | None, varying: list[str]) -> str:
    """How many seeds the plots pool per configuration (``'3'``, ``'2–3'``), or ``''``.

    Runs that differ only in ``seed`` are replications of one configuration. The plots
    pool them (mean and 95 % CI) when the sweep varies something else to draw them
    against: usage, or another key. A sweep of seeds alone keeps one bar per seed: the
    spread is what it shows (``report_mean.csv`` has their mean all the same).
    """
    if SEED not in varying or not (usage or len(varying) > 1):
        return ""
    keys = [k for k in sweep.swept if k != SEED]
    sizes: dict[tuple, int] = {}
    for job in sweep.finished:
        config = tuple(job.overrides.get(k) for k in keys)
        sizes[config] = sizes.get(config, 0) + 1
    low, high = min(sizes.values()), max(sizes.values())
    if high < 2:
        return ""
    return str(high) if low == high else f"{low}–{high}"


def _compact(x: float) -> str:
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= size:
            return f"{x / size:.3g}{suffix}"
    return f"{x:.3g}"


def ordered(jobs: list[Job], layout: Layout) -> list[Job]:
    """Jobs by series, then by usage (the swept value, else requests/day)."""

    def key(j: Job) -> tuple:
        x = layout.usage_of(j)
        if x is None:
            x = requests_per_day(j.summary or {}) or 0.0
        return ([natural(j.overrides.get(k, "")) for k in layout.series_keys], x, j.rel)

    return sorted(jobs, key=key)
