"""The look shared by the sweep plots: tick labels, axes, run and series labels, footnotes.

Tick labels are written the way the terminal writes numbers (``$0.0003``, ``$12k``,
``20k``, ``80 ms``), never in scientific notation; a log axis gets its decades, or
1-2-5 steps when the data span less than about two decades, so every axis has labels.
pyplot and matplotlib are imported inside the functions, never at module import.
"""

from __future__ import annotations

import math
from typing import Any

from sim.report.sweep import Job, Sweep
from sim.report.table import Layout, ordered, requests_per_day

ONE_SERIES = "#4C72B0"  # the house blue of sim/plot.py
PERCENTILES = (("p50", "-"), ("p95", "--"), ("p99", ":"))  # as in sim/plot.py's latency plot
PERCENTILE_COLORS = {"p50": "#4C72B0", "p95": "#DD8452", "p99": "#C44E52"}
MAX_LABELS = 8  # usage labels next to points, per series
LEGEND = {"loc": "outside right upper", "frameon": False, "fontsize": 8}


def plt() -> Any:
    """pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot

    return pyplot


def summary(job: Job) -> dict[str, Any]:
    return job.summary or {}


def day(job: Job) -> float:
    """The job's requests per day (0 when it saw none)."""
    return requests_per_day(summary(job)) or 0.0


# -- tick labels ---------------------------------------------------------------------------
def short_number(x: float) -> str:
    """Two significant digits without scientific notation: 0.00033, 1.5, 250."""
    if x == 0:
        return "0"
    import numpy as np

    return np.format_float_positional(float(f"{x:.2g}"), trim="-")


def _suffixed(x: float) -> str | None:
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= size:
            return f"{x / size:.3g}{suffix}"
    return None


def usd_tick(x: float, _pos: Any = None) -> str:
    """``$0.0003``, ``$1.5``, ``$250``, ``$12k``, ``$3.4M``."""
    big = _suffixed(x)
    if big:
        return f"${big}"
    return f"${x:,.0f}" if abs(x) >= 100 else f"${short_number(x)}"


def count_tick(x: float, _pos: Any = None) -> str:
    """``500``, ``20k``, ``1.5M``."""
    return _suffixed(x) or short_number(x)


def seconds_tick(x: float, _pos: Any = None) -> str:
    """``0``, ``80 ms``, ``1.5 s``."""
    if x == 0:
        return "0"
    return f"{short_number(x * 1000)} ms" if x < 1 else f"{short_number(x)} s"


def percent_tick(x: float, _pos: Any = None) -> str:
    return f"{x:.0%}"


def log_worth(values: list[Any]) -> bool:
    """A log axis when the positive values spread over more than 10x."""
    positive = [v for v in values if v and v > 0]
    return bool(positive) and max(positive) > 10 * min(positive)


