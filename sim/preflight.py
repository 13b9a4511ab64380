"""Preflight: refuse what cannot fit before a run starts, and flag what cannot be served.

Memory of a run is dominated by four things, each a product of knobs the user typed:

==================  ===============================================================
time buckets        ``measured_s / bucket_s`` buckets × (ledger series + per-bucket
                    statistics: counts, a latency histogram, gauges, result rows)
user state          ``workload.users`` × per-user arrays of the session model
replicas            the most a pool may hold (``pools.NAME.replicas``, or the autoscaler's
                    ``max_replicas``, plus spot replacements) × per-replica state
requests in flight  per pool, at most ``max_queue + replicas × max_batch_size``, and
                    never more than the requests the horizon brings
==================  ===============================================================

:func:`check_memory` estimates each from the config alone (before any object is built,
so a billion replicas are refused without allocating one), adds the interpreter's
base, and raises :class:`~sim.checks.ConfigError` when the total exceeds the memory this
machine (or its cgroup, under SLURM or a container) has available, naming the knob
that dominates. The per-item sizes below were measured as peak RSS on CPython 3.11 and
rounded up.

:func:`kv_notes` runs after the build: a self-hosted pool whose replica KV cache is
smaller than the typical request (prompt + output tokens) is refused; one that cannot
hold a noticeable share of requests gets a note in the summary.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.checks import ConfigError, show

BASE_BYTES = 250e6  # interpreter, numpy, numba, simpy, hydra, matplotlib
# Measured 2026-11-28 (peak RSS, copilot_like, one pool = 5 series): 1.5-2.9 kB per bucket,
# 42 B per user, 337 B per replica; the constants keep a margin of 1.4-2x over those.
BUCKET_BYTES = 3_000  # recorder counts + latency histogram + edges + result rows
SERIES_BUCKET_BYTES = 200  # one ledger series or gauge in one bucket, incl. its CSV row
# Users differ and pay each their share (activity multiplier, per-user requests and tokens in
# the recorder, the allocation at the end): measured 2026-11-28 at 109 B per user (1M vs 3M
# users of copilot_like, peak RSS), up from 51 B.
USER_BYTES = 200  # session model arrays per user (state + draws + per-user cost)
REPLICA_BYTES = 600  # one replica's state in a pool
CACHE_ENTRY_BYTES = 200  # one cached response's bookkeeping (an ordered-dict entry)
PREFIX_BLOCK_BYTES = 250  # one cached prefix block (measured 172 B: an ordered-dict entry)
REQUEST_BYTES = 2_500  # one request in flight: request, process, events, queue entry
MAX_REQUESTS = 1e9  # expected requests per run; beyond this a run takes many hours
MAX_KERNEL_STEPS = 1e11  # arrival-kernel steps (state changes, user windows) per run
REQUESTS_PER_S = 50_000.0  # order of the simulator's speed on one core (benchmarks/)
IN_FLIGHT_S = 5.0  # generous mean time in service (Little's law: running = rate x time)
KV_NOTE_SHARE = 0.001  # note when more than 0.1 % of requests cannot fit a replica


def available_bytes() -> float:
    """Memory this process may still use: MemAvailable, capped by a cgroup limit."""
    avail = math.inf
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    avail = float(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if math.isinf(avail):
        try:
            avail = float(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            return math.inf
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.usage_in_bytes",
        ),
    ):
        try:
            with open(limit_file) as fh:
                raw = fh.read().strip()
            if raw == "max":
                continue
            limit = float(raw)
            with open(usage_file) as fh:
                used = float(fh.read().strip())
            if limit < 1e18:  # "no limit" is a huge number in cgroup v1
                avail = min(avail, limit - used)
        except (OSError, ValueError):
            continue
    return avail


@dataclass
class Part:
    """One contributor to a run's memory, with the knob (``key``) a user would change."""

    key: str
    what: str
    bytes: float
    advice: str


def _gb(x: float) -> str:
    if x >= 1e12:
        return f"{x / 1e12:,.1f} TB"
    if x >= 1e9:
        return f"{x / 1e9:,.1f} GB"
    return f"{x / 1e6:,.0f} MB"


