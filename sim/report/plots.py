"""Plots of a sweep: cost, cost per request and latency against usage. Data in, figures out.

* ``cost_vs_usage.png`` — monthly cost against requests per day (log-log), stacked by
  the cost layers that cost anything (colours of :data:`sim.plot.LAYER_COLORS`), with
  each layer's share of the month below: where idle capacity gives way to serving. One
  column per series (up to four; beyond, the totals as lines).
* ``cost_per_request_vs_usage.png`` — cost per request and, where runs have users, per
  user-month, against requests per day (log x): economies of scale, and the steps where
  a replica is added.
* ``latency_vs_usage.png`` — latency p50/p95/p99 (and time to first token p50/p95)
  against requests per day.
* ``break_even.png`` (:mod:`sim.report.compare`) and ``cost_vs_quality.png``
  (:mod:`sim.report.quality`), when the sweep compares serving choices or levers.

Every plot draws one line per *series* (a combination of the swept keys other than
usage, :class:`sim.report.table.Layout`). When the runs do not spread over usage (one
run, a sweep of a lever alone) the same figures become bars, one per run, and say so
under the plot. Runs that saw no request have no place on a log axis: they are left
out of the curves, and the footnote says how many. When the sweep pools seeds
(``Layout.replicate_key``) every figure draws each configuration's mean
(:class:`sim.report.stats.MeanJob`) with its 95 % confidence interval shaded around
the line (error bars on bars and lone points).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from sim.costs.layers import LAYERS
from sim.report import style
from sim.report.stats import points
from sim.report.style import (
    LEGEND,
    PERCENTILE_COLORS,
    PERCENTILES,
    day,
    seconds_tick,
    summary,
    usd_tick,
)
from sim.report.sweep import Job, Sweep
from sim.report.table import Layout, monthly_by_layer

MAX_STACKED_SERIES = 4  # more series than this: monthly totals only, one line each


def _jobs(sweep: Sweep, layout: Layout) -> tuple[list[Job], int]:
    """What a figure draws (runs, or each configuration's mean over its seeds), and how
    many of them it leaves out (no request)."""
    drawn = points(sweep, layout)
    if layout.bars:
        return drawn, 0
    jobs = [j for j in drawn if day(j) > 0]
    return jobs, len(drawn) - len(jobs)


# -- cost_vs_usage.png ---------------------------------------------------------------------
def _layers(jobs: list[Job]) -> list[str]:
    """The layers that cost anything in any run, in ledger order."""
    per = [monthly_by_layer(summary(j)) for j in jobs]
    return [ly for ly in LAYERS if any(p[ly] > 0 for p in per)]


def _layer_legend(fig: Any, layers: list[str]) -> None:
    from matplotlib.patches import Patch

    from sim.plot import LAYER_COLORS

    top_first = layers[::-1]  # the legend reads like the stack, top layer first
    handles = [Patch(color=LAYER_COLORS[ly]) for ly in top_first]
    fig.legend(handles, top_first, title="cost layer", **LEGEND)


def cost_figure(sweep: Sweep, layout: Layout) -> Any:
    """Monthly cost by layer against usage (or per run, as stacked bars)."""
    jobs, left_out = _jobs(sweep, layout)
    title = f"{style.scenarios(jobs)}: monthly cost by layer"
    if layout.bars:
        return _cost_bars(sweep, layout, title)
    groups = style.series(jobs, layout)
    if len(groups) > MAX_STACKED_SERIES:
        return _cost_totals(groups, layout, jobs, left_out, title + " vs usage")
    return _cost_stacks(groups, layout, jobs, left_out, title + " vs usage")


def _cost_bars(sweep: Sweep, layout: Layout, title: str) -> Any:
    from sim.plot import LAYER_COLORS

    jobs, _ = _jobs(sweep, layout)
    layers = _layers(jobs)
    fig, ax = style.plt().subplots(figsize=(max(7.0, 1.5 * len(jobs) + 3), 5), layout="constrained")
    bottom = [0.0] * len(jobs)
    for ly in layers:
        vals = [monthly_by_layer(summary(j))[ly] for j in jobs]
        ax.bar(range(len(jobs)), vals, bottom=bottom, color=LAYER_COLORS[ly], width=0.6)
        bottom = [b + v for b, v in zip(bottom, vals)]
    tops = style.error_bars(ax, range(len(jobs)), jobs, "monthly_cost_usd")
    style.on_top(ax, range(len(jobs)), bottom, usd_tick, tops)
    log = style.bars(ax, jobs, sweep, [max(b, t or 0.0) for b, t in zip(bottom, tops)], usd_tick)
    ax.set_ylabel("cost per month (USD" + (", log scale)" if log else ")"))
    ax.set_title(title)
    _layer_legend(fig, layers)
    style.footnote(fig, layout, jobs, 0, style.monthly_note(jobs))
    return fig


def _cost_stacks(
    groups: dict[str, list[Job]], layout: Layout, jobs: list[Job], left_out: int, title: str
) -> Any:
    from sim.plot import LAYER_COLORS

    layers = _layers(jobs)
    colors = [LAYER_COLORS[ly] for ly in layers]
    ncol = len(groups)
    fig, axes = style.plt().subplots(
        2,
        ncol,
        figsize=(max(8.0, 4.6 * ncol + 2.2), 7.2),
        sharex=True,
        sharey="row",
        squeeze=False,
        layout="constrained",
        gridspec_kw={"height_ratios": [2.2, 1]},
    )
    totals = [t for j in jobs if (t := summary(j).get("monthly_cost_usd") or 0.0) > 0]
    # down to the smallest bottom layer, within three decades of the smallest total
    layer_values = [v for j in jobs for v in monthly_by_layer(summary(j)).values() if v > 0]
    lowest = min(layer_values, default=1.0)
    ylim = (max(lowest / 2, min(totals, default=1.0) / 1000), max(totals, default=1.0) * 2.5)
    for col, (name, members) in enumerate(groups.items()):
        ax, share_ax = axes[0, col], axes[1, col]
        xs = [day(j) for j in members]
        per = [monthly_by_layer(summary(j)) for j in members]
        stack = [[p[ly] for p in per] for ly in layers]
        tot = [sum(p.values()) for p in per]
        shares = [[v / t if t else 0.0 for v, t in zip(vals, tot)] for vals in stack]
        if len(members) > 1:
            ax.stackplot(xs, stack, colors=colors)
            share_ax.stackplot(xs, shares, colors=colors)
        else:  # one point: a stacked bar a little wider than a marker
            left, width = xs[0] / 1.12, xs[0] * (1.12 - 1 / 1.12)
            for target, values in ((ax, stack), (share_ax, shares)):
                base = 0.0
                for vals, c in zip(values, colors):
                    target.bar(left, vals[0], width=width, bottom=base, color=c, align="edge")
                    base += vals[0]
        ax.plot(xs, tot, "o", color="black", ms=3.5, zorder=5)
        style.band(ax, members, xs, "monthly_cost_usd", "black", bars=True)
        style.label_points(ax, layout, members, xs, tot)
        ax.set_yscale("log")
        ax.set_ylim(*ylim)
        style.ticks(ax.yaxis, [*totals, *ylim], usd_tick, True)
        style.grid(ax)
        ax.set_title(name or title, fontsize=10)
        style.x_usage(share_ax, jobs)
        share_ax.set_ylim(0, 1)
        style.ticks(share_ax.yaxis, [], style.percent_tick, False)
    axes[0, 0].set_ylabel("cost per month (USD, log scale)")
    axes[1, 0].set_ylabel("share of the month's cost")
    if any(groups):
        fig.suptitle(title)
    _layer_legend(fig, layers)
    total = "black dots: total" + (" (error bars: its 95 % CI)" if layout.replicate_key else "")
    style.footnote(fig, layout, jobs, left_out, style.monthly_note(jobs), total)
    return fig


def _cost_totals(
    groups: dict[str, list[Job]], layout: Layout, jobs: list[Job], left_out: int, title: str
) -> Any:
    fig, ax = style.plt().subplots(figsize=(9, 5.2), layout="constrained")
    colors = style.colors(list(groups))
    for name, members in groups.items():
        ys = [summary(j).get("monthly_cost_usd") or 0.0 for j in members]
        xs = [day(j) for j in members]
        label = style.legend_label(name, layout)
        ax.plot(xs, ys, "o-", color=colors[name], label=label, ms=4)
        style.band(ax, members, xs, "monthly_cost_usd", colors[name])
    ax.set_yscale("log")
    style.ticks(ax.yaxis, [summary(j).get("monthly_cost_usd") or 0.0 for j in jobs], usd_tick, True)
    style.x_usage(ax, jobs)
    ax.set_ylabel("cost per month (USD, log scale)")
    ax.set_title(title.replace(" by layer", ""))
    fig.legend(title=", ".join(layout.series_keys), **LEGEND)
    extra = f"{len(groups)} series: too many to stack by layer, totals only"
    style.footnote(fig, layout, jobs, left_out, style.monthly_note(jobs), extra)
    return fig


# -- cost_per_request_vs_usage.png -------------------------------------------------------
PER_UNIT = (
    ("cost_per_request_usd", "cost per request"),
    ("cost_per_user_month_usd", "cost per user-month"),
)


def cost_per_request_figure(sweep: Sweep, layout: Layout) -> Any:
    """Cost per request, and per user-month where runs have users."""
    jobs, left_out = _jobs(sweep, layout)
    panels = [(k, t) for k, t in PER_UNIT if any(summary(j).get(k) is not None for j in jobs)]
    panels = panels or [PER_UNIT[0]]
    per_panel = max(5.4, 1.2 * len(jobs) + 1.5) if layout.bars else 5.4
    size = (per_panel * len(panels) + 2.2, 4.8)
    fig, axes = style.plt().subplots(
        1, len(panels), figsize=size, squeeze=False, layout="constrained"
    )
    fig.suptitle(f"{style.scenarios(jobs)}: " + " and ".join(t for _, t in panels))
    groups = style.series(jobs, layout)
    colors = style.colors(list(groups))
    for ax, (key, what) in zip(axes[0], panels):
        values = [summary(j).get(key) for j in jobs]
        if layout.bars:
            heights = [v or 0.0 for v in values]
            ax.bar(range(len(jobs)), heights, color=style.ONE_SERIES, width=0.6)
            tops = style.error_bars(ax, range(len(jobs)), jobs, key)
            style.on_top(ax, range(len(jobs)), values, usd_tick, tops)
            highest = [max(h, t or 0.0) for h, t in zip(heights, tops)]
            log = style.bars(ax, jobs, sweep, highest, usd_tick)
        else:
            for name, members in groups.items():
                pts = [(day(j), summary(j).get(key), j) for j in members]
                pts = [p for p in pts if p[1] is not None]
                if not pts:
                    continue
                xs, ys, js = (list(t) for t in zip(*pts))
                label = style.legend_label(name, layout)
                ax.plot(xs, ys, "o-", color=colors[name], label=label, ms=4)
                values += style.band(ax, js, xs, key, colors[name])
                if len(groups) == 1:
                    style.label_points(ax, layout, js, xs, ys)
                last = (xs[-1], ys[-1])
                ax.annotate(
                    usd_tick(ys[-1]),
                    last,
                    xytext=(6, 0),
                    textcoords="offset points",
                    va="center",
                    fontsize=8,
                    color=colors[name],
                )
            log = style.y_scale(ax, values, usd_tick)
            style.x_usage(ax, jobs)
        ax.set_title(f"{what} (USD)", fontsize=10)
        ax.set_ylabel(f"{what} (USD{', log scale' if log else ''})")
    if not layout.bars and layout.series_keys:
        handles, labels = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, labels, title=", ".join(layout.series_keys), **LEGEND)
    style.footnote(fig, layout, jobs, left_out, style.monthly_note(jobs))
    return fig


# -- latency_vs_usage.png ------------------------------------------------------------------
def latency_figure(sweep: Sweep, layout: Layout) -> Any:
    """Latency p50/p95/p99 (and TTFT p50/p95 where present) against usage, or per run."""
    from matplotlib.lines import Line2D

    jobs, left_out = _jobs(sweep, layout)
    jobs = [j for j in jobs if (summary(j).get("latency_s") or {}).get("n")] or jobs
    panels = [("latency_s", "end-to-end latency")]
    if any(summary(j).get("ttft_s") for j in jobs):
        panels.append(("ttft_s", "time to first token"))
    per_panel = max(5.6, 1.3 * len(jobs) + 1.5) if layout.bars else 5.6
    size = (per_panel * len(panels) + 2.2, 4.8)
    fig, axes = style.plt().subplots(
        1, len(panels), figsize=size, squeeze=False, layout="constrained"
    )
    fig.suptitle(f"{style.scenarios(jobs)}: latency")
    groups = style.series(jobs, layout)
    colors = style.colors(list(groups))
    for ax, (key, what) in zip(axes[0], panels):
        pcts = [(p, ls) for p, ls in PERCENTILES if key == "latency_s" or p != "p99"]

        def value(job: Job, p: str, key: str = key) -> float | None:
            return (summary(job).get(key) or {}).get(p)

        present = [v for j in jobs for p, _ in pcts if (v := value(j, p))]
        if layout.bars:
            n = len(pcts)
            for k, (p, _ls) in enumerate(pcts):
                xs = [i + (k - (n - 1) / 2) * 0.8 / n for i in range(len(jobs))]
                ys = [value(j, p) or 0.0 for j in jobs]
                ax.bar(xs, ys, width=0.8 / n, label=p, color=PERCENTILE_COLORS[p])
                style.error_bars(ax, xs, jobs, f"{key[:-2]}_{p}_s")
            log = style.bars(ax, jobs, sweep, present, seconds_tick)
        else:
            for name, members in groups.items():
                for p, ls in pcts:
                    pts = [(day(j), y, j) for j in members if (y := value(j, p)) is not None]
                    color = colors[name] if len(groups) > 1 else PERCENTILE_COLORS[p]
                    if pts:
                        xs, ys, js = (list(t) for t in zip(*pts))
                        ax.plot(xs, ys, ls=ls, marker="o", ms=3.5, color=color)
                        present += style.band(ax, js, xs, f"{key[:-2]}_{p}_s", color, alpha=0.12)
            log = style.y_scale(ax, present, seconds_tick)
            style.x_usage(ax, jobs)
        ax.set_title(what, fontsize=10)
        ax.set_ylabel(f"{what} (seconds{', log scale' if log else ''})")
    if layout.bars:
        fig.legend(*axes[0, 0].get_legend_handles_labels(), title="percentile", **LEGEND)
    else:
        several = len(groups) > 1
        handles = [Line2D([], [], color=colors[n], lw=2) for n in groups] if several else []
        labels = [style.legend_label(n, layout) for n in groups] if several else []
        for p, ls in PERCENTILES:
            color = "grey" if several else PERCENTILE_COLORS[p]
            handles.append(Line2D([], [], ls=ls, marker="o", ms=3.5, color=color))
        labels += [p for p, _ in PERCENTILES]
        title = ", ".join(layout.series_keys) + " / percentile" if several else "percentile"
        fig.legend(handles, labels, title=title, **LEGEND)
    style.footnote(fig, layout, jobs, left_out)
    return fig


FIGURES = (
    ("cost_vs_usage.png", cost_figure),
    ("cost_per_request_vs_usage.png", cost_per_request_figure),
    ("latency_vs_usage.png", latency_figure),
)
BREAK_EVEN = "break_even.png"
COST_VS_QUALITY = "cost_vs_quality.png"


def figures(sweep: Sweep, layout: Layout) -> list[tuple[str, Callable[[], Any]]]:
    """The plots of this sweep: the three above, then break-even and cost vs quality
    when the sweep compares serving choices or levers (:mod:`sim.report.compare`,
    :mod:`sim.report.quality`)."""
    from sim.report import compare, quality

    out = [(name, partial(draw, sweep, layout)) for name, draw in FIGURES]
    if (choice := compare.plan(sweep, layout)).key:
        out.append((BREAK_EVEN, partial(compare.break_even_figure, sweep, layout, choice)))
    if (levers := quality.plan(sweep, layout)).groups:
        out.append((COST_VS_QUALITY, partial(quality.quality_figure, sweep, layout, levers)))
    return out


def save_plots(sweep: Sweep, layout: Layout, out_dir: Path) -> list[Path]:
    """Draw the plots into ``out_dir`` (atomically) and return their paths."""

    from sim.plot import save_png

    style.plt()  # the house style, before any figure is drawn
    return [save_png(draw(), Path(out_dir) / name) for name, draw in figures(sweep, layout)]
