"""Two systems side by side, layer by layer: ``python -m sim.compare demo production``.

Each side is a scenario name (run here, with ``--both/--left/--right KEY=VALUE``
overrides) or a run folder that holds a ``summary.json``. The command prints the cost
table of the mission's eight layers filled with simulated figures — per month: each
side's cost, its share of that side's total, and what drove it (requests, tokens,
replica-hours, retrievals, GB logged, reviewer-hours ...) — and writes
``compare.csv`` and ``compare.png`` (a figure for a slide) to ``--out``.

Costs are monthly: the run's cost in its measured window scaled to 30.4375 days, like
``summary.json``'s ``monthly_cost_usd``; so are the drivers.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from sim.costs.layers import LAYERS

SECONDS_PER_MONTH = 30.4375 * 86400.0

_LABELS = {
    "inference": "Inference",
    "infrastructure": "Infrastructure",
    "data_pipeline": "Data pipelines",
    "context_retrieval": "Context & retrieval",
    "monitoring": "Monitoring",
    "iteration": "Iteration",
    "latency_optimization": "Latency optimization",
    "human_oversight": "Human oversight",
}


# -- the two sides -------------------------------------------------------------------------
def _fail(line: str) -> NoReturn:
    print(f"configuration error: {line}", file=sys.stderr)
    raise SystemExit(2)


def load_side(spec: str, overrides: list[str], key: str) -> dict[str, Any]:
    """The summary of one side: a run folder's ``summary.json``, or a scenario run now."""
    folder = Path(spec)
    if folder.is_dir() or spec.endswith("summary.json"):
        path = folder if spec.endswith("summary.json") else folder / "summary.json"
        try:
            return json.loads(path.read_text())
        except OSError:
            _fail(f"{key}={spec!r} is a folder without a finished run (no summary.json)")
        except ValueError:
            _fail(f"{key}={spec!r}: summary.json is not complete JSON")
    from sim.checks import ConfigError
    from sim.compose import run_scenario
    from sim.paths import scenarios_dir

    names = sorted(p.stem for p in scenarios_dir().glob("*.yaml"))
    if spec not in names:
        from sim.checks import did_you_mean

        _fail(
            f"{key}={spec!r} is neither a run folder nor a scenario"
            f"{did_you_mean(spec, names)}; scenarios: {', '.join(names)}"
        )
    try:
        return run_scenario(spec, ["progress=false", "plots=false", *overrides]).summary
    except ConfigError as exc:
        _fail(str(exc))


# -- what drove each layer -------------------------------------------------------------------
def _reports(s: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in (s.get("components") or {}).values() if r.get("kind") == kind]


def _num(x: float) -> str:
    if x >= 1e9:
        return f"{x / 1e9:.1f}B"
    if x >= 1e6:
        return f"{x / 1e6:.1f}M"
    if x >= 1e4:
        return f"{x / 1e3:.0f}k"
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:.3g}"


def _pools(s: dict[str, Any]) -> list[tuple[str, float, float]]:
    """(name, provisioned replica-hours per month, busy share) of each pool that ran."""
    cfg = s.get("config") or {}
    out = []
    for name, u in (s.get("utilization") or {}).items():
        pc = (cfg.get("pools") or {}).get(name)
        if pc is None or u.get("mean") is None:
            continue
        cells = (s.get("usage") or {}).get("cells", 1)
        devices = float(pc.get("devices_per_replica", 1)) * cells
        fleet = ((s.get("components") or {}).get(name) or {}).get("autoscaling")
        if fleet and fleet.get("replica_hours"):  # a fleet that changed: what it provisioned
            hours = fleet["replica_hours"] * SECONDS_PER_MONTH / s["measured_s"] * devices
            out.append((name, hours, fleet["busy_replica_hours"] / fleet["replica_hours"]))
            continue
        replicas = float(pc.get("replicas", 1)) * devices
        out.append((name, replicas * SECONDS_PER_MONTH / 3600.0, float(u["mean"])))
    return out


def _inference(s: dict[str, Any], per_month: float) -> str:
    tokens = (s["tokens"]["prompt_total"] + s["tokens"]["output_total"]) * per_month
    parts = [f"{_num(s['requests']['completed'] * per_month)} requests",
             f"{_num(tokens)} tokens"]  # fmt: skip
    busy = sum(h * b for _, h, b in _pools(s))
    if busy:
        parts.append(f"{_num(busy)} busy instance-hours")
    return ", ".join(parts)


def _infrastructure(s: dict[str, Any], per_month: float) -> str:
    pools = _pools(s)
    if not pools:
        return ""
    hours = sum(h for _, h, _ in pools)
    idle = sum(h * (1 - b) for _, h, b in pools)
    return f"{_num(hours)} instance-hours provisioned, {idle / hours:.0%} idle"


