"""The ``pools`` kind: self-hosted replicas of one model (config, builder, scheduler).

``pools.NAME`` in a scenario declares one pool (:class:`PoolConfig`);
:func:`build_pool` turns it into an :class:`InferencePool` (continuous batching, see
:mod:`sim.components.pool.scheduler`) with a latency model from :mod:`sim.latency`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omegaconf import MISSING

from sim import checks
from sim.checks import ConfigError, knob
from sim.components.kinds import register
from sim.components.pool.scheduler import InferencePool
from sim.workload.prefix import prefix_block_tokens

POOL_LATENCIES = ("roofline", "exponential", "lognormal")

__all__ = ["InferencePool", "PoolConfig", "POOL_LATENCIES", "build_pool", "pool_latency"]


@dataclass
class PoolConfig:
    """Replicas of one model on one hardware type, with continuous batching."""

    model: str = MISSING  # key of models
    hardware: str = MISSING  # key of hardware
    replicas: int = knob(1, ge=1, integer=True)
    devices_per_replica: int = knob(1, ge=1, integer=True)  # tensor parallel degree
    precision: str = "fp16"  # key of the hardware's tflops
    latency: str = knob("roofline", choices=POOL_LATENCIES)  # or a per-request service time
    service_mean_s: float = knob(
        0.05, ge=1e-6
    )  # the clock's resolution: 1 us  # exponential / lognormal latency
    service_cv: float = knob(1.0, ge=0)  # lognormal latency
    max_batch_size: int = knob(256, ge=1, integer=True)  # 1 turns batching off
    max_queue: int = knob(100_000, ge=0, integer=True)  # waiting beyond this: dropped
    kv_memory_fraction: float = knob(0.9, gt=0, le=1)  # device memory for weights + KV
    prefill_efficiency: float = knob(0.5, gt=0, le=1)  # achieved / peak FLOP/s (MFU)
    decode_efficiency: float = knob(0.6, gt=0, le=1)  # achieved / peak bandwidth (MBU)
    step_overhead_s: float = knob(0.0, ge=0)  # fixed scheduler/launch cost per iteration
    # Hardest request (difficulty in [0, 1]) the model answers acceptably; 1: every one.
    skill: float = knob(1.0, ge=0, le=1)
    # Reuse the KV cache of prompt prefixes seen before (vLLM --enable-prefix-caching,
    # SGLang's radix cache): blocks from workload.prefix or a JSONL trace's hashes.
    prefix_caching: bool = False


def _check_model(name: str, model: Any) -> None:
    key = f"models.{name}"
    if model.hidden_size % model.heads:
        checks.both(
            f"{key}.hidden_size",
            model.hidden_size,
            f"{key}.heads",
            model.heads,
            "do not fit: hidden_size must be a multiple of heads",
        )
    if model.kv_heads > model.heads:
        checks.both(
            f"{key}.kv_heads", model.kv_heads, f"{key}.heads", model.heads, "need kv_heads <= heads"
        )


def pool_latency(name: str, pc: Any, cfg: Any, ctx: Any) -> Any:
    """The latency model of ``pools.<name>`` (roofline, or a per-request service time)."""
    from sim.latency.roofline import roofline_from_config
    from sim.latency.service import ServiceTimeLatency

    key = f"pools.{name}"
    hw = checks.lookup(f"{key}.hardware", pc.hardware, cfg.hardware, "hardware")
    if pc.latency != "roofline":
        rng = ctx.rng.stream(f"pools.{name}.latency")
        return ServiceTimeLatency(pc.service_mean_s, pc.service_cv, pc.latency, rng=rng)
    model = checks.lookup(f"{key}.model", pc.model, cfg.models, "models")
    _check_model(pc.model, model)
    if pc.precision not in hw.tflops:
        checks.fail(
            f"{key}.precision",
            pc.precision,
            f"is not offered by hardware {pc.hardware!r}{checks.did_you_mean(pc.precision, hw.tflops)}; "
            f"choose one of: {', '.join(hw.tflops) or 'none (hardware.' + pc.hardware + '.tflops is empty)'}",
        )
    try:
        return roofline_from_config(model, hw, pc)
    except ValueError as exc:  # the model does not fit in the replica's memory
        raise ConfigError(
            f"{key}.model={pc.model!r} on {key}.hardware={pc.hardware!r} with "
            f"{key}.devices_per_replica={pc.devices_per_replica}: {exc}",
            key=f"{key}.model",
        ) from None


@register("pools", PoolConfig)
def build_pool(b: Any, name: str, pc: Any) -> InferencePool:
    """Self-hosted replicas of a model on a hardware type, with continuous batching."""
    cfg, ctx = b.cfg, b.ctx
    latency = pool_latency(name, pc, cfg, ctx)  # checks pc.hardware names a catalog entry
    hw = cfg.hardware[pc.hardware]
    return InferencePool(
        name,
        ctx,
        latency,
        replicas=int(pc.replicas),
        max_batch_size=int(pc.max_batch_size),
        max_queue=int(pc.max_queue),
        usd_per_replica_hour=float(hw.usd_per_hour) * int(pc.devices_per_replica),
        skill=pc.skill,
        prefix_block_tokens=prefix_block_tokens(cfg) if pc.prefix_caching else None,
    )
