"""Files of a run: summary.json, ledger.csv, timeseries.csv and plots, written atomically.

Every file is written to a temporary name in the same folder and renamed into place,
so a crash never leaves a half-written file: a file either exists complete or not at
all. ``summary.json`` is written last, so its presence marks a finished run.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import secrets
from pathlib import Path
from typing import Any

from sim.component_lines import component_lines, format_seconds, format_usd
from sim.components.resilience.lines import resilience_lines
from sim.costs.layers import LAYERS
from sim.run import RunResult


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and an atomic rename.

    The file gets the permissions a plain ``open()`` would give (0666 minus the umask),
    so teammates on a shared filesystem can read results as the umask allows.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _clean(obj: Any) -> Any:
    """JSON-safe copy: NaN/inf become null."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def summary_json(summary: dict[str, Any]) -> str:
    return json.dumps(_clean(summary), indent=2, sort_keys=False, allow_nan=False) + "\n"


def _csv(rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def ledger_csv(result: RunResult) -> str:
    """Cost per layer and component per time bucket; warm-up rows flagged."""
    warmup = result.summary["warmup_s"]
    rows: list[list[Any]] = [
        ["bucket_start_s", "bucket_end_s", "layer", "component", "usd", "in_warmup"]
    ]
    for start, end, layer, comp, usd in result.ledger_rows:
        rows.append(
            [
                f"{start:.6g}",
                f"{end:.6g}",
                layer,
                comp,
                repr(usd),
                int(end <= warmup and warmup > 0),
            ]
        )
    return _csv(rows)


def timeseries_csv(result: RunResult) -> str:
    ts = result.timeseries
    keys = list(ts)
    rows: list[list[Any]] = [keys]
    for i in range(len(ts["bucket_start_s"])):
        rows.append([_fmt(ts[k][i]) for k in keys])
    return _csv(rows)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "" if v != v else f"{v:.6g}"
    return str(v)


RUN_FILES = (
    "ledger.csv",
    "timeseries.csv",
    "run_info.json",
    "cost_by_layer.png",
    "latency.png",
    "load.png",
    "error.json",
    "summary.json",
)


def write_run(result: RunResult, out_dir: Path, plots: bool = True) -> list[Path]:
    """Write every file of a run into ``out_dir``; returns the paths written.

    Files of an earlier, unfinished attempt in the same folder are removed first, so
    nothing stale sits beside the new ``summary.json``. If writing is interrupted
    (Ctrl-C, a full disk), the files written so far are removed again: a folder holds a
    complete run or none.
    """
    out_dir = Path(out_dir)
    for name in RUN_FILES:
        (out_dir / name).unlink(missing_ok=True)
    written: list[Path] = []
    try:
        for name, text in (
            ("ledger.csv", ledger_csv(result)),
            ("timeseries.csv", timeseries_csv(result)),
        ):
            atomic_write_text(out_dir / name, text)
            written.append(out_dir / name)
        if result.run_info:
            atomic_write_text(out_dir / "run_info.json", summary_json(result.run_info))
            written.append(out_dir / "run_info.json")
        if plots:
            from sim.plot import save_run_plots

            written += save_run_plots(result, out_dir)
        atomic_write_text(out_dir / "summary.json", summary_json(result.summary))
        written.append(out_dir / "summary.json")
    except BaseException:
        for name in RUN_FILES:
            (out_dir / name).unlink(missing_ok=True)
        raise
    return written


# -- the terminal summary ----------------------------------------------------------------
_usd = format_usd


def format_summary(s: dict[str, Any], run_info: dict[str, Any] | None = None) -> str:
    """A readable table of the run for the terminal."""
    r = s["requests"]
    days = s["measured_s"] / 86400
    span = (
        f"{days:.3g} day{'' if days == 1 else 's'}"
        if days >= 1
        else f"{s['measured_s'] / 3600:.3g} h"
    )
    lines = [
        f"aicostsim · scenario {s['scenario']} · seed {s['seed']} · {span} simulated"
        + (f" (after {s['warmup_s']:.0f} s warm-up)" if s["warmup_s"] else ""),
    ]
    if s.get("users"):
        lines.append(f"users {s['users']:,}")
    cells = (s.get("usage") or {}).get("cells", 1)
    if cells > 1:
        lines.append(
            f"cells     {cells:,} identical cells; one was simulated: totals are x {cells:,}, "
            "latency, utilization and quality are one cell's"
        )
    lines.append(
        f"requests  arrived {r['arrived']:,} · completed {r['completed']:,} · failed {r['failed']:,}"
        f" · dropped {r['dropped']:,} · in flight {r['in_flight']:,}"
    )
    if s["outcomes"]:
        lines.append("          " + ", ".join(f"{k}: {v:,}" for k, v in s["outcomes"].items()))
    lat = s["latency_s"]
    if lat["n"]:
        lines.append(
            f"latency   mean {format_seconds(lat['mean'])} · p50 {format_seconds(lat['p50'])} · p95 {format_seconds(lat['p95'])} · p99 {format_seconds(lat['p99'])}"
        )
    if s.get("ttft_s"):
        t = s["ttft_s"]
        lines.append(
            f"TTFT      mean {format_seconds(t['mean'])} · p50 {format_seconds(t['p50'])} · p95 {format_seconds(t['p95'])} · p99 {format_seconds(t['p99'])}"
        )
    for name, u in s["utilization"].items():
        if u["mean"] is not None:
            lines.append(
                f"util      {name}: mean {u['mean']:.1%} · busiest bucket {u['peak_bucket']:.1%}"
            )
    q = s.get("quality")
    if q and q["acceptable_share"] is not None:
        routes = ", ".join(f"{r} {v['acceptable_share']:.1%}" for r, v in q["by_route"].items())
        lines.append(
            f"quality   {q['acceptable_share']:.1%} of answers acceptable"
            + (f" · by route: {routes}" if routes else "")
        )
    lines.extend(component_lines(s))
    lines.extend(resilience_lines(s))
    total = s["cost_usd"]["total"]
    lines.append("")
    lines.append(f"{'cost layer':<22}{'USD':>14}{'share':>8}  {'monthly':>12}")
    factor = s["monthly_cost_usd"] / total if total else 0.0  # summaries from before monthly_usd
    for layer in LAYERS:
        info = s["layers"][layer]
        if info["active"]:
            share = f"{info['share']:.1%}" if info["share"] is not None else "-"
            lines.append(
                f"{layer:<22}{_usd(info['usd']):>14}{share:>8}  "
                f"{_usd(info.get('monthly_usd', info['usd'] * factor)):>12}"
            )
        else:
            lines.append(f"{layer:<22}{'—':>14}{'':>8}  {'(inactive)':>12}")
    lines.append(f"{'total':<22}{_usd(total):>14}{'':>8}  {_usd(s['monthly_cost_usd']):>12}")
    lines.append("")
    lines.append(
        f"per request {_usd(s['cost_per_request_usd'])} · per 1k requests {_usd(s['cost_per_1k_requests_usd'])}"
        f" · per month {_usd(s['monthly_cost_usd'])}"
        + (
            f" · per user-month {_usd(s['cost_per_user_month_usd'])}"
            if s["cost_per_user_month_usd"] is not None
            else ""
        )
    )
    q = s.get("cost_per_user_month_usd_quantiles")
    if q:
        top = (s.get("top_users_cost_share") or {}).get("top_10pct")
        lines.append(
            f"per user-month by user: p50 {_usd(q['p50'])} · p90 {_usd(q['p90'])} · "
            f"p99 {_usd(q['p99'])} · mean {_usd(q['mean'])}"
            + (f" · the top 10% of users pay {top:.0%}" if top is not None else "")
        )
    if s.get("monthly"):
        lines.append("")
        lines.append(f"{'month':<8}{'days':>6}{'requests':>14}{'cost':>14}{'per 1k requests':>18}")
        for m in s["monthly"]:
            per_1k = m["cost_usd"] / m["requests"] * 1000 if m["requests"] else None
            lines.append(
                f"{m['month']:<8}{m['days']:>6.1f}{m['requests']:>14,}{_usd(m['cost_usd']):>14}"
                f"{_usd(per_1k):>18}"
            )
    for note in s.get("notes", []):
        lines.append(f"note: {note}")
    if run_info:
        lines.append(
            f"(simulated in {run_info['wall_s']:.1f} s wall time, "
            f"{run_info['requests_per_wall_s'] or 0:,.0f} requests per second)"
        )
    return "\n".join(lines)
