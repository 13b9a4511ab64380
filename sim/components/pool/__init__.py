"""The ``pools`` kind: self-hosted replicas of one model (config, builder, scheduler).

``pools.NAME`` in a scenario declares one pool (:class:`PoolConfig`);
:func:`build_pool` turns it into an :class:`InferencePool` with a latency model from
:mod:`sim.latency`. The package, one mechanism per module:

* :mod:`.config` — the typed config, every default with its source;
* :mod:`.replica` — the state of one replica and its life-cycle states;
* :mod:`.scheduler` — continuous batching on each replica (prefill, decode, prefix caching),
  the default and the base of the other two schedulers;
* :mod:`.static` — static batching: whole batches, padded, released together (a baseline);
* :mod:`.chunked` — chunked prefill: a token budget per iteration, decode first;
* :mod:`.central` — the pool as a stage behind one FIFO queue (the ``central`` balancer),
  its gauges, bills and reports;
* :mod:`.balancing` — per-replica queues and the policies that assign arrivals to them;
* :mod:`.lifecycle` — the fleet: cold starts, draining, crashes, spot preemptions;
* :mod:`.autoscaler` — the Kubernetes-HPA rule that resizes the fleet;
* :mod:`.billing` — replica-seconds from provisioning to release, rounded per increment.

A pool is one class per balancer kind (one queue, or a queue per replica) and scheduler:
:func:`make_pool` picks it from :data:`POOL_CLASSES`, the only place that combines them.
"""

from __future__ import annotations

from typing import Any

from sim import checks
from sim.checks import ConfigError
from sim.components.kinds import register
from sim.components.pool.balancing import DispatchPool
from sim.components.pool.central import InferencePool
from sim.components.pool.chunked import ChunkedBatching
from sim.components.pool.config import (
    BALANCERS,
    POOL_LATENCIES,
    SCHEDULERS,
    AutoscaleConfig,
    CrashConfig,
    PoolConfig,
    SpotConfig,
)
from sim.components.pool.static import StaticBatching
from sim.workload.prefix import prefix_block_tokens

__all__ = [
    "AutoscaleConfig",
    "BALANCERS",
    "CrashConfig",
    "DispatchPool",
    "InferencePool",
    "POOL_CLASSES",
    "POOL_LATENCIES",
    "PoolConfig",
    "SCHEDULERS",
    "SpotConfig",
    "build_pool",
    "make_pool",
    "pool_latency",
]


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
    if pc.devices_per_replica > 1 and getattr(hw, "interconnect_gbps", None) is None:
        checks.both(
            f"{key}.devices_per_replica",
            pc.devices_per_replica,
            f"hardware.{pc.hardware}.interconnect_gbps",
            None,
            "do not go together: a replica of several devices exchanges activations between "
            "them (tensor-parallel all-reduces); give the hardware its interconnect_gbps, "
            "or use devices_per_replica=1",
        )
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


class StaticPool(StaticBatching, InferencePool):
    """One FIFO queue, static batching."""


class StaticDispatchPool(StaticBatching, DispatchPool):
    """A queue per replica, static batching."""


class ChunkedPool(ChunkedBatching, InferencePool):
    """One FIFO queue, chunked prefill."""


class ChunkedDispatchPool(ChunkedBatching, DispatchPool):
    """A queue per replica, chunked prefill."""


# (balancer kind, scheduler) -> pool class: the policy's batch loop first in the MRO
POOL_CLASSES: dict[tuple[str, str], type[InferencePool]] = {
    ("central", "continuous"): InferencePool,
    ("dispatch", "continuous"): DispatchPool,
    ("central", "static"): StaticPool,
    ("dispatch", "static"): StaticDispatchPool,
    ("central", "chunked"): ChunkedPool,
    ("dispatch", "chunked"): ChunkedDispatchPool,
}