def expected_rate_rps(cfg: Any) -> float | None:
    """Long-run mean arrival rate implied by the workload config, grown on average over the
    horizon as ``workload.growth`` asks (None where it cannot be known: a missing trace)."""
    base = _base_rate_rps(cfg)
    if base is None:
        return None
    from sim.months import volume_schedule

    schedule = volume_schedule(cfg.workload.growth, float(cfg.horizon_s))
    return base * schedule.mean(float(cfg.horizon_s)) if schedule is not None else base


def _base_rate_rps(cfg: Any) -> float | None:
    w = cfg.workload
    if w.arrival in ("poisson", "diurnal"):
        return float(w.rate_rps)
    if w.arrival == "mmpp":
        rates = np.asarray(list(w.mmpp.rates_rps), dtype=float)
        sojourn = np.asarray(list(w.mmpp.mean_sojourn_s), dtype=float)
        return float(rates @ sojourn / sojourn.sum())
    if w.arrival == "sessions" and w.users is not None:
        s = w.sessions
        return w.users * s.requests_per_user_day * (5 + 2 * s.weekend_factor) / 7 / 86400
    if w.arrival == "trace":
        from sim.checks import InputFileError
        from sim.workload.trace import load_azure_trace

        try:
            times, _, _ = load_azure_trace(w.trace.path)
        except InputFileError:
            return None  # reported with its key when the run is built
        span = float(times[-1]) if len(times) > 1 else 0.0
        if span <= 0:
            return None
        return len(times) / (span + span / (len(times) - 1)) * w.trace.speedup
    return None


def prefix_block_tokens(cfg: Any) -> int:
    from sim.workload.prefix import prefix_block_tokens as tokens

    return tokens(cfg)


def estimate(cfg: Any) -> list[Part]:
    """The memory parts of the run ``cfg`` describes (config only; nothing is built)."""
    from sim.build import bucket_width_s

    measured = cfg.horizon_s - cfg.warmup_s
    bucket = bucket_width_s(measured, cfg.bucket_s)
    n_buckets = math.ceil(measured / bucket) + 1
    pools = [cfg.pools[n] for n in dict.fromkeys(cfg.path) if n in cfg.pools]
    series = sum(7 for _ in pools) + sum(1 for n in cfg.path if n in cfg.apis)
    parts = [
        Part(
            "bucket_s",
            f"bucket_s={show(cfg.bucket_s)} over {show(measured)} measured seconds makes "
            f"{n_buckets:,} time buckets",
            n_buckets * (BUCKET_BYTES + series * SERIES_BUCKET_BYTES),
            f"use a larger bucket_s (at least {_min_bucket(measured, series):.3g} here) "
            "or a shorter horizon_s",
        )
    ]
    w = cfg.workload
    if w.arrival == "sessions" and w.users is not None:
        parts.append(
            Part(
                "workload.users",
                f"workload.users={w.users} keeps the state of {w.users:,} users",
                w.users * USER_BYTES,
                "use fewer workload.users",
            )
        )
    caches = cfg.get("caches", {}) or {}
    for name, c in caches.items():
        parts.append(
            Part(
                f"caches.{name}.capacity",
                f"caches.{name}.capacity={c.capacity} keeps up to {c.capacity:,} responses",
                c.capacity * CACHE_ENTRY_BYTES,
                f"use a smaller caches.{name}.capacity",
            )
        )
    if caches:
        u = w.queries.universe
        parts.append(
            Part(
                "workload.queries.universe",
                f"workload.queries.universe={u} keeps the popularity of {u:,} queries",
                u * 24,  # popularity (16 B) and, with a router, difficulty (8 B)
                "use a smaller workload.queries.universe",
            )
        )
    rate = expected_rate_rps(cfg)
    arrivals = rate * cfg.horizon_s * 1.5 + 1000 if rate is not None else math.inf
    for name, a in (cfg.get("apis", {}) or {}).items():
        if a.prompt_caching:
            parts.append(_prompt_cache_part(cfg, name, arrivals))
    busy = rate * IN_FLIGHT_S + 1000 if rate is not None else math.inf
    lower = {"sessions": "fewer workload.users", "trace": "a smaller workload.trace.speedup"}
    for name in dict.fromkeys(cfg.path):
        if name not in cfg.pools:
            continue
        pc = cfg.pools[name]
        most, key, value = most_replicas(pc), f"pools.{name}.replicas", pc.replicas
        if pc.autoscale.enabled and pc.autoscale.max_replicas >= pc.replicas:
            key, value = f"pools.{name}.autoscale.max_replicas", pc.autoscale.max_replicas
        parts.append(
            Part(
                key,
                f"{key}={show(value)} keeps up to {most:,} replicas",
                most * REPLICA_BYTES,
                f"use fewer {key}",
            )
        )
        if pc.prefix_caching:
            parts.append(_prefix_part(cfg, name, pc, arrivals))
        running = min(most * pc.max_batch_size, busy)
        bound = min(running + pc.max_queue, arrivals)
        traffic = {"sessions": "workload.users", "trace": "workload.trace.speedup"}
        parts.append(
            Part(
                f"pools.{name}.max_queue"
                if pc.max_queue >= running
                else traffic.get(w.arrival, "workload.rate_rps"),
                f"pools.{name}: up to {bound:,.0f} requests may wait (max_queue="
                f"{pc.max_queue}) or run at once",
                bound * REQUEST_BYTES,
                f"use {lower.get(w.arrival, 'a lower workload.rate_rps')} or a smaller "
                f"pools.{name}.max_queue",
            )
        )
    return parts


