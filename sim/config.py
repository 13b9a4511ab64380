"""Typed configuration schema: what a scenario may say, with types and defaults.

Hydra checks every composed config against these dataclasses, so a misspelt key or a
wrong type fails before the run starts with a message naming the key. Cross-field
checks (a pool naming an unknown model, an empty path) happen in :mod:`sim.build`,
with messages that name the key, the value and what is allowed.

Components are declared by kind and name (``pools.gpu``, ``apis.openai``) and the
request path lists names in order. Each kind's section and typed config come from its
own module (:mod:`sim.components.kinds`); :func:`schema` assembles the whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field, make_dataclass
from typing import Any

from omegaconf import MISSING

from sim.catalogs import ApiModelSpec, HardwareSpec, ModelSpec  # the catalogs' schemas
from sim.checks import knob

ARRIVAL_KINDS = ("poisson", "diurnal", "mmpp", "sessions", "trace")
TOKEN_KINDS = ("lognormal", "trace", "fixed")


# --- workload -------------------------------------------------------------------------
@dataclass
class DiurnalConfig:
    """Relative rate by hour of day (24 values) and day of week (7 values, Monday first)."""

    hourly: list[float] = knob(factory=lambda: [1.0] * 24, length=24, profile=True)
    weekly: list[float] = knob(factory=lambda: [1.0] * 7, length=7, profile=True)


@dataclass
class MmppConfig:
    """Markov-modulated Poisson: state i has rate rates_rps[i] and mean sojourn mean_sojourn_s[i]; states cycle at random."""

    rates_rps: list[float] = knob(factory=lambda: [0.5, 10.0], min_length=2, ge=0)
    mean_sojourn_s: list[float] = knob(factory=lambda: [300.0, 30.0], min_length=2, gt=0)


@dataclass
class SessionsConfig:
    """Users with working hours, active coding periods and think time between requests."""

    requests_per_user_day: float = knob(100.0, gt=0)  # on a working day
    workday_start_h: float = knob(9.0, ge=0, lt=24)  # local start (hours after midnight)
    workday_hours: float = knob(8.0, gt=0, le=24)
    start_jitter_h: float = knob(1.0, ge=0, le=24)  # std-dev of a user's start, per day
    weekend_factor: float = knob(0.1, ge=0, le=1)  # chance a user works a weekend day
    active_period_s: float = knob(1800.0, gt=0)  # mean burst of activity (exponential)
    idle_period_s: float = knob(1200.0, ge=0)  # mean pause between bursts
    timezone_spread_h: float = knob(0.0, ge=0, le=24)  # clocks spread over +/- this
    # Users differ: each user's rate is scaled by a lognormal multiplier (mean 1, so
    # requests_per_user_day stays the mean). SOURCE: OpenAI, "The state of enterprise AI"
    # (2025-12-08; ChatGPT Enterprise usage of >1M business customers): workers at the
    # 95th percentile send 6x as many messages as the median worker. A lognormal has
    # p95/p50 = exp(1.645 sigma), so sigma = ln 6 / 1.645 = 1.09: the top 10 % of users
    # send 42 % of requests. 0: identical users.
    activity_sigma: float = knob(1.09, ge=0, le=4)


@dataclass
class TraceConfig:
    """Replay of a trace: Azure's CSV (``TIMESTAMP,ContextTokens,GeneratedTokens``) or
    Mooncake's JSONL (``timestamp``, ``input_length``, ``output_length``, ``hash_ids``)."""

    path: str = "azure_llm_2023_code.csv"  # bare name: a trace shipped with aicostsim
    speedup: float = knob(1.0, gt=0)  # 2.0 replays twice as fast (twice the rate)
    loop: bool = True  # start over when the trace ends before the horizon


