"""Typed schemas of the catalogs: hardware (with its step-time calibration), models, API models.

``configs/hardware``, ``configs/models`` and ``configs/api_models`` hold one entry per
name; :mod:`sim.config` assembles them into the whole schema. Every field states its
rule with :func:`~sim.checks.knob`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import MISSING

from sim.checks import knob

HARDWARE_KINDS = ("gpu", "cpu")


@dataclass
class StepCalibration:
    """How close one hardware at one precision gets to its peaks (fitted to measurements).

    The step-time model (sim/latency/roofline.py) divides FLOPs by peak FLOP/s times
    ``prefill_efficiency`` and bytes by peak bandwidth times ``decode_efficiency``, and
    adds ``step_overhead_ms`` to every iteration and ``seq_overhead_us`` per sequence in
    it. ``benchmarks/calibrate_gpu.py`` fits them to the calibration set of
    ``benchmarks/gpu_data/cases.yaml``.
    """

    prefill_efficiency: float = knob(MISSING, gt=0, le=1)  # achieved / peak FLOP/s (MFU)
    decode_efficiency: float = knob(MISSING, gt=0, le=1)  # achieved / peak bandwidth (MBU)
    step_overhead_ms: float = knob(0.0, ge=0, le=1000)  # per iteration: CPU scheduling, launches
    seq_overhead_us: float = knob(0.0, ge=0, le=100_000)  # per sequence per iteration
    # per all-reduce inside a tensor-parallel replica, as the engine achieves it (its
    # synchronisation included); null: the hardware's allreduce_latency_us
    allreduce_latency_us: float | None = knob(None, ge=0, le=10_000, none_ok=True)
    source: str = ""  # what it was fitted to


@dataclass
class HardwareSpec:
    """One accelerator or CPU instance (per device; a replica may hold several)."""

    kind: str = knob("gpu", choices=HARDWARE_KINDS)
    tflops: dict[str, float] = knob(factory=dict, gt=0)  # dense peak TFLOP/s by precision
    memory_gb: float = knob(MISSING, gt=0)
    memory_gbps: float = knob(MISSING, gt=0)  # memory bandwidth, GB/s
    usd_per_hour: float = knob(MISSING, ge=0)  # on-demand price of one device
    # One-way bandwidth from one device to its peers, GB/s (NVLink, or PCIe without it):
    # what tensor-parallel all-reduces run over. null: no multi-device replicas.
    interconnect_gbps: float | None = knob(None, gt=0, none_ok=True)
    # Fixed cost of one small all-reduce between the devices of a replica, microseconds.
    allreduce_latency_us: float = knob(10.0, ge=0, le=10_000)
    # Fitted efficiencies and overhead by precision (a key of tflops); a precision
    # without an entry uses the pool's own values (uncalibrated defaults, with a note).
    calibration: dict[str, StepCalibration] = field(default_factory=dict)
    description: str = ""


@dataclass
class ModelSpec:
    """Transformer shape: enough for a roofline step-time model and the KV-cache size."""

    params_b: float = knob(MISSING, gt=0)  # parameters, billions
    layers: int = knob(MISSING, ge=1, integer=True)
    hidden_size: int = knob(MISSING, ge=1, integer=True)
    heads: int = knob(MISSING, ge=1, integer=True)
    kv_heads: int = knob(MISSING, ge=1, integer=True)  # < heads for GQA / MQA
    bytes_per_param: float = knob(2.0, gt=0)  # fp16/bf16 weights
    kv_bytes: float = knob(2.0, gt=0)  # bytes per KV-cache element
    max_context_tokens: int = knob(8192, ge=1, integer=True)
    description: str = ""


@dataclass
class ApiModelSpec:
    """A hosted model: list prices and observed latency shape."""

    usd_per_mtok_input: float = knob(MISSING, ge=0)
    usd_per_mtok_cached_input: float | None = knob(None, ge=0, none_ok=True)  # None: no discount
    usd_per_mtok_output: float = knob(MISSING, ge=0)
    ttft_median_s: float = knob(0.5, gt=0)  # time to first token, lognormal
    ttft_sigma: float = knob(0.5, ge=0)
    tokens_per_s_median: float = knob(50.0, gt=0)  # output speed, lognormal
    tokens_per_s_sigma: float = knob(0.3, ge=0)
    description: str = ""
