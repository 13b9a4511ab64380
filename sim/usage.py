"""Usage: run any scenario at a given number of requests per day, split into cells.

``usage.requests_per_day`` scales the scenario's traffic to that long-run mean through
the knob its arrival model has: ``workload.users`` (sessions), ``workload.rate_rps``
(poisson, diurnal), every rate of ``workload.mmpp.rates_rps``, or
``workload.trace.speedup`` (trace replay). Whatever scales with those knobs in the
scenario (replicas written as ``${ceil_div:${workload.users},250}``) follows.

**Cells.** A large deployment is often built as identical, independent cells behind a
load balancer (each with its own replicas, caches and stores). With ``usage.cells = k``
the run simulates one cell carrying ``1/k`` of the traffic and multiplies the totals
(requests, tokens, costs, users) by ``k`` — except the layers in
``usage.shared_layers`` (default: ``iteration`` and ``data_pipeline``: one retraining
loop, one ingestion pipeline for all cells), counted once; latency, utilization and
quality are one cell's, per-request costs follow from the totals. ``usage.max_cell_requests`` picks ``k`` itself: the
fewest cells that keep one cell's expected requests over the horizon within it.

This is exact for what the cells do not share and an approximation for what they
would: a cache or a store shared by all cells would see ``k`` times the traffic (a
higher hit rate, one copy of the index), a single fleet would pool its queueing
(shorter tails at the same utilization) and round replicas up once, not ``k`` times.
:mod:`tests.test_usage` checks one cell × k against k cells simulated together.

**Horizon.** ``usage.min_requests`` lengthens a horizon that would see fewer requests
(tiny deployments), up to ``usage.max_horizon_s``, in whole hours.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from sim import checks
from sim.checks import ConfigError


def scale_knob(cfg: Any) -> str:
    """The key through which usage scales this scenario's traffic."""
    return {
        "sessions": "workload.users",
        "poisson": "workload.rate_rps",
        "diurnal": "workload.rate_rps",
        "mmpp": "workload.mmpp.rates_rps",
        "trace": "workload.trace.speedup",
    }[cfg.workload.arrival]


def apply_usage(cfg: Any) -> Any:
    """``cfg`` scaled to ``usage.requests_per_day`` in ``usage.cells`` cells (a copy if changed)."""
    from sim.build import check
    from sim.preflight import expected_rate_rps

    u = cfg.usage
    if (u.requests_per_day, u.cells, u.max_cell_requests, u.min_requests) == (None, 1, None, None):
        return cfg
    check(cfg)  # the knobs read below are valid
    from sim.costs.layers import LAYERS

    for i, layer in enumerate(u.shared_layers):
        if layer not in LAYERS:
            checks.fail(
                f"usage.shared_layers[{i}]", layer,
                f"is not a cost layer{checks.did_you_mean(layer, LAYERS)}; layers: {', '.join(LAYERS)}",
            )  # fmt: skip
    rate = expected_rate_rps(cfg)
    if rate is None or not rate > 0:
        raise ConfigError(
            f"usage.requests_per_day={checks.show(u.requests_per_day)} cannot scale "
            f"workload.arrival={cfg.workload.arrival!r} here: its mean rate is unknown "
            "(a sessions workload needs workload.users)",
            key="usage.requests_per_day",
        )
    target = u.requests_per_day / 86400.0 if u.requests_per_day is not None else rate
    cells = int(u.cells)
    if u.max_cell_requests is not None:
        cells = max(cells, math.ceil(target * cfg.horizon_s / u.max_cell_requests))
    factor = target / cells / rate
    out = copy.deepcopy(cfg)
    w = out.workload
    if w.arrival == "sessions":
        w.users = max(1, round(w.users * factor))
    elif w.arrival in ("poisson", "diurnal"):
        w.rate_rps = max(w.rate_rps * factor, 1e-9)
    elif w.arrival == "mmpp":
        w.mmpp.rates_rps = [r * factor for r in w.mmpp.rates_rps]
    else:
        w.trace.speedup = w.trace.speedup * factor
    out.usage.cells = cells
    if u.min_requests is not None:
        per_cell = expected_rate_rps(out) or 0.0
        want = u.min_requests / per_cell if per_cell > 0 else math.inf
        if out.horizon_s - out.warmup_s < want:
            measured = min(u.max_horizon_s, math.ceil(want / 3600.0) * 3600.0)
            out.horizon_s = max(out.horizon_s, out.warmup_s + measured)
    return out


TOTALS = ("arrived", "completed", "failed", "dropped", "in_flight")


def scale_summary(summary: dict[str, Any], cells: int) -> dict[str, Any]:
    """Totals of ``summary`` (one cell's) over ``cells`` identical cells, in place."""
    summary["usage"]["cells"] = cells
    shared = set((summary.get("config") or {}).get("usage", {}).get("shared_layers") or [])
    summary["usage"]["shared_layers"] = sorted(shared)
    for k in TOTALS:
        summary["requests"][k] *= cells
    summary["outcomes"] = {k: v * cells for k, v in summary["outcomes"].items()}
    summary["throughput_rps"] *= cells
    for k in ("prompt_total", "output_total"):
        summary["tokens"][k] *= cells
    cost = summary["cost_usd"]
    before = cost["total"]

    def times(layer: str) -> int:
        return 1 if layer in shared else cells

    cost["by_layer"] = {ly: v * times(ly) for ly, v in cost["by_layer"].items()}
    cost["by_component"] = {
        comp: {ly: v * times(ly) for ly, v in layers.items()}
        for comp, layers in cost["by_component"].items()
    }
    cost["total"] = sum(cost["by_layer"].values())
    for ly, info in summary["layers"].items():
        info["usd"] = cost["by_layer"][ly]
        info["share"] = info["usd"] / cost["total"] if cost["total"] else None
        if "monthly_usd" in info:
            info["monthly_usd"] *= times(ly)
    if all("monthly_usd" in info for info in summary["layers"].values()):
        summary["monthly_cost_usd"] = sum(i["monthly_usd"] for i in summary["layers"].values())
    elif before:
        summary["monthly_cost_usd"] *= cost["total"] / before
    for key, n in (("cost_per_request_usd", 1), ("cost_per_1k_requests_usd", 1000)):
        done = summary["requests"]["completed"]
        if summary.get(key) is not None and done:
            summary[key] = cost["total"] / done * n
    if summary["users"] is not None:
        summary["users"] *= cells
        if summary.get("cost_per_user_month_usd") is not None:
            summary["cost_per_user_month_usd"] = summary["monthly_cost_usd"] / summary["users"]
    return summary