@dataclass
class TokensConfig:
    """Prompt and output token counts per request."""

    kind: str = knob("lognormal", choices=TOKEN_KINDS)
    prompt_median: float = knob(1000.0, gt=0)
    prompt_sigma: float = knob(1.0, ge=0)
    prompt_min: int = knob(1, ge=1, integer=True)
    prompt_max: int = knob(32768, ge=1, integer=True)
    output_median: float = knob(100.0, gt=0)
    output_sigma: float = knob(1.0, ge=0)
    output_min: int = knob(1, ge=1, integer=True)
    output_max: int = knob(4096, ge=1, integer=True)
    trace_path: str = "azure_llm_2023_code.csv"  # for kind=trace (empirical distribution)


@dataclass
class QueriesConfig:
    """What requests ask: Zipf-like popularity over a universe, plus never-seen queries.

    Defaults are assumptions to override per scenario: web-search query logs follow a
    power law with exponent near 0.8-1 (Baeza-Yates et al., "The impact of caching on
    search engines", SIGIR 2007), and a large share of queries are seen once.
    """

    universe: int = knob(1_000_000, ge=1, le=100_000_000, integer=True)  # repeatable queries
    zipf_s: float = knob(0.9, ge=0, le=5)  # popularity exponent (0: uniform)
    new_share: float = knob(0.0, ge=0, le=1)  # share of queries never seen before
    # Wordings per intent: consecutive popularity ranks k*p .. k*p+p-1 ask the same thing
    # in other words (what a semantic cache can match and an exact one cannot).
    paraphrases: int = knob(1, ge=1, le=1000, integer=True)


@dataclass
class DifficultyConfig:
    """How hard requests are, in [0, 1]: Beta(alpha, beta). Assumption, to set per scenario:
    the default Beta(2, 5) has mean 0.29 — most requests easy, a tail of hard ones."""

    alpha: float = knob(2.0, gt=0, le=1000)
    beta: float = knob(5.0, gt=0, le=1000)


@dataclass
class PrefixConfig:
    """How prompts share prefixes, for prompt caches (APIs) and prefix caches (pools).

    Every prompt starts with ``shared_tokens`` (system prompt, tool definitions), then
    up to ``group_tokens`` shared with the other requests of its group (a conversation,
    a document, a repository; ``groups`` of them with Zipf popularity), then its own
    tokens. A trace in JSONL (Mooncake's format) brings its own block hashes instead.
    Defaults share nothing; scenarios set what their prompts share.
    """

    # OpenAI caches prompts in 128-token increments (platform.openai.com/docs/guides/
    # prompt-caching, read 2026-11); vLLM's KV blocks are 16 tokens.
    block_tokens: int = knob(128, ge=1, le=65536, integer=True)
    shared_tokens: int = knob(0, ge=0, le=10_000_000, integer=True)
    groups: int = knob(1000, ge=1, le=100_000_000, integer=True)
    group_zipf_s: float = knob(1.0, ge=0, le=5)
    group_tokens: int = knob(0, ge=0, le=10_000_000, integer=True)


@dataclass
class PriceChange:
    """A dated list-price change of a hosted model (``api_models.NAME``), from ``at_day``
    (simulated days after t=0) on; a price left null keeps its value."""

    at_day: float = knob(MISSING, ge=0)
    model: str = MISSING  # key of api_models
    usd_per_mtok_input: float | None = knob(None, ge=0, none_ok=True)
    usd_per_mtok_cached_input: float | None = knob(None, ge=0, none_ok=True)
    usd_per_mtok_output: float | None = knob(None, ge=0, none_ok=True)


@dataclass
class GrowthConfig:
    """Launches grow, prices fall: traffic by month and dated price changes (sim/months.py).

    Months are 30.4375 days from t=0. ``monthly_rate`` r runs month k (1, 2, ...) at
    ``(1 + r)^(k-1)`` times the workload's rate; ``monthly_volumes`` gives that multiplier
    per month instead (one value per month the horizon touches). Null: no growth.
    """

    monthly_rate: float | None = knob(None, gt=-1, le=100, none_ok=True)  # 0.2: +20 %/month
    monthly_volumes: list[float] | None = knob(None, none_ok=True, profile=True)
    price_changes: list[PriceChange] = field(default_factory=list)


