"""The validation table: every case, its published figure, the simulated one, the error.

:func:`evaluate` simulates each case with the catalog's calibration (or given step
parameters); :func:`summary` gives the median and worst absolute error of a set;
:func:`markdown` and :func:`text` render the rows for the README and the terminal.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sim.calibration.cases import Case
from sim.calibration.measure import error, simulate_case

UNITS = {
    "output_tok_s_per_gpu": ("output tok/s/GPU", 1.0, "{:,.0f}"),
    "total_tok_s_per_gpu": ("total tok/s/GPU", 1.0, "{:,.0f}"),
    "ttft_s": ("TTFT ms", 1e3, "{:,.0f}"),
    "tpot_s": ("TPOT ms", 1e3, "{:.2f}"),
    "e2e_latency_s": ("batch latency s", 1.0, "{:.2f}"),
}


@dataclass
class Row:
    """One case and what the simulator gives for it."""

    case: Case
    simulated: float

    @property
    def error(self) -> float:
        return error(self.case, self.simulated)

    def as_dict(self) -> dict:
        c = self.case
        return {
            "id": c.id,
            "set": c.set,
            "hardware": c.hardware,
            "model": c.model,
            "precision": c.precision,
            "kv_precision": c.kv_precision,
            "tp": c.tp,
            "input_tokens": c.input_tokens,
            "output_tokens": c.output_tokens,
            "batch": c.batch,
            "metric": c.metric,
            "published": c.value,
            "simulated": self.simulated,
            "error": self.error,
            "engine": c.engine,
            "source": c.source,
        }


def evaluate(cases: Iterable[Case], step: dict | None = None) -> list[Row]:
    """Simulate every case (``step`` overrides the catalog's calibration for all)."""
    return [Row(c, simulate_case(c, step)) for c in cases]


def summary(rows: Sequence[Row], which: str) -> dict:
    """Count, median and worst absolute relative error of the rows of one set."""
    errs = [abs(r.error) for r in rows if r.case.set == which]
    if not errs:
        return {"set": which, "cases": 0, "median_abs_error": None, "max_abs_error": None}
    return {
        "set": which,
        "cases": len(errs),
        "median_abs_error": statistics.median(errs),
        "max_abs_error": max(errs),
    }


def _fmt(metric: str, value: float) -> str:
    _, scale, pattern = UNITS[metric]
    return pattern.format(value * scale)


def _source(c: Case) -> str:
    src = c.source
    for prefix in ("https://github.com/", "https://"):
        if src.startswith(prefix):
            src = src[len(prefix) :]
    return src.split("/blob/")[0] if "/blob/" in src else src


def markdown(rows: Sequence[Row]) -> str:
    """A Markdown table (README): case, metric, published, simulated, error, source."""
    out = [
        "| set | hardware | case | metric | published | simulated | error | source |",
        "|---|---|---|---|---:|---:|---:|---|",
    ]
    for r in rows:
        c = r.case
        label = UNITS[c.metric][0]
        out.append(
            f"| {c.set} | {c.hardware} | {c.setup} | {label} | {_fmt(c.metric, c.value)} | "
            f"{_fmt(c.metric, r.simulated)} | {r.error:+.1%} | {_source(c)} |"
        )
    return "\n".join(out)


def text(rows: Sequence[Row]) -> str:
    """A plain table for the terminal."""
    lines = [
        f"{'set':<11} {'hardware':<14} {'case':<42} {'metric':<17} "
        f"{'published':>10} {'simulated':>10} {'error':>7}"
    ]
    for r in rows:
        c = r.case
        lines.append(
            f"{c.set:<11} {c.hardware:<14} {c.setup:<42} {UNITS[c.metric][0]:<17} "
            f"{_fmt(c.metric, c.value):>10} {_fmt(c.metric, r.simulated):>10} {r.error:>+7.1%}"
        )
    return "\n".join(lines)


def plot(rows: Sequence[Row], path: str) -> None:
    """Published against simulated, one panel per kind of figure, ±10 % and ±25 % bands."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        ("throughput (tokens/s per GPU)", ("output_tok_s_per_gpu", "total_tok_s_per_gpu")),
        ("latency (s)", ("ttft_s", "tpot_s", "e2e_latency_s")),
    ]
    style = {
        "calibration": dict(marker="o", color="#1f77b4", label="calibration (fitted)"),
        "validation": dict(marker="s", color="#d62728", label="validation (never fitted)"),
        "reference": dict(marker="^", color="#7f7f7f", label="reference (later engines)"),
    }
    fig, axes = plt.subplots(1, 2, figsize=(11, 5))
    for ax, (title, metrics) in zip(axes, panels, strict=True):
        mine = [r for r in rows if r.case.metric in metrics]
        if not mine:
            ax.set_visible(False)
            continue
        lo = min(min(r.case.value, r.simulated) for r in mine) / 1.5
        hi = max(max(r.case.value, r.simulated) for r in mine) * 1.5
        xs = [lo, hi]
        ax.plot(xs, xs, color="black", lw=1)
        for band, alpha in ((0.25, 0.08), (0.10, 0.15)):
            ax.fill_between(xs, [x * (1 - band) for x in xs], [x * (1 + band) for x in xs],
                            color="green", alpha=alpha, lw=0)  # fmt: skip
        for which, st in style.items():
            pts = [r for r in mine if r.case.set == which]
            if pts:
                ax.scatter([r.case.value for r in pts], [r.simulated for r in pts], s=28,
                           alpha=0.85, **st)  # fmt: skip
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_xlabel("published")
        ax.set_ylabel("simulated")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.25)
    axes[0].legend(loc="upper left", fontsize=8, title="green bands: ±10 %, ±25 %",
                   title_fontsize=8)  # fmt: skip
    val = summary(rows, "validation")
    if val["cases"]:
        fig.suptitle(
            f"GPU step times against published vLLM measurements: validation median "
            f"{val['median_abs_error']:.1%}, worst {val['max_abs_error']:.1%} "
            f"({val['cases']} cases)"
        )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