def _retrieval(s: dict[str, Any], per_month: float) -> str:
    q = sum(r.get("queries", 0) for r in _reports(s, "vector_store")) * per_month
    return f"{_num(q)} retrievals" if q else ""


def _latency(s: dict[str, Any], per_month: float) -> str:
    caches = _reports(s, "cache")
    if not caches:
        return ""
    nodes = sum(r.get("nodes", 0) for r in caches)
    lookups = sum(r.get("lookups", 0) for r in caches) * per_month
    return f"{nodes} cache node{'s' if nodes != 1 else ''}, {_num(lookups)} lookups"


def _total(value: Any) -> float:
    """A number, or the sum of a dict's numbers (``{scheduled: 1, triggered: 2}``)."""
    if isinstance(value, dict):
        return sum(_total(v) for v in value.values())
    return float(value or 0)


def _generic(kind: str, fields: tuple[tuple[str, str, bool], ...]) -> Callable[..., str]:
    """Sum report fields of the components of ``kind``; ``True`` scales a count to a month
    (GB held are not scaled)."""

    def driver(s: dict[str, Any], per_month: float) -> str:
        reports = _reports(s, kind)
        parts = []
        for path, label, scale in fields:
            total = 0.0
            for r in reports:
                value: Any = r
                for part in path.split("."):
                    value = value.get(part) if isinstance(value, dict) else None
                total += _total(value)
            if total:
                parts.append(f"{_num(total * (per_month if scale else 1.0))} {label}")
        return ", ".join(parts)

    return driver


def _cycles(s: dict[str, Any], per_month: float) -> str:
    """Retraining cycles in a month: the layer's monthly cost over the cost of a cycle
    (scheduled cycles by their schedule, triggered ones at the window's rate)."""
    loops = _reports(s, "retraining")
    per_cycle = sum(_total((r.get("usd_per_cycle") or {}).get("total")) for r in loops)
    if not loops or not per_cycle:
        return ""
    monthly = s["layers"]["iteration"].get("monthly_usd")
    if monthly is None:  # a summary from before monthly_usd: the window's cycles, scaled
        done = sum(_total(r.get("cycles_completed")) for r in loops)
        return f"{_num(done * per_month)} retraining cycles"
    return f"{_num(monthly / (per_cycle / len(loops)))} retraining cycles"


DRIVERS: dict[str, Callable[[dict[str, Any], float], str]] = {
    "inference": _inference,
    "infrastructure": _infrastructure,
    "context_retrieval": _retrieval,
    "latency_optimization": _latency,
    "data_pipeline": _generic(
        "pipeline",
        (("documents.processed", "documents", True), ("stored_gb", "GB stored", False)),
    ),
    "monitoring": _generic(
        "monitor", (("logged_gb", "GB logged", True), ("evals", "evaluations", True))
    ),
    "iteration": _cycles,
    "human_oversight": _generic(
        "reviewers",
        (("paid_reviewer_hours", "reviewer-hours", True), ("reviewed", "items handled", True)),
    ),
}