def ticks(axis: Any, values: list[float], fmt: Any, log: bool) -> None:
    """Readable ticks: ``fmt`` labels; on a log axis decades, or 1-2-5 over a short span."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_formatter(FuncFormatter(fmt))
    if not log:
        return
    positive = [v for v in values if v > 0]
    span = math.log10(max(positive) / min(positive)) if positive else 0.0
    subs = (1.0,) if span > 2.5 else (1.0, 2.0, 5.0) if span > 0.6 else tuple(range(1, 10))
    axis.set_major_locator(LogLocator(base=10, subs=subs))
    axis.set_minor_formatter(NullFormatter())


def y_scale(ax: Any, values: list[Any], fmt: Any) -> bool:
    """Log y when the values spread over more than 10x, else linear from 0; True if log."""
    present = [v for v in values if v is not None]
    log = log_worth(present)
    if log:
        ax.set_yscale("log")
    else:  # from 0, with room above the highest point for its label
        ax.set_ylim(0, max(present, default=0) * 1.15 or 1.0)
    ticks(ax.yaxis, present, fmt, log)
    return log


def x_usage(ax: Any, jobs: list[Job]) -> None:
    """Requests per day on a log x axis."""
    ax.set_xscale("log")
    ax.margins(x=0.06)  # room for the labels of the last points
    ticks(ax.xaxis, [day(j) for j in jobs], count_tick, True)
    ax.set_xlabel("usage: requests per day (at the measured rate)")
    grid(ax)


def grid(ax: Any) -> None:
    """Major grid lines, and fainter minor ones (a log axis has many)."""
    ax.grid(alpha=0.3, which="major")
    ax.grid(alpha=0.1, which="minor")


# -- names -----------------------------------------------------------------------------------
def scenarios(jobs: list[Job]) -> str:
    return ", ".join(dict.fromkeys(str(summary(j).get("scenario", "?")) for j in jobs))


def window(jobs: list[Job]) -> str:
    """``1 h`` / ``7 days`` / ``50 min to 60 min``: the measured windows of the runs."""

    def fmt(s: float) -> str:
        if s >= 2 * 86400:
            return f"{s / 86400:.3g} days"
        return f"{s / 3600:.3g} h" if s >= 3600 else f"{s / 60:.3g} min"

    spans = sorted({float(summary(j).get("measured_s") or 0) for j in jobs})
    return fmt(spans[0]) if len(spans) == 1 else f"{fmt(spans[0])} to {fmt(spans[-1])}"


def usage_label(key: str | None, job: Job) -> str:
    """``50 users``, ``2 req/s``, ``speedup=4``: the usage value next to a point."""
    if not key:
        return ""
    value = job.overrides.get(key, "")
    try:
        number = float(value)
        shown = f"{number:,.0f}" if number == int(number) else f"{number:g}"
    except ValueError:
        shown = value
    if key.endswith("users"):
        return f"{shown} users"
    if key.endswith("rate_rps"):
        return f"{shown} req/s"
    if key.endswith("requests_per_day") and value.replace(".", "", 1).isdigit():
        return f"{count_tick(float(value))}/day asked"
    return f"{key.rsplit('.', 1)[-1]}={shown}"


def run_label(job: Job, sweep: Sweep) -> str:
    """What names a run under its bar: its swept values (else its folder) and its usage."""
    names = [f"{k}={job.overrides[k]}" for k in sweep.swept if k in job.overrides]
    names = names or [job.folder.name if job.rel == "." else job.rel]
    return "\n".join([*names, f"{count_tick(day(job))} requests/day"])


def legend_label(name: str, layout: Layout) -> str:
    """A series under a legend titled with its key: the value alone when there is one key."""
    return name.partition("=")[2] if len(layout.series_keys) == 1 else name


def series(jobs: list[Job], layout: Layout) -> dict[str, list[Job]]:
    """Jobs grouped by series label, each group in usage order."""
    out: dict[str, list[Job]] = {}
    for job in ordered(jobs, layout):
        out.setdefault(layout.series_of(job), []).append(job)
    return out


def colors(names: list[str]) -> dict[str, Any]:
    """One colour per series: the house blue alone, else tab10 (tab20 beyond ten)."""
    if len(names) == 1:
        return {names[0]: ONE_SERIES}
    cmap = plt().get_cmap("tab10" if len(names) <= 10 else "tab20")
    return {name: cmap(i % cmap.N) for i, name in enumerate(names)}


# -- pieces of a figure ------------------------------------------------------------------------
def bars(ax: Any, jobs: list[Job], sweep: Sweep, values: list[float], fmt: Any) -> bool:
    """Run names under the bars and a y axis that shows them all; True if log."""
    ax.set_xticks(range(len(jobs)), [run_label(j, sweep) for j in jobs], fontsize=8)
    ax.set_xlim(-0.6, len(jobs) - 0.4)
    ax.grid(alpha=0.3, axis="y")
    log = log_worth(values)
    if log:
        ax.set_yscale("log")
        positive = [v for v in values if v > 0]
        ax.set_ylim(min(positive) / 3, max(positive) * 3)
    else:
        ax.set_ylim(0, max(values, default=0) * 1.15 or 1.0)
    ticks(ax.yaxis, values, fmt, log)
    return log


def on_top(ax: Any, xs: Any, values: list[Any], fmt: Any, at: list[Any] | None = None) -> None:
    """Each bar's value written above it (above ``at``, an error bar's top, where given)."""
    for x, v, y in zip(xs, values, at or values):
        text = fmt(v) if v is not None else "n/a"
        ax.annotate(
            text,
            (x, (y if y is not None else v) or 0.0),
            ha="center",
            va="bottom",
            fontsize=8,
            xytext=(0, 2),
            textcoords="offset points",
        )


def label_points(ax: Any, layout: Layout, jobs: list[Job], xs: list[float], ys: list[Any]):
    """``50 users`` next to each point, when a series has few enough of them."""
    if not layout.usage_key or len(jobs) > MAX_LABELS:
        return
    box = {"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.75}
    for job, x, y in zip(jobs, xs, ys):
        ax.annotate(
            usage_label(layout.usage_key, job),
            (x, y),
            textcoords="offset points",
            xytext=(5, -11),
            fontsize=7,
            color="dimgrey",
            bbox=box,
        )


def band(
    ax: Any,
    jobs: list[Job],
    xs: list[float],
    column: str,
    color: Any,
    alpha: float = 0.18,
    bars: bool = False,
) -> list[float]:
    """Shade the 95 % CI of ``column`` around the means (of :class:`MeanJob` points).

    A lone point (or, with ``bars``, every point: over a stacked area a shade would read
    as a layer) gets an error bar instead. A lower bound below a twentieth of the mean
    (a noisy figure over few seeds) is drawn there, so that a log axis keeps its range.
    Returns the upper bounds, for the axis limits.
    """
    from sim.report.stats import MeanJob

    pts = []
    for x, job in zip(xs, jobs):
        if isinstance(job, MeanJob) and (ci := job.interval(column)):
            mean = job.means[column] or 0.0
            pts.append((x, max(ci[0], mean / 20), ci[1], mean))
    if pts and (bars or len(pts) == 1):
        px, low, high, mean = (list(t) for t in zip(*pts))
        yerr = [[m - lo for m, lo in zip(mean, low)], [h - m for h, m in zip(high, mean)]]
        ax.errorbar(px, mean, yerr=yerr, fmt="none", ecolor=color, capsize=3, lw=1, zorder=6)
    elif pts:
        px, low, high, _ = zip(*pts)
        ax.fill_between(px, low, high, color=color, alpha=alpha, lw=0)
    return [p[2] for p in pts]


def error_bars(
    ax: Any, xs: Any, jobs: list[Job], column: str, scale: float = 1.0
) -> list[float | None]:
    """The 95 % CI of ``column`` as a black error bar on each bar of a mean; returns the
    bars' tops (None where there is none)."""
    from sim.report.stats import MeanJob

    tops: list[float | None] = []
    for x, job in zip(xs, jobs):
        tops.append(None)
        if isinstance(job, MeanJob) and (ci := job.interval(column)):
            tops[-1] = ci[1] * scale
            mean = (job.means[column] or 0.0) * scale
            low = max(ci[0] * scale, mean / 20)
            yerr = [[mean - low], [ci[1] * scale - mean]]
            ax.errorbar([x], [mean], yerr=yerr, fmt="none", ecolor="black", capsize=4, lw=1)
    return tops


def footnote(fig: Any, layout: Layout, jobs: list[Job], left_out: int, *extra: str) -> None:
    """One grey line under the figure: how it was drawn and what was left out."""
    parts = [layout.reason]
    if left_out:
        parts.append(f"{left_out} run{'s' * (left_out != 1)} without any request left out")
    parts += [e for e in extra if e]
    fig.supxlabel(" · ".join(parts), fontsize=8, color="dimgrey", wrap=True)


def monthly_note(jobs: list[Job]) -> str:
    return f"monthly figures scale each run's measured window ({window(jobs)})"
