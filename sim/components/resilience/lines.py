"""Terminal lines for ``summary.json``'s ``resilience`` block (one per component)."""

from __future__ import annotations

from typing import Any


def _n(x: Any) -> str:
    return f"{x:,}" if isinstance(x, int) else f"{x:,.3g}"


def resilience_lines(summary: dict[str, Any]) -> list[str]:
    """One line per entry of ``summary["resilience"]``, for the terminal: the resilience
    components (what callers saw) first, then the components they call."""
    lines = []
    block = summary.get("resilience") or {}
    ordered = sorted(block.items(), key=lambda item: item[1].get("kind") != "resilience")
    for name, r in ordered:
        kind = r.get("kind")
        if kind == "resilience":
            parts = [f"{r['attempts']:,} attempts", f"{r['retries']:,} retries"]
            if r["timeouts"]:
                parts.append(f"{r['timeouts']:,} timeouts")
            if r["budget_denied"]:
                parts.append(f"{r['budget_denied']:,} retries over budget")
            for label, el in list(r["chain"].items())[1:]:
                parts.append(f"{el['fallbacks']:,} fell back to {label}")
            if r["degraded"]:
                parts.append(f"{r['degraded']:,} degraded")
            if r["failed"]:
                parts.append(f"{r['failed']:,} failed")
            if r["abandoned_billed_usd"]:
                parts.append(f"${r['abandoned_billed_usd']:,.2f} billed for abandoned attempts")
        elif kind == "api":
            parts = [f"{r['calls']:,} calls"]
            for key, what in (
                ("errors", "errors"),
                ("rejected_429", "429s"),
                ("queue_timeouts", "queue timeouts"),
                ("outage_failures", "failed in outages"),
            ):
                if r.get(key):
                    parts.append(f"{r[key]:,} {what}")
            if r.get("downtime_s"):
                parts.append(f"{r['downtime_s'] / 3600:,.2f} h down")
        else:  # another kind's block (a pool's crashes...): its counts as they are
            parts = [
                f"{_n(v)} {k.replace('_', ' ')}"
                for k, v in r.items()
                if k != "kind" and isinstance(v, (int, float)) and not isinstance(v, bool) and v
            ]
        lines.append(f"resilience {name}: " + (" · ".join(parts) or "nothing happened"))
    return lines
