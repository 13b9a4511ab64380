"""Plots of one run: data in, figures out. Called after the run, never inside the engine.

* ``cost_by_layer.png`` — what each layer cost per hour of simulated time (stacked),
  and the total per layer, so idle headroom (infrastructure) is visible next to serving.
* ``latency.png`` — distribution of end-to-end latency (and time to first token) on a
  log axis, with p50/p95/p99 marked.
* ``load.png`` — arrivals per second, pool utilization, and latency over time; for a pool
  whose number of replicas changes (autoscaling, spot replacements, crashes) a panel of
  replicas provisioned and ready at each bucket edge.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from sim.costs.layers import LAYERS
from sim.metrics.histogram import LogHistogram

LAYER_COLORS = dict(
    zip(
        LAYERS,
        ["#4C72B0", "#A9A9A9", "#55A868", "#C44E52", "#8172B2", "#CCB974", "#64B5CD", "#DD8452"],
    )
)


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _time_axis(seconds: np.ndarray) -> tuple[np.ndarray, str]:
    span = float(seconds.max() - seconds.min()) if seconds.size else 0.0
    if span >= 3 * 86400:
        return seconds / 86400.0, "simulated time (days)"
    if span >= 3 * 3600:
        return seconds / 3600.0, "simulated time (hours)"
    return seconds / 60.0, "simulated time (minutes)"


def cost_by_layer_figure(summary: dict[str, Any], ledger_rows: list[tuple]) -> Any:
    plt = _plt()
    warmup = summary["warmup_s"]
    bucket = summary["bucket_s"]
    # the full bucket grid of the measured window: buckets without charges are zeros
    n = int(np.ceil(summary["measured_s"] / bucket - 1e-9))
    starts = warmup + bucket * np.arange(n, dtype=float)
    per_layer: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(n))
    for start, end, layer, _comp, usd in ledger_rows:
        if warmup > 0 and end <= warmup:
            continue
        per_layer[layer][min(int(round((start - warmup) / bucket)), n - 1)] += usd
    fig, (ax, axb) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [2.2, 1]})
    layers = [ly for ly in LAYERS if ly in per_layer]
    if not layers:  # nothing was charged in the measured window (no request, no server)
        ax.text(0.5, 0.5, "nothing was charged in this window", ha="center", va="center",
                transform=ax.transAxes, color="grey")  # fmt: skip
    elif starts.size:
        x, xlabel = _time_axis(starts)
        stack = [per_layer[ly] * 3600.0 / bucket for ly in layers]
        ax.stackplot(
            x, stack, labels=layers, colors=[LAYER_COLORS[ly] for ly in layers], step="post"
        )
        ax.set_xlabel(xlabel)
        ax.legend(loc="upper left", fontsize=8, frameon=False)
    ax.set_ylabel("cost rate (USD per hour)")
    ax.set_title(f"{summary['scenario']}: cost by layer over time")
    ax.grid(alpha=0.3)

    by_layer = summary["cost_usd"]["by_layer"]
    active = [ly for ly in LAYERS if summary["layers"][ly]["active"]]
    vals = [by_layer[ly] for ly in active]
    bars = axb.barh(active[::-1], vals[::-1], color=[LAYER_COLORS[ly] for ly in active[::-1]])
    total = summary["cost_usd"]["total"] or 1.0
    for bar, v in zip(bars, vals[::-1]):
        axb.text(
            bar.get_width(),
            bar.get_y() + bar.get_height() / 2,
            f" ${v:,.2f} ({v / total:.0%})",
            va="center",
            fontsize=8,
        )
    inactive = [ly for ly in LAYERS if ly not in active]
    axb.set_title(f"total ${summary['cost_usd']['total']:,.2f} over the run")
    axb.set_xlabel("USD")
    if inactive:
        axb.text(
            0.0,
            -0.18,
            "inactive: " + ", ".join(inactive),
            transform=axb.transAxes,
            fontsize=7,
            color="grey",
            wrap=True,
        )
    top = max(vals, default=0.0)
    axb.set_xlim(0, top * 1.6 if top > 0 else 1.0)
    fig.tight_layout()
    return fig


def latency_figure(summary: dict[str, Any], latency: LogHistogram, ttft: LogHistogram) -> Any:
    from sim.outputs import format_seconds

    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 5.2))
    drew = False
    for hist, label, color in (
        (latency, "end-to-end latency", "#4C72B0"),
        (ttft, "time to first token", "#DD8452"),
    ):
        if hist.n == 0:
            continue
        hist._flush()
        counts = hist.counts[1:-1].astype(float)
        edges = hist.edges()
        nz = np.nonzero(counts)[0]
        lo, hi = max(nz[0] - 1, 0), min(nz[-1] + 2, counts.size)
        # regroup into ~60 bins per visible range for a readable shape
        group = max(1, (hi - lo) // 60)
        c = np.add.reduceat(counts[lo:hi], np.arange(0, hi - lo, group))
        e = edges[lo : hi + 1 : group]
        e = np.append(e[: c.size], edges[min(lo + c.size * group, edges.size - 1)])
        qs = {q: hist.quantile(q) for q in (0.5, 0.95, 0.99)}
        stats = " · ".join(f"p{int(q * 100)} {format_seconds(v)}" for q, v in qs.items())
        ax.stairs(
            c / hist.n,
            e,
            fill=True,
            alpha=0.45,
            color=color,
            label=f"{label}, n={hist.n:,}\n{stats} (lines: p50 solid, p95 dashed, p99 dotted)",
        )
        for q, ls in ((0.5, "-"), (0.95, "--"), (0.99, ":")):
            ax.axvline(qs[q], color=color, ls=ls, lw=1.2)
        drew = True
    ax.set_xscale("log")
    ax.set_xlabel("seconds (log scale)")
    ax.set_ylabel("share of completed requests")
    ax.set_title(f"{summary['scenario']}: latency distribution")
    if drew:
        ax.legend(
            fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=1
        )
    else:
        ax.text(0.5, 0.5, "no completed requests", ha="center", transform=ax.transAxes)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def load_figure(summary: dict[str, Any], ts: dict[str, list[float]]) -> Any:
    plt = _plt()
    starts = np.asarray(ts["bucket_start_s"], dtype=float)
    x, xlabel = _time_axis(starts) if starts.size else (starts, "simulated time")
    bucket = summary["bucket_s"]
    utils = [k for k in ts if k.endswith(".utilization")]
    fleets = _varying_fleets(ts)
    nrows = 2 + (1 if utils else 0) + (1 if fleets else 0)
    fig, axes = plt.subplots(nrows, 1, figsize=(10, 2.8 * nrows), sharex=True, squeeze=False)
    ax = axes[0, 0]
    ax.step(
        x,
        np.asarray(ts["arrivals"], float) / bucket,
        where="post",
        label="arrivals/s",
        color="#4C72B0",
    )
    ax.step(
        x,
        np.asarray(ts["completions"], float) / bucket,
        where="post",
        label="completions/s",
        color="#55A868",
        alpha=0.8,
        ls="--",
    )
    ax.set_ylabel("requests per second")
    ax.set_title(
        f"{summary['scenario']}: load, utilization and latency over time (buckets of {bucket:g} s)"
    )
    ax.legend(fontsize=8, frameon=False, loc="upper right")
    ax.grid(alpha=0.3)
    row = 1
    if utils:
        axu = axes[row, 0]
        for k in utils:
            axu.step(
                x, 100 * np.asarray(ts[k], float), where="post", label=k.replace(".utilization", "")
            )
        axu.set_ylabel("replicas busy (%)")
        axu.set_ylim(0, 105)
        axu.grid(alpha=0.3)
        axu.legend(fontsize=8, frameon=False, loc="upper right", title="pool", title_fontsize=8)
        row += 1
    if fleets:
        axr = axes[row, 0]
        for name in fleets:
            line = axr.step(x, np.asarray(ts[f"{name}.replicas"], float), where="post",
                            label=f"{name}: provisioned")  # fmt: skip
            ready = ts.get(f"{name}.ready")
            if ready is not None:
                axr.step(x, np.asarray(ready, float), where="post", ls="--", alpha=0.8,
                         color=line[0].get_color(), label=f"{name}: ready")  # fmt: skip
        axr.set_ylabel("replicas\n(at bucket edges)")
        axr.set_ylim(bottom=0)
        axr.yaxis.get_major_locator().set_params(integer=True)
        axr.grid(alpha=0.3)
        axr.legend(fontsize=8, frameon=False, loc="upper right")
        row += 1
    axl = axes[row, 0]
    p50 = np.asarray(ts["latency_p50_s"], float)
    p95 = np.asarray(ts["latency_p95_s"], float)
    axl.step(x, p50, where="post", label="p50", color="#4C72B0")
    axl.step(x, p95, where="post", label="p95", color="#C44E52")
    if np.isfinite(p95).any():
        from matplotlib.ticker import FormatStrFormatter

        axl.set_yscale("log")
        axl.yaxis.set_major_formatter(FormatStrFormatter("%g"))
        axl.yaxis.set_minor_formatter(FormatStrFormatter(""))
    axl.set_ylabel("latency (s) of requests\ncompleted in the bucket")
    axl.grid(alpha=0.3, which="both")
    axl.legend(fontsize=8, frameon=False, loc="upper right")
    axes[-1, 0].set_xlabel(xlabel)
    fig.tight_layout()
    return fig


def _varying_fleets(ts: dict[str, list[float]]) -> list[str]:
    """Pools whose number of provisioned replicas changed during the run."""
    out = []
    for key in ts:
        if key.endswith(".replicas"):
            v = np.asarray(ts[key], float)
            v = v[np.isfinite(v)]
            if v.size and v.min() != v.max():
                out.append(key[: -len(".replicas")])
    return out


def save_png(fig: Any, path: Path) -> Path:
    """Write ``fig`` to ``path`` as a PNG, atomically, and close it."""
    import io

    from sim.outputs import atomic_write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    _plt().close(fig)
    atomic_write_bytes(Path(path), buf.getvalue())
    return Path(path)


def save_run_plots(result: Any, out_dir: Path) -> list[Path]:
    """Draw the three run plots into ``out_dir`` (atomically) and return their paths."""
    figs = {
        "cost_by_layer.png": cost_by_layer_figure(result.summary, result.ledger_rows),
        "latency.png": latency_figure(result.summary, result.latency, result.ttft),
        "load.png": load_figure(result.summary, result.timeseries),
    }
    return [save_png(fig, Path(out_dir) / name) for name, fig in figs.items()]