def most_replicas(pc: Any) -> int:
    """The most replicas a pool may hold at once: its fleet or its autoscaler's bound, plus
    the spot replacements that start while preempted replicas drain."""
    most = max(int(pc.replicas), int(pc.autoscale.max_replicas) if pc.autoscale.enabled else 0)
    if pc.spot.share > 0:
        most += math.ceil(pc.spot.share * most)
    return most


def _prefix_part(cfg: Any, name: str, pc: Any, arrivals: float) -> Part:
    """Prefix blocks a pool's replicas may keep: their KV caches, or every block seen."""
    block = prefix_block_tokens(cfg)
    seen = arrivals * _mean_prompt(cfg) / block
    held = math.inf
    if pc.latency == "roofline":
        try:
            from sim.latency.roofline import roofline_from_config

            model, hw = cfg.models[pc.model], cfg.hardware[pc.hardware]
            held = (
                most_replicas(pc) * roofline_from_config(model, hw, pc).kv_capacity_tokens / block
            )
        except (KeyError, ValueError, AttributeError):
            pass  # reported with its key when the pool is built
    blocks = min(seen, held)
    return Part(
        f"pools.{name}.prefix_caching",
        f"pools.{name}.prefix_caching=true may keep {blocks:,.0f} prefix blocks of {block} tokens",
        blocks * PREFIX_BLOCK_BYTES,
        f"use fewer pools.{name}.replicas, a larger workload.prefix.block_tokens or "
        f"pools.{name}.prefix_caching=false",
    )


def _prompt_cache_part(cfg: Any, name: str, arrivals: float) -> Part:
    """Prefix blocks an API's prompt cache may keep: the shared ones (own blocks are not kept)."""
    from sim.workload.prefix import has_trace_hashes

    p = cfg.workload.prefix
    if has_trace_hashes(cfg):
        blocks = arrivals * _mean_prompt(cfg) / prefix_block_tokens(cfg)
    else:
        per_group = p.group_tokens // p.block_tokens
        blocks = p.shared_tokens // p.block_tokens + min(p.groups, arrivals) * per_group
    return Part(
        f"apis.{name}.prompt_caching",
        f"apis.{name}.prompt_caching=true may keep {blocks:,.0f} prefix blocks",
        blocks * PREFIX_BLOCK_BYTES,
        f"use fewer workload.prefix.groups or apis.{name}.prompt_caching=false",
    )


def _mean_prompt(cfg: Any) -> float:
    """A generous mean prompt size of the workload (for memory bounds)."""
    t = cfg.workload.tokens
    if cfg.workload.arrival == "trace" or t.kind == "trace":
        return 20_000.0  # the longest mean of the shipped traces (Mooncake: 12k)
    if t.kind == "fixed":
        return float(t.prompt_median)
    return float(min(t.prompt_max, t.prompt_median * math.exp(t.prompt_sigma**2 / 2)))


