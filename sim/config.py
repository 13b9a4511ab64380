"""Typed configuration schema: what a scenario may say, with types and defaults.

Hydra checks every composed config against these dataclasses, so a misspelt key or a
wrong type fails before the run starts with a message naming the key. Cross-field
checks (a pool naming an unknown model, an empty path) happen in :mod:`sim.build`,
with messages that name the key, the value and what is allowed.

Components are declared by kind and name (``pools.gpu``, ``apis.openai``) and the
request path lists names in order; later kinds (caches, retrieval, routers, review
queues) join as new typed dictionaries without reshaping this schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

ARRIVAL_KINDS = ("poisson", "diurnal", "mmpp", "sessions", "trace")
TOKEN_KINDS = ("lognormal", "trace", "fixed")
POOL_LATENCIES = ("roofline", "exponential", "lognormal")
ON_LIMIT = ("queue", "reject")


# --- catalogs -------------------------------------------------------------------------
@dataclass
class HardwareSpec:
    """One accelerator or CPU instance (per device; a replica may hold several)."""

    kind: str = "gpu"  # gpu | cpu
    tflops: dict[str, float] = field(default_factory=dict)  # dense peak by precision
    memory_gb: float = MISSING
    memory_gbps: float = MISSING  # memory bandwidth, GB/s
    usd_per_hour: float = MISSING  # on-demand price of one device
    description: str = ""


@dataclass
class ModelSpec:
    """Transformer shape: enough for a roofline step-time model and the KV-cache size."""

    params_b: float = MISSING  # parameters, billions
    layers: int = MISSING
    hidden_size: int = MISSING
    heads: int = MISSING
    kv_heads: int = MISSING  # < heads for grouped-query / multi-query attention
    bytes_per_param: float = 2.0  # fp16/bf16 weights
    kv_bytes: float = 2.0  # bytes per KV-cache element
    max_context_tokens: int = 8192
    description: str = ""


@dataclass
class ApiModelSpec:
    """A hosted model: list prices and observed latency shape."""

    usd_per_mtok_input: float = MISSING
    usd_per_mtok_cached_input: float | None = None  # None: no discount for cached input
    usd_per_mtok_output: float = MISSING
    ttft_median_s: float = 0.5  # time to first token, lognormal
    ttft_sigma: float = 0.5
    tokens_per_s_median: float = 50.0  # output speed, lognormal
    tokens_per_s_sigma: float = 0.3
    description: str = ""


# --- workload -------------------------------------------------------------------------
@dataclass
class DiurnalConfig:
    """Relative rate by hour of day (24 values) and day of week (7 values, Monday first)."""

    hourly: list[float] = field(default_factory=lambda: [1.0] * 24)
    weekly: list[float] = field(default_factory=lambda: [1.0] * 7)


@dataclass
class MmppConfig:
    """Markov-modulated Poisson: state i has rate rates_rps[i] and mean sojourn mean_sojourn_s[i]; states cycle at random."""

    rates_rps: list[float] = field(default_factory=lambda: [0.5, 10.0])
    mean_sojourn_s: list[float] = field(default_factory=lambda: [300.0, 30.0])


@dataclass
class SessionsConfig:
    """Users with working hours, active coding periods and think time between requests."""

    requests_per_user_day: float = 100.0  # on a working day
    workday_start_h: float = 9.0  # local start of the working day (hours after midnight)
    workday_hours: float = 8.0
    start_jitter_h: float = 1.0  # std-dev of a user's start time, per day
    weekend_factor: float = 0.1  # chance a user works on a Saturday or Sunday
    active_period_s: float = 1800.0  # mean length of a burst of activity (exponential)
    idle_period_s: float = 1200.0  # mean pause between bursts within the working day
    timezone_spread_h: float = 0.0  # users' clocks spread uniformly over +/- this


@dataclass
class TraceConfig:
    """Replay of an Azure LLM trace (``TIMESTAMP,ContextTokens,GeneratedTokens``)."""

    path: str = "azure_llm_2023_code.csv"  # bare name: a trace shipped with aicostsim
    speedup: float = 1.0  # 2.0 replays twice as fast (twice the rate)
    loop: bool = True  # start over when the trace ends before the horizon


@dataclass
class TokensConfig:
    """Prompt and output token counts per request."""

    kind: str = "lognormal"  # lognormal | trace | fixed
    prompt_median: float = 1000.0
    prompt_sigma: float = 1.0
    prompt_min: int = 1
    prompt_max: int = 32768
    output_median: float = 100.0
    output_sigma: float = 1.0
    output_min: int = 1
    output_max: int = 4096
    trace_path: str = "azure_llm_2023_code.csv"  # for kind=trace (empirical distribution)


@dataclass
class WorkloadConfig:
    """Who sends requests, when, and how big they are."""

    arrival: str = "poisson"  # poisson | diurnal | mmpp | sessions | trace
    rate_rps: float = 1.0  # poisson rate; mean rate of diurnal
    users: int | None = None  # sessions: number of users (the scale knob)
    clock_start_h: float = 0.0  # simulated t=0 is this many hours after Monday 00:00
    diurnal: DiurnalConfig = field(default_factory=DiurnalConfig)
    mmpp: MmppConfig = field(default_factory=MmppConfig)
    sessions: SessionsConfig = field(default_factory=SessionsConfig)
    trace: TraceConfig = field(default_factory=TraceConfig)
    tokens: TokensConfig = field(default_factory=TokensConfig)


# --- components -----------------------------------------------------------------------
@dataclass
class ApiConfig:
    """A hosted model behind a provider's API."""

    model: str = MISSING  # key of api_models
    rpm_limit: float | None = None  # requests per minute
    tpm_limit: float | None = None  # tokens (prompt + output) per minute
    on_limit: str = "queue"  # queue: wait for capacity | reject: fail with 429
    max_queue_s: float = 60.0  # queued longer than this: dropped
    error_prob: float = 0.0  # chance a call fails (5xx)


