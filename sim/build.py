"""The one place where a config becomes objects.

Every cross-field check lives here and raises :class:`ConfigError` naming the key, the
value and what is allowed. Components receive plain arguments and runtime objects
(the context, their own random stream), never the whole config.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sim.components.stage import Billable, Observable, Stage
from sim.config import ARRIVAL_KINDS, ON_LIMIT, POOL_LATENCIES, TOKEN_KINDS
from sim.engine.context import SimContext
from sim.workload.base import ArrivalProcess, TokenSampler


class ConfigError(ValueError):
    """A config value that cannot be simulated; the message names key, value and choices."""


def _choice(key: str, value: Any, allowed: Any) -> None:
    allowed = list(allowed)
    if value not in allowed:
        raise ConfigError(
            f"{key}={value!r} is not allowed; choose one of: {', '.join(map(str, allowed))}"
        )


def _positive(key: str, value: Any, allow_zero: bool = False) -> None:
    ok = value is not None and (value >= 0 if allow_zero else value > 0)
    if not ok:
        raise ConfigError(f"{key}={value!r} must be {'>= 0' if allow_zero else '> 0'}")


def bucket_width_s(horizon_s: float, requested_s: float) -> float:
    """Ledger/time-series bucket width: as asked, or about horizon/200 in round units."""
    if requested_s and requested_s > 0:
        return float(requested_s)
    raw = horizon_s / 200.0
    for unit in (3600.0, 900.0, 300.0, 60.0, 10.0, 1.0):
        if raw >= unit:
            return float(unit * int(raw // unit))
    return raw


@dataclass
class Built:
    """What a run needs: the context, the workload and the components on the path."""

    ctx: SimContext
    arrivals: ArrivalProcess
    tokens: TokenSampler
    path: list[Stage]
    components: dict[str, Any] = field(default_factory=dict)

    @property
    def billables(self) -> list[Billable]:
        return [c for c in self.components.values() if isinstance(c, Billable)]

    @property
    def observables(self) -> list[Observable]:
        return [c for c in self.components.values() if isinstance(c, Observable)]


def build_arrivals(cfg: Any, ctx: SimContext) -> ArrivalProcess:
    """The arrival process named by ``workload.arrival``, started ``clock_start_h`` into the week."""
    from sim.workload.shift import ShiftedArrivals

    w = cfg.workload
    if not 0 <= w.clock_start_h < 168:
        raise ConfigError(
            f"workload.clock_start_h={w.clock_start_h!r} must be in [0, 168) (hours after Monday 00:00)"
        )
    offset = w.clock_start_h * 3600.0
    if w.arrival == "sessions":  # starts its own clock late without writing the skipped part
        return _arrivals(w, ctx, ctx.horizon_s, start_s=offset)
    inner = _arrivals(w, ctx, ctx.horizon_s + offset)
    return ShiftedArrivals(inner, offset) if offset > 0 else inner


def _arrivals(w: Any, ctx: SimContext, horizon: float, start_s: float = 0.0) -> ArrivalProcess:
    from sim.workload import arrivals as arr

    _choice("workload.arrival", w.arrival, ARRIVAL_KINDS)
    rng = ctx.rng.stream("workload.arrivals")
    if w.arrival == "poisson":
        _positive("workload.rate_rps", w.rate_rps)
        return arr.PoissonArrivals(w.rate_rps, rng=rng, horizon_s=horizon)
    if w.arrival == "diurnal":
        _positive("workload.rate_rps", w.rate_rps)
        d = w.diurnal
        if len(d.hourly) != 24 or len(d.weekly) != 7:
            raise ConfigError(
                f"workload.diurnal.hourly needs 24 values (got {len(d.hourly)}) and "
                f"workload.diurnal.weekly needs 7 (got {len(d.weekly)})"
            )
        if min(d.hourly) < 0 or min(d.weekly) < 0 or sum(d.hourly) <= 0 or sum(d.weekly) <= 0:
            raise ConfigError("workload.diurnal.hourly/weekly must be >= 0 with a positive sum")
        return arr.DiurnalArrivals(
            w.rate_rps, list(d.hourly), list(d.weekly), rng=rng, horizon_s=horizon
        )
    if w.arrival == "mmpp":
        m = w.mmpp
        if len(m.rates_rps) != len(m.mean_sojourn_s) or len(m.rates_rps) < 2:
            raise ConfigError(
                "workload.mmpp.rates_rps and workload.mmpp.mean_sojourn_s need the same length "
                f">= 2 (got {list(m.rates_rps)} and {list(m.mean_sojourn_s)})"
            )
        if min(m.rates_rps) < 0 or min(m.mean_sojourn_s) <= 0:
            raise ConfigError("workload.mmpp rates must be >= 0 and sojourns > 0")
        return arr.MmppArrivals(
            list(m.rates_rps), list(m.mean_sojourn_s), rng=rng, horizon_s=horizon
        )
    if w.arrival == "sessions":
        if w.users is None or w.users < 1:
            raise ConfigError(
                f"workload.users={w.users!r} must be an integer >= 1 for arrival=sessions"
            )
        s = w.sessions
        _positive("workload.sessions.requests_per_user_day", s.requests_per_user_day)
        _positive("workload.sessions.workday_hours", s.workday_hours)
        if s.workday_hours > 24:
            raise ConfigError(f"workload.sessions.workday_hours={s.workday_hours!r} must be <= 24")
        _positive("workload.sessions.active_period_s", s.active_period_s)
        _positive("workload.sessions.idle_period_s", s.idle_period_s, allow_zero=True)
        _positive("workload.sessions.start_jitter_h", s.start_jitter_h, allow_zero=True)
        _positive("workload.sessions.timezone_spread_h", s.timezone_spread_h, allow_zero=True)
        if not 0 <= s.weekend_factor <= 1:
            raise ConfigError(
                f"workload.sessions.weekend_factor={s.weekend_factor!r} must be in [0, 1]"
            )
        return arr.SessionArrivals(
            int(w.users),
            s.requests_per_user_day,
            s.workday_start_h,
            s.workday_hours,
            s.start_jitter_h,
            s.weekend_factor,
            s.active_period_s,
            s.idle_period_s,
            s.timezone_spread_h,
            rng=rng,
            horizon_s=horizon,
            start_s=start_s,
        )
    # trace
    _positive("workload.trace.speedup", w.trace.speedup)
    return arr.TraceArrivals(w.trace.path, w.trace.speedup, w.trace.loop, horizon_s=horizon)


def build_tokens(cfg: Any, ctx: SimContext) -> TokenSampler:
    """The token sampler named by ``workload.tokens.kind``."""
    from sim.workload import tokens as tok

    t = cfg.workload.tokens
    _choice("workload.tokens.kind", t.kind, TOKEN_KINDS)
    if t.kind == "fixed":
        _positive("workload.tokens.prompt_median", t.prompt_median)
        _positive("workload.tokens.output_median", t.output_median)
        return tok.FixedTokens(int(t.prompt_median), int(t.output_median))
    rng = ctx.rng.stream("workload.tokens")
    if t.kind == "trace":
        return tok.EmpiricalTokens(t.trace_path, rng=rng)
    for key in ("prompt_median", "output_median"):
        _positive(f"workload.tokens.{key}", getattr(t, key))
    for key in ("prompt_sigma", "output_sigma"):
        _positive(f"workload.tokens.{key}", getattr(t, key), allow_zero=True)
    for side in ("prompt", "output"):
        lo, hi = getattr(t, f"{side}_min"), getattr(t, f"{side}_max")
        if not 1 <= lo <= hi:
            raise ConfigError(
                f"workload.tokens.{side}_min={lo!r} and {side}_max={hi!r} need 1 <= min <= max"
            )
    return tok.LognormalTokens(
        t.prompt_median,
        t.prompt_sigma,
        t.prompt_min,
        t.prompt_max,
        t.output_median,
        t.output_sigma,
        t.output_min,
        t.output_max,
        rng=rng,
    )


def _lookup(catalog: Any, key: str, value: str, catalog_key: str) -> Any:
    if value not in catalog:
        raise ConfigError(
            f"{key}={value!r} is not in the {catalog_key} catalog; available: {', '.join(sorted(catalog))}"
        )
    return catalog[value]


def build_pool(name: str, pc: Any, cfg: Any, ctx: SimContext) -> Any:
    """A self-hosted inference pool ``pools.<name>``."""
    from sim.components.pool import InferencePool
    from sim.latency.roofline import roofline_from_config
    from sim.latency.service import ServiceTimeLatency

    key = f"pools.{name}"
    hw = _lookup(cfg.hardware, f"{key}.hardware", pc.hardware, "hardware")
    _choice(f"{key}.latency", pc.latency, POOL_LATENCIES)
    _positive(f"{key}.replicas", pc.replicas)
    _positive(f"{key}.devices_per_replica", pc.devices_per_replica)
    _positive(f"{key}.max_batch_size", pc.max_batch_size)
    _positive(f"{key}.max_queue", pc.max_queue, allow_zero=True)
    if pc.latency == "roofline":
        model = _lookup(cfg.models, f"{key}.model", pc.model, "models")
        if pc.precision not in hw.tflops:
            raise ConfigError(
                f"{key}.precision={pc.precision!r}: hardware {pc.hardware!r} lists "
                f"{', '.join(hw.tflops) or 'no precisions'}"
            )
        for k in ("kv_memory_fraction", "prefill_efficiency", "decode_efficiency"):
            v = getattr(pc, k)
            if not 0 < v <= 1:
                raise ConfigError(f"{key}.{k}={v!r} must be in (0, 1]")
        try:
            latency = roofline_from_config(model, hw, pc)
        except ValueError as exc:
            raise ConfigError(f"{key}: {exc}") from None
    else:
        _positive(f"{key}.service_mean_s", pc.service_mean_s)
        _positive(f"{key}.service_cv", pc.service_cv)
        latency = ServiceTimeLatency(
            pc.service_mean_s,
            pc.service_cv,
            pc.latency,
            rng=ctx.rng.stream(f"pools.{name}.latency"),
        )
    return InferencePool(
        name,
        ctx,
        latency,
        replicas=int(pc.replicas),
        max_batch_size=int(pc.max_batch_size),
        max_queue=int(pc.max_queue),
        usd_per_replica_hour=float(hw.usd_per_hour) * int(pc.devices_per_replica),
    )


def build_api(name: str, ac: Any, cfg: Any, ctx: SimContext) -> Any:
    """A hosted API endpoint ``apis.<name>``."""
    from sim.components.api_provider import api_provider_from_config

    key = f"apis.{name}"
    spec = _lookup(cfg.api_models, f"{key}.model", ac.model, "api_models")
    _choice(f"{key}.on_limit", ac.on_limit, ON_LIMIT)
    if not 0 <= ac.error_prob < 1:
        raise ConfigError(f"{key}.error_prob={ac.error_prob!r} must be in [0, 1)")
    for k in ("rpm_limit", "tpm_limit"):
        v = getattr(ac, k)
        if v is not None and v <= 0:
            raise ConfigError(f"{key}.{k}={v!r} must be > 0 or null (no limit)")
    _positive(f"{key}.max_queue_s", ac.max_queue_s, allow_zero=True)
    return api_provider_from_config(name, ctx, spec, ac, ctx.rng.stream(f"apis.{name}"))


def build(cfg: Any) -> Built:
    """Build the context, workload and request path of one run from a composed config."""
    bucket = bucket_width_s(cfg.horizon_s - cfg.warmup_s, cfg.bucket_s)
    try:  # the context checks seed, horizon_s, warmup_s and bucket_s, naming each
        ctx = SimContext(
            seed=int(cfg.seed),
            horizon_s=float(cfg.horizon_s),
            warmup_s=float(cfg.warmup_s),
            bucket_s=bucket,
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None

    if not cfg.path:
        raise ConfigError(
            "path is empty: list the components a request passes through, e.g. "
            f"path=[{next(iter(list(cfg.pools) + list(cfg.apis)), 'NAME')}]"
        )
    overlap = set(cfg.pools) & set(cfg.apis)
    if overlap:
        raise ConfigError(
            f"component names must be unique across pools and apis; both have {sorted(overlap)}"
        )
    known = list(cfg.pools) + list(cfg.apis)
    components: dict[str, Any] = {}
    path: list[Stage] = []
    for i, name in enumerate(cfg.path):
        if name not in components:
            if name in cfg.pools:
                components[name] = build_pool(name, cfg.pools[name], cfg, ctx)
            elif name in cfg.apis:
                components[name] = build_api(name, cfg.apis[name], cfg, ctx)
            else:
                raise ConfigError(
                    f"path[{i}]={name!r} names no component; defined: {', '.join(known) or 'none'}"
                )
        path.append(components[name])
    return Built(ctx, build_arrivals(cfg, ctx), build_tokens(cfg, ctx), path, components)