def _min_bucket(measured: float, series: int) -> float:
    per_bucket = BUCKET_BYTES + series * SERIES_BUCKET_BYTES
    room = max(available_bytes() - BASE_BYTES, 1e6) / 2
    return measured * per_bucket / room


def _kernel_steps(cfg: Any) -> tuple[float, str, str] | None:
    """Steps the arrival kernels would take besides emitting requests: ``(steps, key, knobs)``.

    MMPP arrivals step once per change of state; the session model steps once per user
    and window (windows shrink as the peak rate grows) and once per change between
    active and idle. Absurd values (a sojourn of a nanosecond) would run for days.
    """
    w = cfg.workload
    if w.arrival == "mmpp":
        sojourn = np.asarray(list(w.mmpp.mean_sojourn_s), dtype=float)
        steps = (cfg.horizon_s + w.clock_start_h * 3600) / float(sojourn.mean())
        return (
            steps,
            "workload.mmpp.mean_sojourn_s",
            f"workload.mmpp.mean_sojourn_s={show(list(sojourn))}",
        )
    if w.arrival == "sessions" and w.users is not None:
        from sim.workload.sessions import expected_active_s

        s = w.sessions
        span = cfg.horizon_s + w.clock_start_h * 3600
        shift_s = s.workday_hours * 3600
        active = expected_active_s(shift_s, s.active_period_s, s.idle_period_s)
        peak = w.users * s.requests_per_user_day / active
        window = float(np.clip(25_000 / peak, 1e-3, 86400.0)) if peak > 0 else 86400.0
        days = span / 86400 * (5 + 2 * s.weekend_factor) / 7 + 1
        phases = days * 2 * shift_s / (s.active_period_s + s.idle_period_s)
        windows = cfg.horizon_s * _working_share(cfg) / window + 1  # idle stretches skipped
        knobs = (
            f"workload.users={w.users} with workload.sessions.active_period_s="
            f"{show(s.active_period_s)} and requests_per_user_day={show(s.requests_per_user_day)}"
        )
        return w.users * (windows + phases), "workload.users", knobs
    return None


