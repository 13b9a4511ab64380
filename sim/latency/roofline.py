"""RooflineLatency: iteration times of a transformer replica from peak FLOP/s and bandwidth.

Units: parameters ``P`` (count, = ``params_b·1e9``), bytes, FLOP, seconds. A replica
is ``devices`` identical devices with tensor parallelism (TP = ``devices``): their
FLOP/s, bandwidth and memory add up, and every iteration pays the all-reduces that
tensor parallelism needs (below).

Quantities::

    F   = peak_tflops·1e12·devices                     FLOP/s of the replica
    BW  = memory_gbps·1e9·devices                      bytes/s of the replica
    Wb  = P·bytes_per_param                            weight bytes
    kvb = 2·layers·kv_heads·(hidden_size/heads)·kv_bytes
                                                       KV bytes per token (K and V);
                                                       kv_bytes from the pool's kv_precision

Prefill of prompts ``p_i`` (one iteration, compute-bound, roofline max with one read
of the weights and one write of the new KV)::

    flops_prefill = 2·P·Σp_i + 2·layers·hidden_size·Σp_i²      (linear + causal attention)
    prefill_s = max(flops_prefill / (F·prefill_efficiency),
                    (Wb + kvb·Σp_i) / (BW·decode_efficiency)) + comm_s(Σp_i) + step_overhead_s

Decode step of a batch of ``b`` sequences holding ``K`` KV tokens in total (one token
each; memory-bound at small batch, compute-bound at very large batch)::

    flops_decode = 2·P·b + 4·layers·hidden_size·K
    decode_step_s = max((Wb + kvb·K) / (BW·decode_efficiency),
                        flops_decode / (F·prefill_efficiency)) + comm_s(b) + step_overhead_s

Tensor-parallel communication (Megatron-style TP: two all-reduces of the activations per
layer, after attention and after the MLP), added to every iteration that moves ``T``
tokens (prompt tokens in prefill, one per sequence in decode) when ``devices = n > 1``::

    comm_s = 2·layers·(allreduce_latency_s + 2·(n−1)/n · T·hidden_size·act_bytes / IC)
    IC  = interconnect_gbps·1e9·allreduce_efficiency   ring all-reduce bus bandwidth

with ``act_bytes`` = 2 (activations stay 16-bit with fp8 weights, as in vLLM). The
fixed latency dominates in decode (small messages), the bandwidth term in prefill.

A mixed iteration (chunked prefill: prompt chunks ``c_i`` whose first ``o_i`` tokens are
already in the KV cache, together with a decode batch ``b`` holding ``K`` KV tokens)::

    flops = 2·P·(Σc_i + b) + 4·layers·hidden_size·(Σ(c_i·o_i + c_i²/2) + K)
    bytes = Wb + kvb·(Σ(o_i + c_i) + K)
    step_s = max(flops/(F·prefill_efficiency), bytes/(BW·decode_efficiency))
             + comm_s(Σc_i + b) + step_overhead_s + seq_overhead_s·(b + #chunks)

``prefill_s`` and ``decode_step_s`` are its two special cases (no decode; no chunk).

KV-cache capacity of a replica (tokens)::

    kv_capacity_tokens = floor((memory_gb·1e9·devices·kv_memory_fraction − Wb) / kvb)

``prefill_efficiency`` is the achieved share of peak FLOP/s (MFU) and is used for
every compute-bound term; ``decode_efficiency`` is the achieved share of peak
bandwidth (MBU) and is used for every memory-bound term. Two overheads are added to
every iteration, the time the engine spends outside the GPU kernels (scheduling,
input preparation, sampling, output processing, kernel launches): ``step_overhead_s``
once per iteration, so small batches and short prompts are not free, and
``seq_overhead_s`` once per sequence in the iteration (per-request bookkeeping, which
is why an engine's step time grows with the batch even when the GPU work does not).
``prefill_s`` adds ``seq_overhead_s`` per prompt, ``decode_step_s`` per sequence.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from sim import checks

# Bytes per activation element exchanged by tensor-parallel all-reduces (bf16/fp16).
ACT_BYTES = 2.0
# assumption: a ring all-reduce reaches ~80 % of the link's one-way bandwidth as bus
# bandwidth on large messages (nccl-tests all_reduce_perf "busbw" on 8x A100/H100 NVLink
# systems sits near 80 % of the per-direction NVLink figure; NVIDIA nccl-tests docs,
# PERFORMANCE.md, define busbw so it compares with the link speed).
ALLREDUCE_EFFICIENCY = 0.8

# Bytes per weight for the precisions a pool may run at; a precision not listed
# keeps the model's own ``bytes_per_param``.
PRECISION_BYTES: dict[str, float] = {
    "fp32": 4.0,
    "tf32": 4.0,
    "fp16": 2.0,
    "bf16": 2.0,
    "fp8": 1.0,
    "int8": 1.0,
    "int4": 0.5,
}


class RooflineLatency:
    """Prefill and decode iteration times of one replica by the roofline model (see module)."""

    def __init__(
        self,
        *,
        params_b: float,
        layers: int,
        hidden_size: int,
        heads: int,
        kv_heads: int,
        bytes_per_param: float,
        kv_bytes: float,
        peak_tflops: float,
        memory_gb: float,
        memory_gbps: float,
        devices: int = 1,
        kv_memory_fraction: float = 0.9,
        prefill_efficiency: float = 0.5,
        decode_efficiency: float = 0.6,
        step_overhead_s: float = 0.0,
        seq_overhead_s: float = 0.0,
        interconnect_gbps: float | None = None,
        allreduce_latency_s: float = 0.0,
    ) -> None:
        self.params_b = checks.positive("params_b", params_b)
        for name, value in (
            ("layers", layers),
            ("hidden_size", hidden_size),
            ("heads", heads),
            ("kv_heads", kv_heads),
            ("devices", devices),
        ):
            checks.integer(name, value, 1)
        if hidden_size % heads:
            checks.both("hidden_size", hidden_size, "heads", heads, "need hidden_size % heads == 0")
        if kv_heads > heads:
            checks.both("kv_heads", kv_heads, "heads", heads, "need kv_heads <= heads")
        self.layers = layers
        self.hidden_size = hidden_size
        self.heads = heads
        self.kv_heads = kv_heads
        self.devices = devices
        self.bytes_per_param = checks.positive("bytes_per_param", bytes_per_param)
        self.kv_bytes = checks.positive("kv_bytes", kv_bytes)
        self.peak_tflops = checks.positive("peak_tflops", peak_tflops)
        self.memory_gb = checks.positive("memory_gb", memory_gb)
        self.memory_gbps = checks.positive("memory_gbps", memory_gbps)
        self.kv_memory_fraction = checks.fraction("kv_memory_fraction", kv_memory_fraction)
        self.prefill_efficiency = checks.fraction("prefill_efficiency", prefill_efficiency)
        self.decode_efficiency = checks.fraction("decode_efficiency", decode_efficiency)
        self.step_overhead_s = checks.non_negative("step_overhead_s", step_overhead_s)
        self.seq_overhead_s = checks.non_negative("seq_overhead_s", seq_overhead_s)
        self.allreduce_latency_s = checks.non_negative("allreduce_latency_s", allreduce_latency_s)
        if devices > 1 and interconnect_gbps is None:
            raise ValueError(
                f"devices={devices} needs the hardware's interconnect_gbps (the bandwidth "
                "between the devices of a replica, for tensor-parallel all-reduces)"
            )
        self.interconnect_gbps = (
            None
            if interconnect_gbps is None
            else checks.positive("interconnect_gbps", interconnect_gbps)
        )

        self.params = self.params_b * 1e9
        self.weight_bytes = self.params * self.bytes_per_param
        self.kv_bytes_per_token = 2.0 * layers * kv_heads * (hidden_size / heads) * self.kv_bytes
        # effective rates, efficiencies folded in
        self._flops_s = self.peak_tflops * 1e12 * devices * self.prefill_efficiency
        self._bytes_s = self.memory_gbps * 1e9 * devices * self.decode_efficiency
        self._attn_prefill = 2.0 * layers * hidden_size  # FLOP per prompt-token²
        self._attn_decode = 4.0 * layers * hidden_size  # FLOP per KV token per step
        # communication: comm_s(T) = _comm_fixed + _comm_per_token·T (0 at one device)
        if devices > 1:
            ring = 2.0 * (devices - 1) / devices
            ic = self.interconnect_gbps * 1e9 * ALLREDUCE_EFFICIENCY  # type: ignore[operator]
            self._comm_fixed = 2.0 * layers * self.allreduce_latency_s
            self._comm_per_token = 2.0 * layers * ring * hidden_size * ACT_BYTES / ic
        else:
            self._comm_fixed = 0.0
            self._comm_per_token = 0.0
        usable = self.memory_gb * 1e9 * devices * self.kv_memory_fraction
        free = usable - self.weight_bytes
        if free < self.kv_bytes_per_token:
            per_device = self.memory_gb * 1e9 * self.kv_memory_fraction
            need = math.floor(self.weight_bytes / per_device) + 1
            raise ValueError(
                f"model does not fit: {self.params_b:g}B params at {self.bytes_per_param:g} "
                f"bytes/param need {self.weight_bytes / 1e9:.1f} GB of weights, but "
                f"{devices} device(s) x {self.memory_gb:g} GB x kv_memory_fraction "
                f"{self.kv_memory_fraction:g} give {usable / 1e9:.1f} GB; use at least "
                f"{need} devices per replica, a lower precision, or a larger device "
                f"(this one fits at most {usable / self.bytes_per_param / 1e9:.1f}B params)"
            )
        self.kv_capacity_tokens = int(free // self.kv_bytes_per_token)

    @classmethod
    def from_specs(cls, model: Any, hw: Any, pool: Any) -> RooflineLatency:
        """Build from a ModelSpec, a HardwareSpec and a PoolConfig (or look-alikes)."""
        return roofline_from_config(model, hw, pool)

    def prefill_s(self, prompt_tokens: Sequence[int]) -> float:
        """Seconds of one prefill iteration over prompts of these lengths (see module)."""
        total = 0
        sq = 0
        for p in prompt_tokens:
            total += p
            sq += p * p
        compute = (2.0 * self.params * total + self._attn_prefill * sq) / self._flops_s
        memory = (self.weight_bytes + self.kv_bytes_per_token * total) / self._bytes_s
        return (
            (compute if compute > memory else memory)
            + self._comm_fixed
            + self._comm_per_token * total
            + self.step_overhead_s
            + self.seq_overhead_s * len(prompt_tokens)
        )

    def decode_step_s(self, batch_size: int, kv_tokens: int) -> float:
        """Seconds of one decode iteration of ``batch_size`` sequences (see module)."""
        memory = (self.weight_bytes + self.kv_bytes_per_token * kv_tokens) / self._bytes_s
        compute = (2.0 * self.params * batch_size + self._attn_decode * kv_tokens) / self._flops_s
        return (
            (memory if memory > compute else compute)
            + self._comm_fixed
            + self._comm_per_token * batch_size
            + self.step_overhead_s
            + self.seq_overhead_s * batch_size
        )

    def mixed_step_s(
        self,
        chunks: Sequence[int],
        contexts: Sequence[int],
        batch_size: int,
        kv_tokens: int,
    ) -> float:
        """Seconds of one iteration that prefills prompt ``chunks`` and decodes a batch.

        ``chunks[i]`` new prompt tokens follow ``contexts[i]`` tokens of the same prompt
        already in the KV cache (chunked prefill); ``batch_size`` decoding sequences hold
        ``kv_tokens`` KV tokens in total (see module). With no chunks it is
        :meth:`decode_step_s`; with no decode and zero contexts, :meth:`prefill_s`.
        """
        tokens = batch_size
        attn = 0.0
        kv_read = kv_tokens
        for c, o in zip(chunks, contexts, strict=True):
            tokens += c
            attn += c * o + 0.5 * c * c
            kv_read += o + c
        compute = (
            2.0 * self.params * tokens + self._attn_decode * (attn + kv_tokens)
        ) / self._flops_s
        memory = (self.weight_bytes + self.kv_bytes_per_token * kv_read) / self._bytes_s
        return (
            (compute if compute > memory else memory)
            + self._comm_fixed
            + self._comm_per_token * tokens
            + self.step_overhead_s
            + self.seq_overhead_s * (batch_size + len(chunks))
        )

    def __repr__(self) -> str:
        return (
            f"RooflineLatency(params_b={self.params_b:g}, devices={self.devices}, "
            f"peak_tflops={self.peak_tflops:g}, memory_gbps={self.memory_gbps:g}, "
            f"kv_capacity_tokens={self.kv_capacity_tokens})"
        )


# Used where neither the pool nor the hardware's calibration gives a value (a pool with
# them gets a note saying so). Efficiencies: the shares this model used before it was
# calibrated (below both fits: H100 0.59/0.84, A100 0.76/0.78), so an uncalibrated
# device is not flattered. Overheads: about what both fits give (H100 2.38 ms and 57 us,
# A100 2.16 ms and 57 us; configs/hardware) -- the engine's CPU time, not the device's.
UNCALIBRATED = {
    "prefill_efficiency": 0.5,
    "decode_efficiency": 0.6,
    "step_overhead_s": 0.0024,
    "seq_overhead_s": 58e-6,
}


def calibration(hw: Any, precision: str) -> Any:
    """``hw.calibration[precision]``, or None where the hardware has none for it."""
    return (dict(getattr(hw, "calibration", None) or {})).get(precision)


def step_parameters(hw: Any, pool: Any) -> tuple[dict[str, float], str | None]:
    """The pool's efficiencies and overheads, and where they came from.

    Each of ``prefill_efficiency``, ``decode_efficiency``, ``step_overhead_s`` and
    ``seq_overhead_s`` is the pool's own value when set, else the hardware's calibration
    for the pool's precision (:func:`calibration`), else :data:`UNCALIBRATED`. The second value is
    ``None`` when nothing came from :data:`UNCALIBRATED`, else a sentence saying what did.
    """
    precision = str(pool.precision)
    cal = calibration(hw, precision)
    fitted = {}
    if cal is not None:
        fitted = {
            "prefill_efficiency": float(cal.prefill_efficiency),
            "decode_efficiency": float(cal.decode_efficiency),
            "step_overhead_s": float(cal.step_overhead_ms) / 1000.0,
            "seq_overhead_s": float(cal.seq_overhead_us) / 1e6,
        }
    out: dict[str, float] = {}
    guessed = []
    for name, default in UNCALIBRATED.items():
        own = getattr(pool, name, None)
        if own is not None:
            out[name] = float(own)
        elif name in fitted:
            out[name] = fitted[name]
        else:
            out[name] = default
            guessed.append(f"{name}={default:g}")
    if not guessed:
        return out, None
    return out, (
        f"no calibration for precision {precision!r} on this hardware: uncalibrated "
        f"{', '.join(guessed)} (set them on the pool, or add hardware.NAME.calibration.{precision})"
    )


def roofline_from_config(model: Any, hw: Any, pool: Any) -> RooflineLatency:
    """A :class:`RooflineLatency` from config objects.

    Reads ``model.{params_b, layers, hidden_size, heads, kv_heads, bytes_per_param,
    kv_bytes}``, ``hw.{tflops, memory_gb, memory_gbps, interconnect_gbps,
    allreduce_latency_us, calibration}`` and ``pool.{precision, kv_precision,
    devices_per_replica, kv_memory_fraction, prefill_efficiency, decode_efficiency,
    step_overhead_s}`` (see :func:`step_parameters` for the last three).
    ``pool.precision`` must be a key of ``hw.tflops``; it also sets the bytes per weight
    (fp16/bf16: 2, fp8/int8: 1, fp32: 4, int4: 0.5) -- a precision not in that list keeps
    ``model.bytes_per_param``. ``pool.kv_precision`` (optional) sets the bytes per
    KV-cache element apart from the weights (fp8: 1); null keeps ``model.kv_bytes``.
    """
    precision = str(pool.precision)
    kv_precision = getattr(pool, "kv_precision", None)
    kv_bytes = PRECISION_BYTES[str(kv_precision)] if kv_precision else float(model.kv_bytes)
    tflops = dict(hw.tflops)
    if precision not in tflops:
        available = ", ".join(sorted(tflops)) or "none"
        raise ValueError(
            f"precision={precision!r} is not offered by this hardware; its tflops list: {available}"
        )
    step, _ = step_parameters(hw, pool)
    cal = calibration(hw, precision)
    allreduce_us = getattr(cal, "allreduce_latency_us", None) if cal is not None else None
    if allreduce_us is None:
        allreduce_us = getattr(hw, "allreduce_latency_us", 0.0)
    return RooflineLatency(
        params_b=model.params_b,
        layers=int(model.layers),
        hidden_size=int(model.hidden_size),
        heads=int(model.heads),
        kv_heads=int(model.kv_heads),
        bytes_per_param=PRECISION_BYTES.get(precision, float(model.bytes_per_param)),
        kv_bytes=kv_bytes,
        peak_tflops=tflops[precision],
        memory_gb=hw.memory_gb,
        memory_gbps=hw.memory_gbps,
        devices=int(pool.devices_per_replica),
        kv_memory_fraction=pool.kv_memory_fraction,
        interconnect_gbps=getattr(hw, "interconnect_gbps", None),
        allreduce_latency_s=float(allreduce_us) / 1e6,
        **step,
    )
