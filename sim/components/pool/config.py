"""Typed config of a self-hosted pool: ``pools.NAME`` and its infrastructure blocks.

:class:`PoolConfig` is what a scenario writes under ``pools.NAME``; the blocks
``autoscale``, ``spot`` and ``crash`` are off by default, so a pool is a fixed fleet of
on-demand replicas that never fail unless a scenario says otherwise. Every default
names its public source and date, or says ``assumption:`` and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from omegaconf import MISSING

from sim import checks
from sim.checks import knob

POOL_LATENCIES = ("roofline", "exponential", "lognormal")
# central: one FIFO queue for the pool (join-the-shortest-queue ideal); the others assign
# each request to a replica on arrival (sim/components/pool/balancing.py)
BALANCERS = ("central", "round_robin", "random", "least_outstanding", "power_of_two")
METRICS = ("utilization", "queue", "concurrency")  # what the autoscaler targets
ON_LOSS = ("requeue", "fail")  # what happens to the requests of a lost replica
# continuous: iteration-level batching, a prefill iteration for the requests admitted
# together pauses the decode batch (vLLM's prefill-first default before chunking);
# chunked: a token budget per iteration, decode first, then prompt chunks (vLLM chunked
# prefill, SGLang); static: a whole batch admitted together and released together.
SCHEDULERS = ("continuous", "chunked", "static")


@dataclass
class AutoscaleConfig:
    """Kubernetes-HPA-like autoscaling of the pool's replicas (off by default)."""

    enabled: bool = False  # off: the fixed fleet of pools.NAME.replicas
    # utilization: busy share of serving replica-time since the last evaluation (like a
    # GPU-utilization metric); queue: requests waiting per ready replica; concurrency:
    # requests waiting or in service per ready replica (Knative's default metric).
    metric: str = knob("utilization", choices=METRICS)
    target: float = knob(0.7, gt=0)  # value of the metric per replica to aim at
    # SOURCE: KEDA ScaledObject pollingInterval, default 30 s (keda.sh/docs/2.22/reference/
    # scaledobject-spec, read 2026-11); the Kubernetes HPA's own sync period is 15 s.
    interval_s: float = knob(30.0, gt=0)
    min_replicas: int = knob(1, ge=0, integer=True)  # 0: scale to zero
    max_replicas: int = knob(8, ge=1, integer=True)
    # SOURCE: Kubernetes HPA, behavior.scaleDown.stabilizationWindowSeconds, default 300 s
    # (kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale, read 2026-11);
    # KEDA's cooldownPeriod before scaling to zero is also 300 s.
    cooldown_s: float = knob(300.0, ge=0)
    step: int | None = knob(None, ge=1, integer=True, none_ok=True)  # most added/removed at once
    # SOURCE: Kubernetes HPA --horizontal-pod-autoscaler-tolerance, default 0.1: no change
    # while the metric is within 10 % of the target.
    tolerance: float = knob(0.1, ge=0, lt=1)


@dataclass
class SpotConfig:
    """A share of the replicas on spot/preemptible capacity (off by default)."""

    share: float = knob(0.0, ge=0, le=1)  # of the replicas; 0: all on-demand
    # SOURCE: AWS advertises Spot "up to 90 %" off on-demand; users report 50-70 % typical
    # (dev.to/alonshrestha, 2025) and ~66 % for GPU instances (spell.ml, 2020). 0.6 sits there.
    discount: float = knob(0.6, ge=0, lt=1)
    # assumption: AWS Spot Instance Advisor puts p4d (A100) in its 5-10 % "frequency of
    # interruption" band (thundercompute.com, data of 2025-05 and 2026-02), a share of
    # instances interrupted per month; read as 10 % per instance-month = 0.1 / 730 h.
    preemptions_per_h: float = knob(0.00014, ge=0, le=1000)
    # SOURCE: AWS EC2 user guide, "Spot Instance interruption notices": a warning two
    # minutes before the instance is stopped or terminated (read 2026-11).
    notice_s: float = knob(120.0, ge=0)
    on_preempt: str = knob("requeue", choices=ON_LOSS)


@dataclass
class CrashConfig:
    """Replica crashes with a restart time (off by default)."""

    # Mean time between failures of one replica, hours; null: replicas never crash. For
    # scale: Meta saw 419 unexpected interruptions in 54 days on 16,384 H100s (Llama 3
    # paper, arXiv:2407.21783, 2024), about 50,000 GPU-hours between failures.
    mtbf_h: float | None = knob(None, gt=0, none_ok=True)
    # assumption: 300 s to restart the server and reload the weights (between a container
    # restart, ~1 min, and a replacement instance, ~5 min or more).
    restart_s: float = knob(300.0, ge=0)
    on_crash: str = knob("requeue", choices=ON_LOSS)


