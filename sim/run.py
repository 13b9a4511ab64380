"""Run one scenario: a pure function of its config and seed that returns a RunResult.

Nothing here writes files or draws plots; :mod:`sim.outputs` and :mod:`sim.plot` do
that after the run. Time-based charges (provisioned replicas) are billed at each
bucket edge by one background process, which also samples the components' gauges.
"""

from __future__ import annotations

import math
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import simpy

from sim import __version__, preflight
from sim.build import Built, build
from sim.costs.layers import LAYERS
from sim.metrics.histogram import LogHistogram
from sim.metrics.recorder import allocate_user_costs, user_cost_figures
from sim.months import monthly_figures
from sim.progress import progress_bar

SECONDS_PER_MONTH = 30.4375 * 86400.0  # average Gregorian month


@dataclass
class RunResult:
    """Everything a run measured: the summary plus the series behind the plots."""

    summary: dict[str, Any]
    ledger_rows: list[tuple[float, float, str, str, float]]
    timeseries: dict[str, list[float]]
    latency: LogHistogram
    ttft: LogHistogram
    run_info: dict[str, Any] = field(default_factory=dict)  # wall time etc., not in summary


def bucket_edges(horizon_s: float, warmup_s: float, bucket_s: float) -> list[float]:
    """Bucket edges: 0, the warm-up end, then every bucket_s up to the horizon."""
    edges = [0.0]
    if warmup_s > 0:
        edges.append(warmup_s)
    k = 1
    while True:
        t = warmup_s + k * bucket_s
        if t >= horizon_s - 1e-9:
            break
        edges.append(t)
        k += 1
    edges.append(horizon_s)
    return edges


def _ticker(built: Built, edges: list[float], progress: Any) -> Generator[simpy.Event, Any, None]:
    env = built.ctx.env
    rec = built.ctx.recorder
    billables = built.billables
    observables = built.observables
    for a, b in zip(edges[:-2], edges[1:-1]):
        yield env.timeout(b - env.now)
        _close_bucket(a, b, billables, observables, rec)
        if progress is not None:
            progress.update((b - a) / progress.time_scale)
            progress.set_postfix_str(f"{rec.arrived:,} requests", refresh=False)


