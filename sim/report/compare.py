"""Serving choices compared: where two cost curves cross (``break_even.png``).

A sweep that crosses a usage ladder with a choice of serving (``'path=[gpu],[api]'``:
self-hosted replicas against a hosted API, or any other key whose values change what
serves the requests, such as ``levers.routing`` or ``levers.cache``) asks at which usage
one choice becomes cheaper than the other. The answer is drawn only when the sweep has
one usage key and the curves of :class:`sim.report.table.Layout`: the *choice key* is
its one series key, or, when it has several, ``path`` — else the key whose values
change the resolved ``path`` of the runs, if only one does. Other series keys, if any,
get a panel each (up to :data:`MAX_PANELS`).

For each pair of values the monthly cost (the mean over seeds when the sweep pools
them) is compared at each usage level both ran. Between two levels where the cheaper
choice changes, the curves are taken as straight lines in log–log (cost ∝ usage^k
between ladder points) and the crossing is where they meet: ``t = d₀ / (d₀ − d₁)`` with
``d = log(cost_a / cost_b)``, ``usage = exp(log u₀ + t·(log u₁ − log u₀))``. Usage is
requests per day at the measured rate (the x axis of every plot); a level's usage is
the geometric mean of the two runs' (they are equal when the arrivals are). Curves that
cross several times get a mark at each crossing; curves that never cross are reported
as one choice cheaper at every level swept.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

from sim.report import style
from sim.report.stats import points, seeds_text
from sim.report.style import LEGEND, day, summary, usd_tick
from sim.report.sweep import Job, Sweep, natural
from sim.report.table import Layout, ordered

MAX_PANELS = 4
TIE = 1e-9  # log costs closer than this are equal


@dataclass
class Crossing:
    """Where the cost curves of ``a`` and ``b`` meet, and which is cheaper after it."""

    usage: float  # requests per day
    monthly_usd: float
    cheaper_above: str
    cheaper_below: str


@dataclass
class Pair:
    """Two values of the choice key, compared over the usage levels both ran."""

    a: str
    b: str
    lo: float  # usage of the lowest and highest common level
    hi: float
    crossings: list[Crossing] = field(default_factory=list)
    cheaper: str = ""  # when they never cross: the one cheaper at every level

    def verdict(self, unit: str = "requests/day") -> str:
        """``[gpu] is cheaper than [api] above ~42,000 requests/day``, or why not."""
        if not self.crossings:
            if not self.cheaper:
                return f"{self.a} and {self.b} cost the same at every level swept"
            other = self.b if self.cheaper == self.a else self.a
            return (
                f"no crossing: {self.cheaper} is cheaper than {other} at every level swept "
                f"({about(self.lo)}–{about(self.hi)} {unit})"
            )
        if len(self.crossings) == 1:
            c = self.crossings[0]
            return (
                f"{c.cheaper_above} is cheaper than {c.cheaper_below} above ~{about(c.usage)} "
                f"{unit} (below it {c.cheaper_below} is)"
            )
        parts = [f"{self.crossings[0].cheaper_below} below ~{about(self.crossings[0].usage)}"]
        for c, nxt in zip(self.crossings, self.crossings[1:]):
            parts.append(f"{c.cheaper_above} from ~{about(c.usage)} to ~{about(nxt.usage)}")
        last = self.crossings[-1]
        parts.append(f"{last.cheaper_above} above ~{about(last.usage)}")
        return (
            f"{self.a} and {self.b} cross {len(self.crossings)} times; cheaper: "
            + ", ".join(parts)
            + f" {unit}"
        )


@dataclass
class Plan:
    """What ``break_even.png`` compares; ``note`` says why it is not drawn when it is not."""

    key: str | None = None
    panels: dict[str, dict[str, list[Job]]] = field(default_factory=dict)  # panel -> value -> pts
    pairs: dict[str, list[Pair]] = field(default_factory=dict)  # panel -> pairs
    note: str = ""


def about(x: float) -> str:
    """Two significant digits: ``42,000``, ``3,200``, ``0.5``."""
    rounded = float(f"{x:.2g}")
    return f"{rounded:,.0f}" if rounded >= 10 else f"{rounded:g}"


def _paths(sweep: Sweep, key: str) -> bool:
    """Whether the values of ``key`` change the serving path the runs resolved to."""
    by_value: dict[str, set[str]] = {}
    for job in sweep.finished:
        path = str((summary(job).get("config") or {}).get("path"))
        by_value.setdefault(job.overrides.get(key, ""), set()).add(path)
    return len({frozenset(p) for p in by_value.values()}) > 1


def choice_key(sweep: Sweep, layout: Layout) -> tuple[str | None, str]:
    """The series key whose values are compared, or ``(None, why not)``."""
    if not layout.usage_key or layout.bars:
        return None, ""  # no curves against a usage ladder: nothing to cross
    keys = layout.series_keys
    if not keys:
        return None, ""
    if len(keys) == 1:
        return keys[0], ""
    if "path" in keys:
        return "path", ""
    serving = [k for k in keys if _paths(sweep, k)]
    if len(serving) == 1:
        return serving[0], ""
    return None, (
        f"break-even not drawn: the sweep varies {', '.join(keys)} besides usage and "
        + ("none" if not serving else "more than one")
        + " of them changes the serving path; sweep path=... to compare serving choices"
    )


def _level(job: Job, layout: Layout) -> float:
    return layout.usage_of(job) or day(job)


def compare(a: str, b: str, ja: list[Job], jb: list[Job], layout: Layout) -> Pair | None:
    """Crossings of the monthly cost curves of ``a`` and ``b`` (see the module docstring)."""
    cost_a = {_level(j, layout): j for j in ja}
    cost_b = {_level(j, layout): j for j in jb}
    rows = []
    for level in sorted(set(cost_a) & set(cost_b)):
        x, y = cost_a[level], cost_b[level]
        ya, yb = summary(x).get("monthly_cost_usd"), summary(y).get("monthly_cost_usd")
        if day(x) > 0 and day(y) > 0 and ya and yb and ya > 0 and yb > 0:
            u = math.sqrt(day(x) * day(y))
            rows.append((math.log(u), math.log(ya), math.log(yb)))
    if len(rows) < 2:
        return None
    pair = Pair(a, b, math.exp(rows[0][0]), math.exp(rows[-1][0]))
    d = [ra - rb for _, ra, rb in rows]
    signs = [(i, v) for i, v in enumerate(d) if abs(v) > TIE]  # levels where they differ
    for (i, d0), (j, d1) in zip(signs, signs[1:]):
        if (d0 > 0) == (d1 > 0):
            continue
        if j == i + 1:  # between two levels: interpolate
            t = d0 / (d0 - d1)
            lu0, la0, _ = rows[i]
            lu1, la1, _ = rows[j]
            lu, la = lu0 + t * (lu1 - lu0), la0 + t * (la1 - la0)
        else:  # equal at the levels between: the crossing is the middle of those
            lu = (rows[i + 1][0] + rows[j - 1][0]) / 2
            la = (rows[i + 1][1] + rows[j - 1][1]) / 2
        above, below = (b, a) if d1 > 0 else (a, b)
        pair.crossings.append(Crossing(math.exp(lu), math.exp(la), above, below))
    if not pair.crossings and signs:
        pair.cheaper = b if signs[0][1] > 0 else a
    return pair


def plan(sweep: Sweep, layout: Layout) -> Plan:
    """The panels, series and crossings of ``break_even.png`` (or why there is none)."""
    key, note = choice_key(sweep, layout)
    if key is None:
        return Plan(note=note)
    others = [k for k in layout.series_keys if k != key]
    out = Plan(key=key)
    for job in sorted_points(sweep, layout):
        panel = ", ".join(f"{k}={job.overrides.get(k, '')}" for k in others)
        value = job.overrides.get(key, "")
        out.panels.setdefault(panel, {}).setdefault(value, []).append(job)
    values = {v for p in out.panels.values() for v in p}
    if len(values) < 2:
        return Plan(note=f"break-even not drawn: {key} has one value in the finished runs")
    if len(out.panels) > MAX_PANELS:
        return Plan(
            note=f"break-even not drawn: {len(out.panels)} combinations of "
            f"{', '.join(others)} (at most {MAX_PANELS} panels)"
        )
    for panel, series in out.panels.items():
        names = sorted(series, key=natural)
        pairs = []
        for a, b in itertools.combinations(names, 2):
            if (p := compare(a, b, series[a], series[b], layout)) is not None:
                pairs.append(p)
        out.panels[panel] = {n: series[n] for n in names}
        out.pairs[panel] = pairs
    if not any(out.pairs.values()):
        return Plan(note=f"break-even not drawn: no two values of {key} share two usage levels")
    return out


def sorted_points(sweep: Sweep, layout: Layout) -> list[Job]:
    """The points the figure draws, by series then usage, leaving out runs without requests."""
    return [j for j in ordered(points(sweep, layout), layout) if day(j) > 0]


def lines(p: Plan) -> list[str]:
    """The terminal's break-even lines (or its note)."""
    if p.key is None:
        return [p.note] if p.note else []
    out = []
    for panel, pairs in p.pairs.items():
        where = f" ({panel})" if panel else ""
        out += [f"break-even{where}: {pair.verdict()}" for pair in pairs]
    return out