@dataclass
class PoolConfig:
    """Replicas of one model on one hardware type, with continuous batching."""

    model: str = MISSING  # key of models
    hardware: str = MISSING  # key of hardware
    replicas: int = knob(1, ge=1, integer=True)  # the fixed fleet (initial size if autoscaled)
    devices_per_replica: int = knob(1, ge=1, integer=True)  # tensor parallel degree
    precision: str = "fp16"  # key of the hardware's tflops; sets the bytes per weight
    # KV-cache precision, apart from the weights' (vLLM --kv-cache-dtype fp8 halves the
    # bytes per cached token: twice the KV capacity, half the KV reads per decode step);
    # null: the model's own kv_bytes
    kv_precision: str | None = knob(
        None, choices=("fp32", "fp16", "bf16", "fp8", "int8", "int4"), none_ok=True
    )
    latency: str = knob("roofline", choices=POOL_LATENCIES)  # or a per-request service time
    service_mean_s: float = knob(
        0.05, ge=1e-6
    )  # the clock's resolution: 1 us  # exponential / lognormal latency
    service_cv: float = knob(1.0, ge=0)  # lognormal latency
    max_batch_size: int = knob(256, ge=1, integer=True)  # 1 turns batching off
    # How a replica forms its batches (see SCHEDULERS above; chunked needs latency=roofline).
    scheduler: str = knob("continuous", choices=SCHEDULERS)
    # chunked: tokens per iteration, decode tokens (one per sequence) plus prompt chunks.
    # SOURCE: vLLM engine arguments, --max-num-batched-tokens: 2048 by default for the
    # OpenAI-compatible server with chunked prefill (docs.vllm.ai, engine args, V1, 2025).
    max_batched_tokens: int = knob(2048, ge=1, integer=True)
    max_queue: int = knob(100_000, ge=0, integer=True)  # waiting beyond this: dropped
    kv_memory_fraction: float = knob(0.9, gt=0, le=1)  # device memory for weights + KV
    # Step-time efficiencies; null: the hardware's calibration for this precision
    # (hardware.NAME.calibration, fitted to published measurements), or, where it has
    # none, the uncalibrated defaults (sim/latency/roofline.py UNCALIBRATED, with a note).
    prefill_efficiency: float | None = knob(None, gt=0, le=1, none_ok=True)  # MFU
    decode_efficiency: float | None = knob(None, gt=0, le=1, none_ok=True)  # MBU
    step_overhead_s: float | None = knob(None, ge=0, le=1, none_ok=True)  # per iteration
    seq_overhead_s: float | None = knob(None, ge=0, le=1, none_ok=True)  # per sequence, per step
    # Hardest request (difficulty in [0, 1]) the model answers acceptably; 1: every one.
    skill: float = knob(1.0, ge=0, le=1)
    # Reuse the KV cache of prompt prefixes seen before (vLLM --enable-prefix-caching,
    # SGLang's radix cache): blocks from workload.prefix or a JSONL trace's hashes.
    prefix_caching: bool = False
    # How an arrival finds a replica (central: one FIFO queue for the pool).
    balancer: str = knob("central", choices=BALANCERS)
    # Cold start of a new replica: instance start + image pull + weight load + warm-up.
    # assumption: 300 s (range 2-10 min). A new AWS VM takes ~5 min (cast.ai, 2023-05);
    # vLLM loads an 8B model in ~25 s and a 70B one in ~85 s from local NVMe once the
    # image is there, an uncached 15-18 GB image pull adds 4-8 min (spheron.network, 2026).
    provision_s: float = knob(300.0, ge=0)
    # SOURCE: AWS, "Announcing Amazon EC2 per second billing" (2017-10-02): Linux instances
    # (on-demand, reserved, spot) bill in one-second increments with a 60 s minimum.
    # Per-hour billing (the earlier rule, some marketplaces): billing_increment_s=3600.
    billing_increment_s: float = knob(1.0, gt=0)
    billing_minimum_s: float = knob(60.0, ge=0)
    autoscale: AutoscaleConfig = field(default_factory=AutoscaleConfig)
    spot: SpotConfig = field(default_factory=SpotConfig)
    crash: CrashConfig = field(default_factory=CrashConfig)


def checked(schema: type, values: Any, prefix: str) -> Any:
    """An instance of ``schema`` (a config dataclass) from ``values``, every rule applied.

    ``values`` is a config node, a mapping or an instance; each field is checked with
    its :func:`~sim.checks.knob` rule and named ``prefix + field`` in a message, so a
    pool built from Python gets the checks a scenario gets.
    """
    if values is None:
        return schema()
    if isinstance(values, schema):
        data = {f.name: getattr(values, f.name) for f in fields(schema)}
    else:
        data = {f.name: values[f.name] for f in fields(schema) if f.name in values}
    for key, rule in checks.rules(schema):
        if key in data:
            rule.check(prefix + key, data[key])
    return schema(**data)