def _close_bucket(a: float, b: float, billables: list, observables: list, rec: Any) -> None:
    for comp in billables:
        comp.bill(a, b)
    for comp in observables:
        for key, value in comp.gauges().items():
            rec.sample_gauge(a, f"{comp.name}.{key}", value)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a run; ``at_s`` is the simulated time it reached."""

    def __init__(self, at_s: float) -> None:
        super().__init__(f"interrupted at simulated t={at_s:,.1f} s")
        self.at_s = at_s


def run(cfg: Any) -> RunResult:
    """Simulate ``cfg`` (a composed SimConfig) and return what was measured."""
    from sim.levers import apply_levers
    from sim.usage import apply_usage

    wall0 = time.perf_counter()
    cfg = apply_usage(apply_levers(cfg))
    built = build(cfg)
    from sim.fit import kv_notes

    notes = kv_notes(built, cfg)
    ctx = built.ctx
    env = ctx.env
    from sim.workload.source import RequestSource

    source = RequestSource(ctx, built.arrivals, built.tokens, built.path, built.attributes)
    source.start()
    for comp in built.backgrounds:  # processes beside the requests (shifts, pipelines)
        comp.start()
    from sim.months import price_changes

    price_changes(cfg, built.components, env).start()  # workload.growth.price_changes
    edges = bucket_edges(ctx.horizon_s, ctx.warmup_s, ctx.bucket_s)
    progress = progress_bar(cfg, ctx.horizon_s)
    env.process(_ticker(built, edges, progress))
    try:
        env.run(until=ctx.horizon_s)
        _close_bucket(edges[-2], edges[-1], built.billables, built.observables, ctx.recorder)
    except KeyboardInterrupt:
        raise Interrupted(env.now) from None
    finally:
        if progress is not None:
            progress.close()
    wall_s = time.perf_counter() - wall0
    return _result(cfg, built, edges, wall_s, notes)


_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def week_time(t_h: float) -> str:
    """``Monday 09:30`` for ``t_h`` hours after Monday 00:00 (weeks wrap)."""
    minutes = int(round(t_h * 60)) % (7 * 24 * 60)
    return f"{_DAYS[minutes // 1440]} {minutes % 1440 // 60:02d}:{minutes % 60:02d}"


def _quiet_window_note(cfg: Any, arrived: int, measured_s: float) -> str | None:
    """Why a measured window saw no arrival, or far fewer than the long-run rate implies."""
    rate = preflight.expected_rate_rps(cfg)
    expected = rate * measured_s if rate is not None else None
    if arrived > 0 and (expected is None or expected < 100 or arrived >= 0.02 * expected):
        return None
    got = "no request arrived" if arrived == 0 else f"only {arrived:,} requests arrived"
    w = cfg.workload
    text = f"{got} in the measured window"
    if expected is not None:
        text += f" (the long-run rate would bring about {expected:,.0f})"
    if w.arrival in ("sessions", "diurnal"):
        start_h = w.clock_start_h + cfg.warmup_s / 3600
        end_h = w.clock_start_h + cfg.horizon_s / 3600
        text += f": it runs from {week_time(start_h)} to {week_time(end_h)} of the simulated week"
        if w.arrival == "sessions":
            s = w.sessions
            text += (
                f", and users work weekdays from about {s.workday_start_h:g}:00 for "
                f"{s.workday_hours:g} h; set workload.clock_start_h={s.workday_start_h:g} "
                "to start on Monday morning, or run a whole week (horizon_s=604800)"
            )
        else:
            text += "; the hourly profile is low then: move workload.clock_start_h or run longer"
    else:
        text += "; check the arrival rate against horizon_s"
    return (
        text
        + ". Costs are what was provisioned; per-request and monthly figures are not meaningful"
    )


def _events_scheduled(env: simpy.Environment) -> int | None:
    """Events SimPy scheduled in the run (reads its private id counter; None if absent)."""
    counter = getattr(env, "_eid", None)
    return next(counter) if counter is not None else None


def _per(x: float, n: float) -> float | None:
    return x / n if n else None


def _monthly_by_layer(
    built: Built,
    by_layer: dict[str, float],
    by_component: dict[str, dict[str, float]],
    measured_s: float,
) -> dict[str, float]:
    """Each layer's cost over a month: the measured window scaled linearly, with the share
    of a component that states its steady-state month (``expected_monthly_usd``, e.g. a
    retraining loop on a 30-day schedule) replaced by that statement."""
    scale = SECONDS_PER_MONTH / measured_s
    out = {layer: usd * scale for layer, usd in by_layer.items()}
    for name, comp in built.components.items():
        expected = getattr(comp, "expected_monthly_usd", None)
        if not callable(expected):
            continue
        window = by_component.get(name, {})
        for layer, usd in expected(measured_s).items():
            out[layer] = out.get(layer, 0.0) + usd - window.get(layer, 0.0) * scale
    return out


def _result(
    cfg: Any, built: Built, edges: list[float], wall_s: float, notes: list[str]
) -> RunResult:
    from sim.config import to_container

    ctx = built.ctx
    rec = ctx.recorder
    ledger = ctx.ledger
    by_layer = ledger.by_layer()
    total = sum(by_layer.values())
    active = ledger.active_layers()
    measured = ctx.measured_s
    counts = rec.counts()
    completed = counts["completed"]
    monthly_by_layer = _monthly_by_layer(built, by_layer, ledger.by_component(), measured)
    monthly = sum(monthly_by_layer.values())
    users = cfg.workload.users if cfg.workload.arrival == "sessions" else None
    # each user's share of the cost (inference by tokens, the rest by requests); with
    # cells, a layer the cells share is counted once for all of their users
    cells = int(cfg.usage.cells)
    shared = set(cfg.usage.get("shared_layers") or ()) if cells > 1 else set()
    per_user: dict[str, Any] = {"quantiles": None, "top_share": None}
    if users:
        requests_u, tokens_u = rec.user_usage(int(users))
        # a month of each layer (as in the monthly column), shared by the window's usage
        month_cell = {
            ly: usd / cells if ly in shared else usd for ly, usd in monthly_by_layer.items()
        }
        per_user = user_cost_figures(allocate_user_costs(month_cell, requests_u, tokens_u), 1.0)
    rows = ledger.rows()
    months = monthly_figures(rows, rec.arrivals_by_month, ctx.warmup_s, ctx.horizon_s)

    n_buckets = len(edges) - 1 - (1 if ctx.warmup_s > 0 else 0)
    util: dict[str, Any] = {}
    for name in built.components:
        series = rec.gauges.get(f"{name}.utilization")
        if series is None:
            continue
        values = [series.get(i, math.nan) for i in range(n_buckets)]
        finite = [v for v in values if v == v]
        # the busy share of all provisioned replica-time: buckets weighted by what was
        # provisioned in them (equal weights for a fleet that never changed size)
        weights = rec.gauges.get(f"{name}.replica_s") or {}
        pairs = [(v, weights.get(i, 1.0)) for i, v in enumerate(values) if v == v]
        total_w = sum(w for _, w in pairs)
        util[name] = {
            "mean": sum(v * w for v, w in pairs) / total_w if total_w > 0 else None,
            "peak_bucket": max(finite) if finite else None,
        }

    notes = list(notes)
    for comp in built.components.values():  # a component's own warnings (falling behind...)
        if callable(getattr(comp, "notes", None)):
            notes.extend(comp.notes())
    quiet = _quiet_window_note(cfg, counts["arrived"], measured)
    if quiet:
        notes.append(quiet)
    week = 7 * 86400.0
    if (
        cfg.workload.arrival in ("sessions", "diurnal")
        and abs(measured / week - round(measured / week)) > 1e-9
    ):
        notes.append(
            "monthly figures extrapolate a window that is not a whole number of weeks; "
            "with a daily/weekly load cycle they over- or under-state a month"
        )
    if counts["in_flight"] > 0.01 * max(counts["arrived"], 1):
        notes.append(
            f"{counts['in_flight']:,} requests were still in flight at the horizon: "
            "the system may be overloaded (see utilization and queue)"
        )

    summary: dict[str, Any] = {
        "scenario": cfg.name,
        "description": cfg.description,
        "seed": int(cfg.seed),
        "horizon_s": ctx.horizon_s,
        "warmup_s": ctx.warmup_s,
        "measured_s": measured,
        "bucket_s": ctx.bucket_s,
        "requests": counts,
        "outcomes": dict(sorted(rec.reasons.items())),
        "throughput_rps": completed / measured,
        "latency_s": rec.latency.summary(),
        "ttft_s": rec.ttft.summary() if rec.ttft.n else None,
        "tokens": {
            "prompt_total": rec.prompt_tokens,
            "output_total": rec.output_tokens,
            "prompt_mean": _per(rec.prompt_tokens, completed),
            "output_mean": _per(rec.output_tokens, completed),
        },
        "cost_usd": {
            "total": total,
            "by_layer": by_layer,
            "by_component": ledger.by_component(),
        },
        "layers": {
            layer: {
                "usd": by_layer[layer],
                "share": _per(by_layer[layer], total),
                "active": layer in active,
                # a month of this layer: the window scaled to 30.4375 days, except what a
                # component knows better (one retraining cycle a month, not 4.35 a week)
                "monthly_usd": monthly_by_layer[layer],
            }
            for layer in LAYERS
        },
        "cost_per_request_usd": _per(total, completed),
        "cost_per_1k_requests_usd": (total / completed * 1000.0) if completed else None,
        "monthly_cost_usd": monthly,
        "users": users,
        # usage.*: the level asked for, and how many identical cells the totals cover
        "usage": {
            "requests_per_day": cfg.usage.requests_per_day,
            "cells": int(cfg.usage.cells),
        },
        "cost_per_user_month_usd": (monthly / users) if users else None,
        # the user at the 50th/90th/99th percentile of cost, and what the top users pay
        "cost_per_user_month_usd_quantiles": per_user["quantiles"],
        "top_users_cost_share": per_user["top_share"],
        # per month of 30.4375 days from t=0, when the horizon spans more than one
        "monthly": months,
        "utilization": util,
        # null unless a component can spoil an answer (a model's skill below 1, context
        # that misses); then the share of completed requests answered acceptably
        "quality": rec.quality()
        if any(getattr(c, "affects_quality", False) for c in built.components.values())
        else None,
        "components": {
            name: report
            for name, comp in built.components.items()
            if callable(getattr(comp, "report", None)) and (report := comp.report()) is not None
        },
        # per component that retries, falls back or fails by design (timeouts, outages,
        # crashes, preemptions): what it counted; empty when none does
        "resilience": {
            name: rep
            for name, comp in built.components.items()
            if callable(getattr(comp, "resilience", None))
            and (rep := comp.resilience()) is not None
        },
        "notes": notes,
        "run": {
            "aicostsim_version": __version__,
            "ledger_entries": ledger.n_entries,
        },
        "config": to_container(cfg),
    }

    ts: dict[str, list[float]] = {
        "bucket_start_s": [],
        "arrivals": [],
        "completions": [],
        "latency_p50_s": [],
        "latency_p95_s": [],
    }
    gauge_names = sorted(rec.gauges)
    for g in gauge_names:
        ts[g] = []
    for i in range(n_buckets):
        ts["bucket_start_s"].append(ctx.warmup_s + i * ctx.bucket_s)
        ts["arrivals"].append(rec.arrivals_per_bucket.get(i, 0))
        ts["completions"].append(rec.completions_per_bucket.get(i, 0))
        h = rec.latency_by_bucket.get(i)
        ts["latency_p50_s"].append(h.quantile(0.5) if h is not None else math.nan)
        ts["latency_p95_s"].append(h.quantile(0.95) if h is not None else math.nan)
        for g in gauge_names:
            ts[g].append(rec.gauges[g].get(i, math.nan))
    # Wall-clock facts vary between identical runs, so they stay out of summary.json.
    run_info = {
        "wall_s": wall_s,
        "requests_per_wall_s": (rec.arrived / wall_s) if wall_s > 0 else None,
        "simpy_events": _events_scheduled(built.ctx.env),
    }
    if cfg.usage.cells > 1:
        from sim.usage import scale_summary

        scale_summary(summary, int(cfg.usage.cells))
        for m in summary["monthly"] or ():  # totals over the cells, like the run's
            m["requests"] *= cells
            m["by_layer"] = {
                ly: v * (1 if ly in shared else cells) for ly, v in m["by_layer"].items()
            }
            m["cost_usd"] = sum(m["by_layer"].values())
    return RunResult(summary, rows, ts, rec.latency, rec.ttft, run_info)