def _working_share(cfg: Any) -> float:
    """Share of the simulated window in which some user may be working (minute grid).

    The session model jumps over stretches where nobody works (nights, weekends), so
    only this share of the horizon costs a pass over all users per window.
    """
    w = cfg.workload
    s = w.sessions
    minutes = np.arange(int(min(cfg.horizon_s, 7 * 86400) // 60) + 1) / 60.0
    t_h = (w.clock_start_h + minutes) % 168.0
    day, hour = t_h // 24, t_h % 24
    margin = 3 * s.start_jitter_h + s.timezone_spread_h
    lo, hi = s.workday_start_h - margin, s.workday_start_h + s.workday_hours + margin
    in_hours = ((hour - lo) % 24 <= hi - lo) if hi - lo < 24 else np.ones_like(hour, bool)
    workday = (day < 5) | (s.weekend_factor > 0)
    return float(np.mean(in_hours & workday))


def check_work(cfg: Any) -> None:
    """Refuse a run that would take days: too many requests or arrival-kernel steps."""
    w = cfg.workload
    steps = _kernel_steps(cfg)
    if steps is not None and steps[0] > MAX_KERNEL_STEPS:
        n, key, knobs = steps
        raise ConfigError(
            f"{knobs} over horizon_s={show(cfg.horizon_s)} make about {n:,.3g} steps of the "
            f"arrival model, far more than the {MAX_KERNEL_STEPS:,.0g} a run can take in "
            "minutes; use longer periods, fewer users or a shorter horizon_s",
            key=key,
        )
    rate = expected_rate_rps(cfg)
    if rate is None:
        return
    expected = rate * cfg.horizon_s
    if expected <= MAX_REQUESTS:
        return
    knob = {
        "sessions": f"workload.users={w.users}",
        "poisson": f"workload.rate_rps={w.rate_rps}",
        "diurnal": f"workload.rate_rps={w.rate_rps}",
        "trace": f"workload.trace.speedup={w.trace.speedup}",
    }
    what = knob.get(w.arrival, f"workload.arrival={w.arrival!r}")
    hours = expected / REQUESTS_PER_S / 3600
    raise ConfigError(
        f"{what} over horizon_s={show(cfg.horizon_s)} brings about {expected:,.3g} requests, "
        f"about {hours:,.3g} hours of simulation at ~{REQUESTS_PER_S:,.0f} requests per "
        f"second; the limit is {MAX_REQUESTS:,.0g}: simulate a shorter horizon_s (a busy "
        "hour, with workload.clock_start_h) or less traffic",
        key=what.split("=")[0],
    )


def check_memory(cfg: Any, available: float | None = None) -> None:
    """Raise :class:`ConfigError` when the run cannot fit in ``available`` bytes."""
    check_work(cfg)
    parts = estimate(cfg)
    need = BASE_BYTES + sum(p.bytes for p in parts)
    have = available_bytes() if available is None else available
    if need <= have:
        return
    top = max(parts, key=lambda p: p.bytes)
    raise ConfigError(
        f"{top.what}: the run would need about {_gb(need)} of memory and this machine has "
        f"{_gb(have)} available; {top.advice}",
        key=top.key,
    )


def token_pairs(built: Any, cfg: Any, n: int = 20_000) -> tuple[np.ndarray, np.ndarray]:
    """A sample of (prompt, output) sizes the run will see, drawn from a stream of its own."""
    from sim.build import build_tokens
    from sim.workload.trace import TraceArrivals, load_azure_trace

    inner = getattr(built.arrivals, "inner", built.arrivals)
    if isinstance(inner, TraceArrivals):  # replayed requests keep the trace's sizes
        _, prompt, output = load_azure_trace(inner.path)
        return prompt, output
    return build_tokens(cfg, built.ctx, stream="preflight.tokens").sample(n)


def kv_notes(built: Any, cfg: Any) -> list[str]:
    """Refuse components that cannot serve a typical request; note rarer misfits.

    A self-hosted replica must hold a request's prompt + output tokens in its KV cache;
    a hosted API with a tokens-per-minute limit can never admit a request larger than
    one minute's worth. Such requests fail (``too_long``) or are dropped.
    """
    limits = []  # (key, what the limit is, tokens, what happens)
    for name in dict.fromkeys(cfg.path):
        if name in cfg.pools and cfg.pools[name].latency == "roofline":
            pc = cfg.pools[name]
            limits.append(
                (
                    f"pools.{name}.model",
                    f"pools.{name}.model={pc.model!r} on {pc.devices_per_replica} x "
                    f"{pc.hardware!r}: a replica's KV cache",
                    built.components[name].kv_capacity_tokens,
                    "fail as 'too_long'",
                    f"use more pools.{name}.devices_per_replica, a device with more memory, "
                    "a lower precision or a smaller model",
                )
            )
        elif name in cfg.apis and cfg.apis[name].tpm_limit is not None:
            tpm = cfg.apis[name].tpm_limit
            limits.append(
                (
                    f"apis.{name}.tpm_limit",
                    f"apis.{name}.tpm_limit={show(tpm)}: one minute's worth of tokens",
                    int(tpm),
                    "never be admitted (dropped or rejected)",
                    f"raise apis.{name}.tpm_limit",
                )
            )
    notes: list[str] = []
    if not limits:
        return notes
    prompt, output = token_pairs(built, cfg)
    size = np.asarray(prompt, dtype=np.int64) + np.asarray(output, dtype=np.int64)
    median = float(np.median(size))
    for key, what, cap, fate, advice in limits:
        share = float(np.mean(size > cap))
        if median > cap:
            raise ConfigError(
                f"{what} holds {cap:,} tokens, less than the median request ({median:,.0f} "
                f"prompt + output tokens), so {share:.0%} of requests would {fate}; {advice}",
                key=key,
            )
        if share > KV_NOTE_SHARE:
            notes.append(
                f"{what} holds {cap:,} tokens: {share:.1%} of requests (prompt + output "
                f"tokens) are larger and will {fate}"
            )
    return notes
