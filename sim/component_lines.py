"""Terminal lines for the components a run reports (``summary.json`` ``components``).

One formatter per kind of report, looked up by the report's ``kind``: each takes the
component's name and report and returns the lines the terminal summary shows for it
(none when it did nothing worth a line). A kind without a formatter shows nothing; a
report with a ``prefix_cache``/``prompt_cache`` block (pools, APIs) gains a ``prefix``
line whatever its kind. The lines read only the report, so they work on a
``summary.json`` loaded from disk as well as on a fresh run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Formatter = Callable[[str, dict[str, Any]], list[str]]


def format_seconds(x: float | None) -> str:
    """``123 ms``, ``1.23 s``, ``12.5 min``, ``2.4 h``: a duration at a readable scale."""
    if x is None or x != x:
        return "n/a"
    if x < 1:
        return f"{x * 1000:.0f} ms"
    if x < 120:
        return f"{x:.2f} s"
    return f"{x / 60:.1f} min" if x < 7200 else f"{x / 3600:.1f} h"


def format_usd(x: float | None) -> str:
    """``$0``, ``$0.0123``, ``$12.34``, ``$1,234``; ``n/a`` for None."""
    if x is None:
        return "n/a"
    if x == 0:
        return "$0"
    if abs(x) >= 100:
        return f"${x:,.0f}"
    if abs(x) >= 1:
        return f"${x:,.2f}"
    return f"${x:.4g}"


_usd = format_usd


def _cache(name: str, rep: dict[str, Any]) -> list[str]:
    if not rep["lookups"]:
        return []
    return [
        f"cache     {name} ({rep['policy']}): hit rate {rep['hit_rate']:.1%} of "
        f"{rep['lookups']:,} lookups"
        + (f", {rep['false_hits']:,} false hits" if rep["policy"] == "semantic" else "")
        + f" · {rep['nodes']} node{'s' if rep['nodes'] != 1 else ''}"
    ]


def _store(name: str, rep: dict[str, Any]) -> list[str]:
    if not rep["queries"]:
        return []
    return [
        f"context   {name}: {rep['queries']:,} queries · {rep['chunks_per_query']} chunks"
        f" (+{rep['context_tokens_per_query']:,} prompt tokens) · mean wait "
        f"{format_seconds(rep['mean_wait_s'])}"
    ]


def _router(name: str, rep: dict[str, Any]) -> list[str]:
    if not any(v["share"] for v in rep["routes"].values()):
        return []
    shares = ", ".join(
        f"{r} {v['share']:.0%}" for r, v in rep["routes"].items() if v["share"] is not None
    )
    mis = rep["misrouted_share"]
    return [
        f"routes    {name} ({rep['policy']}): {shares}"
        + (f" · misrouted {mis:.1%}" if mis is not None else f" · by {rep['signal']}")
    ]


def _pipeline(name: str, rep: dict[str, Any]) -> list[str]:
    docs = rep["documents"]
    lag = rep["lag_s"]
    line = (
        f"pipeline  {name}: {docs['processed']:,} of {docs['arrived']:,} documents processed"
        f" · index lag p50 {format_seconds(lag['p50'])}, p95 {format_seconds(lag['p95'])}"
        f" · {rep['workers']} worker{'s' if rep['workers'] != 1 else ''} at "
        f"{rep['worker_utilization']:.0%}"
    )
    if rep.get("overloaded"):
        line += f" · OVERLOADED ({rep['offered_load']:.2f}x capacity)"
    return [line]


def _monitor(name: str, rep: dict[str, Any]) -> list[str]:
    line = (
        f"monitor   {name}: {rep['logged_requests']:,} logged ({rep['logged_gb']:.3g} GB)"
        f" · {rep['evals']:,} judged ({rep['eval_share']:.0%} sampled)"
    )
    if rep.get("human_evals"):
        line += f" + {rep['human_evals']:,} by people"
    episodes = rep.get("episodes") or []
    detected = [e for e in episodes if e.get("detected_s") is not None]
    if episodes:
        delays = [e["delay_s"] for e in detected if e.get("delay_s") is not None]
        line += f" · drift episodes {len(episodes)}, detected {len(detected)}"
        if delays:
            line += f" after {format_seconds(sum(delays) / len(delays))} on average"
    if rep.get("false_alarms"):
        line += f" · {rep['false_alarms']} false alarms"
    return [line]


def _retraining(name: str, rep: dict[str, Any]) -> list[str]:
    started = sum(rep["cycles_started"].values())
    done = sum(rep["cycles_completed"].values())
    per_cycle = rep["usd_per_cycle"]["total"]
    return [
        f"retrain   {name}: {started} cycle{'s' if started != 1 else ''} started, {done} completed"
        f" (every {rep['interval_days']:g} days"
        + (" and on drift" if rep.get("on_drift") else "")
        + f") · {_usd(per_cycle)} per cycle"
    ]


def _reviewers(name: str, rep: dict[str, Any]) -> list[str]:
    if not rep["reviewed"] and not rep["backlog"] and not rep["paid_reviewer_hours"]:
        return []
    wait = rep["wait_s"]
    line = (
        f"review    {name} ({rep['policy']}, {rep['mode']}): {rep['reviewed']:,} reviewed"
        + (f" ({rep['escalated']:,} escalated)" if rep.get("escalated") else "")
        + f" · wait p50 {format_seconds(wait['p50'])}, p95 {format_seconds(wait['p95'])}"
        f" · backlog {rep['backlog']:,} at the end"
    )
    line2 = (
        f"          {rep['paid_reviewer_hours']:,.0f} paid reviewer-hours at "
        f"{rep['utilization']:.0%} utilization"
        if rep["utilization"] is not None
        else f"          {rep['paid_reviewer_hours']:,.0f} paid reviewer-hours"
    )
    line2 += f" · {_usd(rep['usd_per_reviewed_item'])} per reviewed item"
    if rep.get("sla_misses"):
        line2 += (
            f" · {rep['sla_misses']:,} SLA misses ({rep['sla_miss_share']:.1%} of "
            f"{format_seconds(rep['sla_s'])} SLA)"
        )
    return [line, line2]


def _pool(name: str, rep: dict[str, Any]) -> list[str]:
    scaling = rep.get("autoscaling")
    if not scaling:
        return []
    parts = [f"scaling   {name}:"]
    for key, text in (
        ("mean_replicas", "mean {:.1f} replicas"),
        ("peak_replicas", "peak {:,}"),
        ("scale_ups", "{:,} scale-ups"),
        ("scale_downs", "{:,} scale-downs"),
        ("replica_hours", "{:,.0f} replica-hours"),
    ):
        if scaling.get(key) is not None:
            parts.append(text.format(scaling[key]) + " ·")
    return [" ".join(parts).rstrip(" ·")]


FORMATTERS: dict[str, Formatter] = {
    "cache": _cache,
    "vector_store": _store,
    "router": _router,
    "pipeline": _pipeline,
    "monitor": _monitor,
    "retraining": _retraining,
    "reviewers": _reviewers,
    "pool": _pool,
}


def component_lines(summary: dict[str, Any]) -> list[str]:
    """The lines of every component report in ``summary``, in the order they were built."""
    lines: list[str] = []
    for name, rep in (summary.get("components") or {}).items():
        fmt = FORMATTERS.get(rep.get("kind", ""))
        if fmt is not None:
            lines.extend(fmt(name, rep))
        pc = rep.get("prefix_cache") or rep.get("prompt_cache")
        if pc and pc["cached_token_share"] is not None:
            what = "KV prefix cache" if "prefix_cache" in rep else "provider's prompt cache"
            lines.append(
                f"prefix    {name}: {pc['cached_token_share']:.1%} of "
                f"{pc['prompt_tokens']:,} prompt tokens cached ({what})"
            )
    return lines