# -- the table ---------------------------------------------------------------------------------
def rows(left: dict[str, Any], right: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per layer: monthly USD, share and drivers of each side."""
    out = []
    sides = []
    for s in (left, right):
        per_month = SECONDS_PER_MONTH / s["measured_s"]
        sides.append((s, per_month, s["monthly_cost_usd"]))
    for layer in LAYERS:
        row: dict[str, Any] = {"layer": layer}
        for tag, (s, per_month, total) in zip(("left", "right"), sides):
            info = s["layers"][layer]
            usd = info.get("monthly_usd", s["cost_usd"]["by_layer"][layer] * per_month)
            active = s["layers"][layer]["active"]
            row[f"{tag}_usd"] = usd if active else None
            row[f"{tag}_share"] = usd / total if active and total else None
            row[f"{tag}_driver"] = DRIVERS[layer](s, per_month) if active else ""
        out.append(row)
    return out


def _usd(x: float | None) -> str:
    if x is None:
        return "—"
    if x >= 1000:
        return f"${x:,.0f}"
    if x >= 1:
        return f"${x:,.2f}"
    return f"${x:.3g}"


def table(left: dict[str, Any], right: dict[str, Any], names: tuple[str, str]) -> str:
    """The text table: layer, each side's monthly cost and share, and the right's drivers."""
    lines = []
    head = f"{'layer':<22}{names[0] + ' / month':>18}{'share':>7}  {names[1] + ' / month':>18}{'share':>7}  what drove it ({names[1]}; {names[0]})"
    lines.append(head)
    lines.append("-" * min(len(head), 120))
    for r in rows(left, right):
        share_l = f"{r['left_share']:.0%}" if r["left_share"] is not None else ""
        share_r = f"{r['right_share']:.0%}" if r["right_share"] is not None else ""
        drivers = "; ".join(d for d in (r["right_driver"], r["left_driver"]) if d)
        lines.append(
            f"{_LABELS[r['layer']]:<22}{_usd(r['left_usd']):>18}{share_l:>7}  "
            f"{_usd(r['right_usd']):>18}{share_r:>7}  {drivers}"
        )
    lines.append("-" * min(len(head), 120))
    lines.append(
        f"{'total':<22}{_usd(left['monthly_cost_usd']):>18}{'':>7}  "
        f"{_usd(right['monthly_cost_usd']):>18}"
    )
    for label, key in (("per request", "cost_per_request_usd"),
                       ("per user-month", "cost_per_user_month_usd")):  # fmt: skip
        lv, rv = left.get(key), right.get(key)
        if lv is not None or rv is not None:
            lines.append(f"{label:<22}{_usd(lv):>18}{'':>7}  {_usd(rv):>18}")
    per_day = [s["requests"]["arrived"] * 86400.0 / s["measured_s"] for s in (left, right)]
    lines.append(f"{'requests per day':<22}{_num(per_day[0]):>18}{'':>7}  {_num(per_day[1]):>18}")
    return "\n".join(lines)


def write_csv(path: Path, left: dict, right: dict, names: tuple[str, str]) -> None:
    from sim.outputs import atomic_write_text

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["layer", f"{names[0]}_usd_month", f"{names[0]}_share", f"{names[0]}_driver",
                f"{names[1]}_usd_month", f"{names[1]}_share", f"{names[1]}_driver"])  # fmt: skip
    for r in rows(left, right):
        w.writerow([r["layer"], r["left_usd"], r["left_share"], r["left_driver"],
                    r["right_usd"], r["right_share"], r["right_driver"]])  # fmt: skip
    atomic_write_text(path, buf.getvalue())


def figure(left: dict, right: dict, names: tuple[str, str]) -> Any:
    """Two panels, one per side: monthly cost by layer as bars, each on its own scale."""
    from sim.plot import LAYER_COLORS, _plt

    plt = _plt()
    data = rows(left, right)
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.2), sharey=True)
    labels = [_LABELS[r["layer"]] for r in data]
    for ax, tag, name, s in zip(axes, ("left", "right"), names, (left, right)):
        values = [r[f"{tag}_usd"] or 0.0 for r in data]
        colors = [LAYER_COLORS.get(r["layer"], "#888888") for r in data]
        bars = ax.barh(range(len(data)), values, color=colors)
        top = max(values) or 1.0
        for bar, r in zip(bars, data):
            usd, share = r[f"{tag}_usd"], r[f"{tag}_share"]
            text = "not in this system" if usd is None else f"{_usd(usd)}  ({share:.0%})"
            ax.text(bar.get_width() + top * 0.02, bar.get_y() + bar.get_height() / 2, text,
                    va="center", fontsize=9, color="#333333" if usd else "#999999")  # fmt: skip
        ax.set_xlim(0, top * 1.6)
        ax.set_title(f"{name}: {_usd(s['monthly_cost_usd'])} per month", fontsize=12)
        ax.set_xlabel("USD per month")
        ax.spines[["top", "right"]].set_visible(False)
    axes[0].set_yticks(range(len(data)), labels)
    axes[0].invert_yaxis()
    fig.suptitle(
        f"The same AI feature: {names[0]} vs {names[1]}, monthly cost by layer", fontsize=14
    )
    fig.tight_layout()
    return fig


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m sim.compare",
        description=__doc__.split("\n\n")[0],
        epilog="example: python -m sim.compare demo production --out compare/",
    )
    p.add_argument("left", help="a scenario name or a run folder (with summary.json)")
    p.add_argument("right", help="a scenario name or a run folder (with summary.json)")
    p.add_argument("--both", action="append", default=[], metavar="KEY=VALUE",
                   help="an override for both scenarios (repeatable)")  # fmt: skip
    p.add_argument("--left", dest="left_set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--right", dest="right_set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--out", default=None, help="folder for compare.csv and compare.png")
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    left = load_side(args.left, [*args.both, *args.left_set], "LEFT")
    right = load_side(args.right, [*args.both, *args.right_set], "RIGHT")
    names = (Path(args.left).name or args.left, Path(args.right).name or args.right)
    print(table(left, right, names))
    out = Path(args.out) if args.out else Path("outputs") / "compare" / f"{names[0]}_vs_{names[1]}"
    from sim.plot import save_png
    from sim.runfolder import ensure_writable

    try:
        ensure_writable(out, "--out")
    except Exception as exc:  # noqa: BLE001 - ConfigError, one line
        _fail(str(exc))
    write_csv(out / "compare.csv", left, right, names)
    save_png(figure(left, right, names), out / "compare.png")
    print(f"\nwrote compare.csv, compare.png to {out}")


if __name__ == "__main__":
    main()