@dataclass
class WorkloadConfig:
    """Who sends requests, when, and how big they are."""

    arrival: str = knob("poisson", choices=ARRIVAL_KINDS)
    rate_rps: float = knob(1.0, ge=1e-9)  # poisson rate; mean of diurnal (1e-9: one in 30 years)
    users: int | None = knob(None, ge=1, integer=True, none_ok=True)  # sessions: the scale knob
    clock_start_h: float = knob(0.0, ge=0, lt=168)  # t=0 is this many hours after Monday 00:00
    diurnal: DiurnalConfig = field(default_factory=DiurnalConfig)
    mmpp: MmppConfig = field(default_factory=MmppConfig)
    sessions: SessionsConfig = field(default_factory=SessionsConfig)
    trace: TraceConfig = field(default_factory=TraceConfig)
    tokens: TokensConfig = field(default_factory=TokensConfig)
    queries: QueriesConfig = field(default_factory=QueriesConfig)
    difficulty: DifficultyConfig = field(default_factory=DifficultyConfig)
    prefix: PrefixConfig = field(default_factory=PrefixConfig)
    growth: GrowthConfig = field(default_factory=GrowthConfig)


# --- levers -----------------------------------------------------------------------------
LEVERS: dict[str, tuple[str, ...]] = {
    "cache": ("off", "exact", "semantic"),
    "context": ("full", "selective"),
    "routing": ("off", "by_complexity"),
    "review": ("none", "sample", "selective", "all"),
    "autoscale": ("off", "on"),  # a fixed fleet, or the pools' autoscalers
    "fallback": ("off", "on"),  # model calls without, or with, retries and a fallback chain
}


@dataclass
class LeversConfig:
    """One switch per lever, the same names in every scenario (null: the scenario's own).

    A scenario maps each value it offers onto its components in ``lever_options``
    (``lever_options.cache.exact: {path: [cache]}``); :func:`sim.levers.apply_levers`
    applies the chosen one, and refuses a value the scenario does not offer.
    """

    cache: str | None = knob(None, choices=LEVERS["cache"], none_ok=True)
    context: str | None = knob(None, choices=LEVERS["context"], none_ok=True)
    routing: str | None = knob(None, choices=LEVERS["routing"], none_ok=True)
    review: str | None = knob(None, choices=LEVERS["review"], none_ok=True)
    autoscale: str | None = knob(None, choices=LEVERS["autoscale"], none_ok=True)
    fallback: str | None = knob(None, choices=LEVERS["fallback"], none_ok=True)


@dataclass
class UsageConfig:
    """Run the scenario at a usage level, optionally as identical cells (sim/usage.py)."""

    requests_per_day: float | None = knob(None, gt=0, le=1e12, none_ok=True)  # null: as written
    cells: int = knob(1, ge=1, le=1_000_000_000, integer=True)  # simulate one, totals x cells
    max_cell_requests: float | None = knob(None, ge=1, none_ok=True)  # more: more cells
    min_requests: float | None = knob(None, ge=1, none_ok=True)  # fewer: a longer horizon
    max_horizon_s: float = knob(604800.0, gt=0)  # ... but no longer than this
    # Layers the cells share, not multiplied by cells: one retraining loop for the model,
    # one ingestion pipeline for the corpus (each cell simulates them in full).
    shared_layers: list[str] = field(default_factory=lambda: ["iteration", "data_pipeline"])