# -- break_even.png ----------------------------------------------------------------------------
def break_even_figure(sweep: Sweep, layout: Layout, p: Plan) -> Any:
    """Monthly cost against usage per value of the choice key, crossings marked."""
    import textwrap

    from matplotlib.lines import Line2D

    drawn = [j for series in p.panels.values() for js in series.values() for j in js]
    names = sorted({v for s in p.panels.values() for v in s}, key=natural)
    colors = style.colors(names)
    n = len(p.panels)
    fig, axes = style.plt().subplots(
        1, n, figsize=(6.4 * n + 2.4, 5.4), sharey=True, squeeze=False, layout="constrained"
    )
    tops: list[float] = []
    crossed = False
    for ax, (panel, series) in zip(axes[0], p.panels.items()):
        for value, js in series.items():
            xs = [day(j) for j in js]
            ys = [summary(j).get("monthly_cost_usd") or 0.0 for j in js]
            ax.plot(xs, ys, "o-", color=colors[value], ms=4, lw=1.8)
            tops += ys + style.band(ax, js, xs, "monthly_cost_usd", colors[value])
        pairs = p.pairs.get(panel, [])
        for pair in pairs:
            for c in pair.crossings:
                crossed = True
                ax.axvline(c.usage, color="dimgrey", ls="--", lw=1)
                ax.plot([c.usage], [c.monthly_usd], "D", color="black", ms=7, zorder=6)
                ax.annotate(
                    f"~{about(c.usage)}/day\n{usd_tick(c.monthly_usd)}/month",
                    (c.usage, c.monthly_usd),
                    xytext=(8, -24),
                    textcoords="offset points",
                    fontsize=8,
                    bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.8},
                )
        ax.set_yscale("log")
        style.x_usage(ax, drawn)
        verdicts = [pr.verdict() for pr in pairs] if len(pairs) <= 2 else []
        head = [panel] if panel else []
        width = 75 if n == 1 else 60
        text = "\n".join(head + [w for v in verdicts for w in textwrap.wrap(v, width)])
        ax.set_title(text, fontsize=9.5 if n == 1 else 9)
    style.ticks(axes[0, 0].yaxis, [t for t in tops if t > 0], usd_tick, True)
    axes[0, 0].set_ylabel("cost per month (USD, log scale)")
    fig.suptitle(
        f"{style.scenarios(drawn)}: monthly cost vs usage by {p.key} · {seeds_text(drawn)}",
        fontsize=11,
    )
    handles = [Line2D([], [], color=colors[v], marker="o", ms=4) for v in names]
    labels = list(names)
    if crossed:
        handles.append(Line2D([], [], color="black", marker="D", ls="--", ms=6))
        labels.append("break-even")
    fig.legend(handles, labels, title=p.key, **LEGEND)
    extra = []
    if crossed:
        extra.append("crossings interpolated linearly in log–log between the usage levels")
    many = [v for pairs in p.pairs.values() if len(pairs) > 2 for v in map(Pair.verdict, pairs)]
    style.footnote(fig, layout, drawn, 0, *extra, *many, style.monthly_note(drawn))
    return fig
