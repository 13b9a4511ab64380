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

After the build, :mod:`sim.fit` checks that a typical request fits the components
(a replica's KV cache, an API's tokens-per-minute limit).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

from sim.checks import ConfigError, show
from sim.volume import check_work, expected_rate_rps

__all__ = ["check_memory", "check_work", "estimate", "expected_rate_rps"]

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
IN_FLIGHT_S = 5.0  # generous mean time in service (Little's law: running = rate x time)


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