# --- the run --------------------------------------------------------------------------
@dataclass
class RunConfig:
    """One run without its components: a scenario, its seed, horizon, workload, catalogs."""

    name: str = MISSING  # scenario name (set by the scenario file)
    description: str = ""
    seed: int = knob(0, ge=0, integer=True)
    horizon_s: float = knob(3600.0, gt=0)
    warmup_s: float = knob(0.0, ge=0)  # must also be < horizon_s
    bucket_s: float = knob(0.0, ge=0)  # 0: about horizon / 200 in round units
    progress: bool | None = None  # None: a progress bar when attached to a terminal
    plots: bool = True
    workload: WorkloadConfig = field(default_factory=WorkloadConfig)
    path: list[str] = field(default_factory=list)  # component names, in order
    # components that run beside the path, not in it (data pipelines, monitoring jobs)
    services: list[str] = field(default_factory=list)
    levers: LeversConfig = field(default_factory=LeversConfig)
    usage: UsageConfig = field(default_factory=UsageConfig)
    # lever -> value -> {dotted key: value} that the value sets (see LeversConfig)
    lever_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    hardware: dict[str, HardwareSpec] = field(default_factory=dict)
    models: dict[str, ModelSpec] = field(default_factory=dict)
    api_models: dict[str, ApiModelSpec] = field(default_factory=dict)


_SCHEMA: dict[tuple[tuple[str, type], ...], type] = {}


def schema() -> type:
    """The whole schema: :class:`RunConfig` plus one section per registered component kind.

    ``pools: dict[str, PoolConfig]``, ``apis: dict[str, ApiConfig]``, ... come from
    :mod:`sim.components.kinds`, so a new kind adds its section without touching this file.
    """
    from sim.components.kinds import kinds

    sections = tuple((k.section, k.schema) for k in kinds().values())
    if sections not in _SCHEMA:
        cls = make_dataclass(
            "SimConfig",
            [(name, dict[str, typ], field(default_factory=dict)) for name, typ in sections],
            bases=(RunConfig,),
        )
        cls.__module__ = __name__
        cls.__doc__ = (
            "One run: RunConfig plus a section per component kind (``pools``, ``apis``...)."
        )
        _SCHEMA[sections] = cls
    return _SCHEMA[sections]


def __getattr__(name: str) -> Any:
    if name == "SimConfig":  # the schema of the kinds registered so far
        return schema()
    raise AttributeError(name)


def register_configs() -> None:
    """Register the schema with Hydra's ConfigStore (idempotent)."""
    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf

    cs = ConfigStore.instance()
    cs.store(name="sim_schema", node=schema())
    if not OmegaConf.has_resolver("ceil_div"):
        # ${ceil_div:a,b} = ceil(a / b), at least 1: sizing rules such as one replica per
        # N users, so a scenario scales with workload.users and stays overridable.
        OmegaConf.register_new_resolver("ceil_div", ceil_div)
    if not OmegaConf.has_resolver("run_id"):
        from sim.runfolder import run_id

        # a fresh folder name per run: time + random suffix (cached per config)
        OmegaConf.register_new_resolver("run_id", run_id, use_cache=True)
    if not OmegaConf.has_resolver("job_dir"):
        from sim.sweep import job_dir

        # a sweep job's folder, named by its swept values (users=1000)
        OmegaConf.register_new_resolver("job_dir", job_dir)


def ceil_div(a: Any, b: Any) -> int:
    """``ceil(a / b)``, at least 1; ``a`` may be null (then 1)."""
    if a is None:
        return 1
    for name, v in (("a", a), ("b", b)):
        if (
            isinstance(v, bool)
            or not isinstance(v, (int, float))
            or v != v
            or v
            in (
                float("inf"),
                float("-inf"),
            )
        ):
            raise ValueError(f"ceil_div:a,b needs two numbers, got {name}={v!r}")
    if b <= 0:
        raise ValueError(f"ceil_div:{a},{b} divides by {b}; the divisor must be > 0")
    return max(1, -(-int(a) // int(b)) if float(b).is_integer() else int(-(-a // b)))


def to_container(cfg: Any) -> dict:
    """A plain dict of a (possibly structured) config, for summaries."""
    from omegaconf import OmegaConf

    return OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)  # type: ignore[return-value]