def make_pool(
    name: str,
    ctx: Any,
    latency: Any,
    *,
    balancer: str = "central",
    scheduler: str = "continuous",
    **kw: Any,
) -> InferencePool:
    """A pool with this balancer and scheduler (:data:`POOL_CLASSES`); ``kw`` go to the pool."""
    checks.choice("balancer", balancer, BALANCERS)
    checks.choice("scheduler", scheduler, SCHEDULERS)
    if balancer == "central":
        return POOL_CLASSES["central", scheduler](name, ctx, latency, **kw)
    rng = ctx.rng.stream(f"pools.{name}.balancer")
    cls = POOL_CLASSES["dispatch", scheduler]
    return cls(name, ctx, latency, balancer=balancer, rng=rng, **kw)


def _check_fleet(key: str, pc: Any) -> None:
    """Combinations of the fleet's keys (each field was checked on its own already)."""
    a = pc.autoscale
    if a.enabled and a.min_replicas > a.max_replicas:
        checks.both(
            f"{key}.autoscale.min_replicas",
            a.min_replicas,
            f"{key}.autoscale.max_replicas",
            a.max_replicas,
            "need min_replicas <= max_replicas",
        )
    if a.enabled and a.metric == "utilization" and a.target > 1:
        checks.both(
            f"{key}.autoscale.target",
            a.target,
            f"{key}.autoscale.metric",
            a.metric,
            "need a target <= 1 (a busy share of replica-time); queue and concurrency "
            "targets are requests per replica",
        )


def _check_scheduler(key: str, pc: Any) -> None:
    """What the scheduler needs of the pool's other keys."""
    if pc.scheduler != "chunked":
        return
    if pc.latency != "roofline":
        checks.fail(
            f"{key}.scheduler",
            pc.scheduler,
            f"needs {key}.latency='roofline' (a token budget per iteration needs "
            f"iteration times by token; {key}.latency={pc.latency!r} draws one service "
            "time per request); use scheduler=continuous or static with it",
        )
    if pc.max_batched_tokens < pc.max_batch_size:
        checks.both(
            f"{key}.max_batched_tokens",
            pc.max_batched_tokens,
            f"{key}.max_batch_size",
            pc.max_batch_size,
            "need max_batched_tokens >= max_batch_size with scheduler=chunked (each "
            "running sequence takes one token of the budget per iteration; vLLM checks "
            "the same)",
        )


@register("pools", PoolConfig)
def build_pool(b: Any, name: str, pc: Any) -> InferencePool:
    """Self-hosted replicas of a model on a hardware type, batched by ``pc.scheduler``."""
    cfg, ctx = b.cfg, b.ctx
    _check_scheduler(f"pools.{name}", pc)
    latency = pool_latency(name, pc, cfg, ctx)  # checks pc.hardware names a catalog entry
    _check_fleet(f"pools.{name}", pc)
    hw = cfg.hardware[pc.hardware]
    pool = make_pool(
        name,
        ctx,
        latency,
        balancer=pc.balancer,
        scheduler=pc.scheduler,
        replicas=int(pc.replicas),
        max_batch_size=int(pc.max_batch_size),
        max_batched_tokens=int(pc.max_batched_tokens),
        max_queue=int(pc.max_queue),
        usd_per_replica_hour=float(hw.usd_per_hour) * int(pc.devices_per_replica),
        skill=pc.skill,
        prefix_block_tokens=prefix_block_tokens(cfg) if pc.prefix_caching else None,
        provision_s=float(pc.provision_s),
        billing_increment_s=float(pc.billing_increment_s),
        billing_minimum_s=float(pc.billing_minimum_s),
        autoscale=pc.autoscale,
        spot=pc.spot,
        crash=pc.crash,
    )
    if pc.latency == "roofline":
        from sim.latency.roofline import step_parameters

        _, why = step_parameters(hw, pc)
        if why:
            why = why.replace("hardware.NAME", f"hardware.{pc.hardware}")
            pool.build_notes.append(f"pools.{name} ({pc.hardware}, {pc.model}): {why}")
    return pool
