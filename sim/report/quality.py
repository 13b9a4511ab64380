"""Cost against quality when a sweep varies a lever (``cost_vs_quality.png``).

A lever (``levers.cache=off,exact,semantic``, ``levers.routing=off,by_complexity``)
trades cost for quality: a router sends some requests to a weaker model, a semantic
cache repeats answers. When a swept key starts with ``levers.`` and some run has a
quality model, the report draws each configuration as a point: x = cost per 1,000
requests (USD), y = acceptable answers (``quality.acceptable_share`` of completed
requests, %), labelled with its lever value (every series key, when the sweep varies
more than levers). When the sweep also varies usage, the points of one lever value are
joined across usage levels (one line per value, each point labelled with its usage):
the frontier read at each scale. With seeds pooled, points are means with 95 % CI
error bars on both axes.

Two kinds of run lack a share, and are treated differently:

* ``quality: null`` — no component of the run can spoil an answer (the summary writes
  the block only when one can, in ``sim/run.py``). By the simulator's definition
  every completed answer is then acceptable, so the point is drawn at 100 %, hollow,
  and the footnote says how many are.
* ``acceptable_share: null`` inside the block — no request completed: unknown, left out
  and counted in the footnote.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from sim.report import style
from sim.report.stats import MeanJob, points, seeds_text
from sim.report.style import LEGEND, summary, usd_tick
from sim.report.sweep import Job, Sweep
from sim.report.table import Layout

LEVER_PREFIX = "levers."
QUALITY = "quality_acceptable_share"
PER_1K = "cost_per_1k_requests_usd"


@dataclass
class Point:
    """One run or configuration on the plot."""

    job: Job
    cost_per_1k_usd: float
    acceptable: float  # share of completed requests, 0..1
    measured: bool  # False: no quality model in the run, drawn at 100 %


@dataclass
class Plan:
    """What ``cost_vs_quality.png`` draws; ``note`` says why not when it is not drawn."""

    levers: list[str] = field(default_factory=list)
    groups: dict[str, list[Point]] = field(default_factory=dict)
    assumed: int = 0  # points without a quality model
    lacking: int = 0  # points without a share or a cost per request: left out
    note: str = ""


def plan(sweep: Sweep, layout: Layout) -> Plan:
    """The points of ``cost_vs_quality.png``, grouped by series (or why there is none)."""
    levers = [k for k in layout.series_keys if k.startswith(LEVER_PREFIX)]
    if not levers:
        return Plan()
    out = Plan(levers=levers)
    for name, jobs in style.series(points(sweep, layout), layout).items():
        for job in jobs:
            s = summary(job)
            x, q = s.get(PER_1K), s.get("quality")
            share = 1.0 if q is None else q.get("acceptable_share")
            if x is None or share is None:
                out.lacking += 1
                continue
            out.assumed += q is None
            out.groups.setdefault(name, []).append(
                Point(job, float(x), float(share), q is not None)
            )
    if not any(p.measured for ps in out.groups.values() for p in ps):
        why = "no run has a quality model (nothing in them can spoil an answer)"
        if out.lacking:
            why = "no run has an acceptable share"
        return Plan(levers=levers, note=f"cost_vs_quality.png not drawn: {why}")
    return out


def _interval(
    job: Job, column: str, scale: float, value: float, top: float = math.inf
) -> list[list[float]] | None:
    """An error bar's extent below and above ``value``: the 95 % CI, kept within
    (value / 20, top] so that a log axis keeps its range and a share stays a share."""
    if isinstance(job, MeanJob) and (ci := job.interval(column)):
        low, high = max(ci[0] * scale, value / 20), min(ci[1] * scale, top)
        return [[value - low], [high - value]]
    return None


def quality_figure(sweep: Sweep, layout: Layout, p: Plan) -> Any:
    """Cost per 1k requests against the share of acceptable answers, one mark per value."""
    fig, ax = style.plt().subplots(figsize=(9.4, 5.6), layout="constrained")
    colors = style.colors(list(p.groups))
    drawn = [pt for pts in p.groups.values() for pt in pts]
    jobs = [pt.job for pt in drawn]
    for name, pts in p.groups.items():
        color = colors[name]
        xs = [pt.cost_per_1k_usd for pt in pts]
        ys = [100 * pt.acceptable for pt in pts]
        if len(pts) > 1:
            ax.plot(xs, ys, "-", color=color, lw=1.4, alpha=0.8)
        for pt, x, y in zip(pts, xs, ys):
            face = color if pt.measured else "white"
            ax.plot([x], [y], "o", ms=8, mfc=face, mec=color, mew=1.8, zorder=5)
            xerr = _interval(pt.job, PER_1K, 1.0, x)
            yerr = _interval(pt.job, QUALITY, 100.0, y, 100.0) if pt.measured else None
            if xerr or yerr:
                ax.errorbar([x], [y], xerr=xerr, yerr=yerr, fmt="none", ecolor=color, capsize=3)
            if layout.usage_key and len(pts) > 1 and len(pts) <= style.MAX_LABELS:
                ax.annotate(
                    style.usage_label(layout.usage_key, pt.job),
                    (x, y),
                    xytext=(6, -12),
                    textcoords="offset points",
                    fontsize=7,
                    color="dimgrey",
                )
        label = style.legend_label(name, layout) or name
        ax.annotate(
            label,
            (xs[-1], ys[-1]),
            xytext=(8, 6),
            textcoords="offset points",
            fontsize=9,
            fontweight="bold",
            color=color,
        )
        ax.plot([], [], "o-" if len(pts) > 1 else "o", color=color, label=label)
    xs_all = [pt.cost_per_1k_usd for pt in drawn]
    log = style.log_worth(xs_all)
    if log:
        ax.set_xscale("log")
    ax.margins(x=0.15, y=0.12)
    style.ticks(ax.xaxis, xs_all, usd_tick, log)
    lowest = min(100 * pt.acceptable for pt in drawn)
    ax.set_ylim(max(0.0, lowest - max(3.0, 0.15 * (100 - lowest))), 101.5)
    ax.yaxis.set_major_formatter(_percent_axis())
    style.grid(ax)
    ax.set_xlabel("cost per 1,000 requests (USD" + (", log scale)" if log else ")"))
    ax.set_ylabel("acceptable answers (% of completed requests)")
    ax.set_title(
        f"{style.scenarios(jobs)}: cost vs quality by {', '.join(p.levers)} · {seeds_text(jobs)}"
    )
    fig.legend(title=", ".join(layout.series_keys), **LEGEND)
    parts = []
    if layout.usage_key and any(len(pts) > 1 for pts in p.groups.values()):
        parts.append(f"lines join the usage levels ({layout.usage_key}) of one value")
    if layout.replicate_key:
        parts.append("points are means over seeds with 95 % CI error bars")
    if p.assumed:
        parts.append(
            f"{p.assumed} hollow point{'s' * (p.assumed != 1)}: no quality model in the run "
            "(nothing in it can spoil an answer), drawn at 100 %"
        )
    if p.lacking:
        parts.append(
            f"{p.lacking} point{'s' * (p.lacking != 1)} without an acceptable share "
            "(no completed request) left out"
        )
    parts.append("quality is relative to the scenario's reference model")
    fig.supxlabel(" · ".join(parts), fontsize=8, color="dimgrey", wrap=True)
    return fig


def _percent_axis() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda y, _pos: f"{y:.0f} %" if y == int(y) else f"{y:.1f} %")


def lines(p: Plan) -> list[str]:
    """The terminal's line about the plot: its note when it is not drawn."""
    return [p.note] if p.note else []