@dataclass
class PoolConfig:
    """Replicas of one model on one hardware type, with continuous batching."""

    model: str = MISSING  # key of models
    hardware: str = MISSING  # key of hardware
    replicas: int = 1
    devices_per_replica: int = 1  # tensor parallel degree
    precision: str = "fp16"  # key of the hardware's tflops
    latency: str = "roofline"  # roofline | exponential | lognormal (per-request service time)
    service_mean_s: float = 0.05  # exponential / lognormal latency
    service_cv: float = 1.0  # lognormal latency
    max_batch_size: int = 256  # 1 turns batching off
    max_queue: int = 100_000  # waiting requests beyond this are dropped
    kv_memory_fraction: float = 0.9  # share of device memory for weights + KV cache
    prefill_efficiency: float = 0.5  # achieved / peak FLOP/s in prefill (MFU)
    decode_efficiency: float = 0.6  # achieved / peak bandwidth in decode (MBU)
    step_overhead_s: float = 0.0  # fixed scheduler/launch overhead per iteration


# --- the run --------------------------------------------------------------------------
@dataclass
class SimConfig:
    """One run: a scenario, its seed, horizon and components."""

    name: str = MISSING  # scenario name (set by the scenario file)
    description: str = ""
    seed: int = 0
    horizon_s: float = 3600.0
    warmup_s: float = 0.0
    bucket_s: float = 0.0  # 0: horizon / 200, rounded to a whole minute where it is longer
    progress: bool | None = None  # None: a progress bar when attached to a terminal
    plots: bool = True
    workload: WorkloadConfig = field(default_factory=WorkloadConfig)
    path: list[str] = field(default_factory=list)  # component names, in order
    apis: dict[str, ApiConfig] = field(default_factory=dict)
    pools: dict[str, PoolConfig] = field(default_factory=dict)
    hardware: dict[str, HardwareSpec] = field(default_factory=dict)
    models: dict[str, ModelSpec] = field(default_factory=dict)
    api_models: dict[str, ApiModelSpec] = field(default_factory=dict)


def register_configs() -> None:
    """Register the schema with Hydra's ConfigStore (idempotent)."""
    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf

    cs = ConfigStore.instance()
    cs.store(name="sim_schema", node=SimConfig)
    if not OmegaConf.has_resolver("ceil_div"):
        # ${ceil_div:a,b} = ceil(a / b), at least 1: sizing rules such as one replica per
        # N users, so a scenario scales with workload.users and stays overridable.
        OmegaConf.register_new_resolver(
            "ceil_div", lambda a, b: max(1, -(-int(a) // int(b))) if a is not None else 1
        )


def to_container(cfg: Any) -> dict:
    """A plain dict of a (possibly structured) config, for summaries."""
    from omegaconf import OmegaConf

    return OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)  # type: ignore[return-value]
