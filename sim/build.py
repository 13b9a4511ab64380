"""The one place where a config becomes objects.

First every field is checked against its rule in the schema (:func:`sim.checks.check_tree`:
types, ranges, finiteness, unknown keys); the checks that involve several keys live
here and name each of them. Components receive plain arguments and runtime objects
(the context, their own random stream), never the whole config.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sim import checks
from sim.checks import ConfigError, InputFileError
from sim.components.stage import Billable, Observable, Stage, SubPath
from sim.config import schema
from sim.engine.context import SimContext
from sim.workload.base import ArrivalProcess, TokenSampler


def bucket_width_s(horizon_s: float, requested_s: float) -> float:
    """Ledger/time-series bucket width: as asked, or about horizon/200 in round units."""
    if requested_s and requested_s > 0:
        return float(requested_s)
    raw = horizon_s / 200.0
    for unit in (3600.0, 900.0, 300.0, 60.0, 10.0, 1.0):
        if raw >= unit:
            return float(unit * int(raw // unit))
    return raw


CLOCK_RESOLUTION_S = 1e-6  # shortest time between events of one user that a run resolves


@dataclass
class Built:
    """What a run needs: the context, the workload and the components on the path."""

    ctx: SimContext
    arrivals: ArrivalProcess
    tokens: TokenSampler
    path: list[Stage]
    components: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)  # drawn per request (source)

    @property
    def billables(self) -> list[Billable]:
        return [c for c in self.components.values() if isinstance(c, Billable)]

    @property
    def observables(self) -> list[Observable]:
        return [c for c in self.components.values() if isinstance(c, Observable)]

    @property
    def backgrounds(self) -> list[Any]:
        """Components with processes of their own (``start()``: shifts, pipelines, drift)."""
        return [c for c in self.components.values() if callable(getattr(c, "start", None))]


def build_arrivals(cfg: Any, ctx: SimContext) -> ArrivalProcess:
    """The arrival process named by ``workload.arrival``, started ``clock_start_h`` into the
    week, grown month by month as ``workload.growth`` says (:func:`sim.months.with_growth`)."""
    from sim.months import with_growth

    return with_growth(cfg.workload, ctx, lambda w: _calendar_arrivals(w, ctx))


def _calendar_arrivals(w: Any, ctx: SimContext) -> ArrivalProcess:
    from sim.workload.shift import ShiftedArrivals

    offset = w.clock_start_h * 3600.0
    if w.arrival == "sessions":  # starts its own clock late without writing the skipped part
        return _arrivals(w, ctx, ctx.horizon_s, start_s=offset)
    inner = _arrivals(w, ctx, ctx.horizon_s + offset)
    return ShiftedArrivals(inner, offset) if offset > 0 else inner


def _arrivals(w: Any, ctx: SimContext, horizon: float, start_s: float = 0.0) -> ArrivalProcess:
    from sim.workload import arrivals as arr

    rng = ctx.rng.stream("workload.arrivals")
    if w.arrival == "poisson":
        return arr.PoissonArrivals(w.rate_rps, rng=rng, horizon_s=horizon)
    if w.arrival == "diurnal":
        d = w.diurnal
        return arr.DiurnalArrivals(
            w.rate_rps, list(d.hourly), list(d.weekly), rng=rng, horizon_s=horizon
        )
    if w.arrival == "mmpp":
        m = w.mmpp
        return arr.MmppArrivals(
            list(m.rates_rps), list(m.mean_sojourn_s), rng=rng, horizon_s=horizon
        )
    if w.arrival == "sessions":
        s = w.sessions
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
            activity_sigma=s.activity_sigma,
        )
    with _input_file("workload.trace.path", w.trace.path):
        return arr.TraceArrivals(w.trace.path, w.trace.speedup, w.trace.loop, horizon_s=horizon)


class _input_file:
    """Re-raise an :class:`InputFileError` as one line naming the config key and the file."""

    def __init__(self, key: str, value: str) -> None:
        self.key, self.value = key, value

    def __enter__(self) -> None:
        return None

    def __exit__(self, typ: Any, exc: Any, tb: Any) -> bool:
        if isinstance(exc, InputFileError):
            where = f"line {exc.line}: " if exc.line is not None else ""
            raise ConfigError(
                f"{self.key}={checks.show(self.value)}: {where}{exc.problem}", key=self.key
            ) from None
        return False


def build_tokens(cfg: Any, ctx: SimContext, stream: str = "workload.tokens") -> TokenSampler:
    """The token sampler named by ``workload.tokens.kind`` (random stream ``stream``)."""
    from sim.workload import tokens as tok

    t = cfg.workload.tokens
    if t.kind == "fixed":
        return tok.FixedTokens(round(t.prompt_median), round(t.output_median))
    rng = ctx.rng.stream(stream)
    if t.kind == "trace":
        with _input_file("workload.tokens.trace_path", t.trace_path):
            return tok.EmpiricalTokens(t.trace_path, rng=rng)
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


def _check_workload(w: Any) -> None:
    """Combinations of workload keys (each field was checked on its own already)."""
    m = w.mmpp
    if w.arrival == "mmpp" and len(m.rates_rps) != len(m.mean_sojourn_s):
        checks.both(
            "workload.mmpp.rates_rps",
            list(m.rates_rps),
            "workload.mmpp.mean_sojourn_s",
            list(m.mean_sojourn_s),
            "need the same number of values (one rate and one sojourn per state)",
        )
    if w.arrival == "mmpp" and not max(m.rates_rps) > 0:
        checks.fail("workload.mmpp.rates_rps", list(m.rates_rps), "must not be all zero")
    if w.arrival == "sessions":
        from sim.workload.sessions import expected_active_s

        s = w.sessions
        active = expected_active_s(s.workday_hours * 3600, s.active_period_s, s.idle_period_s)
        gap = active / s.requests_per_user_day
        if gap < CLOCK_RESOLUTION_S:
            raise ConfigError(
                f"workload.sessions.requests_per_user_day={checks.show(s.requests_per_user_day)}"
                f" in {active:.3g} s of activity a day (workday_hours="
                f"{checks.show(s.workday_hours)}, active_period_s="
                f"{checks.show(s.active_period_s)}, idle_period_s="
                f"{checks.show(s.idle_period_s)}) puts a user's requests {gap:.2g} s apart, "
                f"below the simulated clock's resolution ({CLOCK_RESOLUTION_S:g} s)",
                key="workload.sessions.requests_per_user_day",
            )
    if w.arrival == "sessions" and w.users is None:
        checks.both(
            "workload.users",
            None,
            "workload.arrival",
            w.arrival,
            "do not go together: sessions need a number of users (an integer >= 1)",
        )
    t = w.tokens
    for side in ("prompt", "output"):
        median = getattr(t, f"{side}_median")
        if t.kind == "fixed" and round(median) < 1:
            checks.both(
                f"workload.tokens.{side}_median",
                median,
                "workload.tokens.kind",
                t.kind,
                "give 0 tokens (a fixed count is rounded to a whole number >= 1)",
            )
        lo, hi = getattr(t, f"{side}_min"), getattr(t, f"{side}_max")
        if t.kind == "lognormal" and lo > hi:
            checks.both(
                f"workload.tokens.{side}_min",
                lo,
                f"workload.tokens.{side}_max",
                hi,
                "need min <= max",
            )


def declared(cfg: Any) -> dict[str, str]:
    """Every component the config declares, by name, with the section that holds it."""
    from sim.components.kinds import kinds

    owner: dict[str, str] = {}
    for section in kinds():
        for name in cfg[section]:
            if name in owner:
                raise ConfigError(
                    f"{owner[name]}.{name} and {section}.{name} share a name; component names "
                    "must be unique across sections",
                    key=f"{section}.{name}",
                )
            owner[name] = section
    return owner


def check(cfg: Any) -> None:
    """Every check that needs no object: field rules, then combinations of keys."""
    checks.check_tree(cfg, schema())
    if not cfg.name or "/" in cfg.name or cfg.name in (".", ".."):
        checks.fail(
            "name", cfg.name, "must be a non-empty name without '/' (it names the run folder)"
        )
    _check_workload(cfg.workload)
    from sim.months import check_growth

    check_growth(cfg)  # workload.growth: schedule and price changes
    if not cfg.warmup_s < cfg.horizon_s:
        checks.both(
            "warmup_s", cfg.warmup_s, "horizon_s", cfg.horizon_s, "need warmup_s < horizon_s"
        )
    known = list(declared(cfg))
    if not cfg.path:
        raise ConfigError(
            "path=[] is empty: list the components a request passes through, e.g. "
            f"path=[{next(iter(known), 'NAME')}]",
            key="path",
        )
    for i, name in enumerate(cfg.path):
        check_name(f"path[{i}]", name, known)
    for i, name in enumerate(cfg.services):
        check_name(f"services[{i}]", name, known)


def check_name(key: str, name: Any, known: list[str]) -> None:
    """``name`` (at config key ``key``) must name a declared component."""
    if name not in known:
        checks.fail(
            key,
            name,
            f"names no component{checks.did_you_mean(name, known)}; defined: "
            + (", ".join(known) or "none"),
        )


class Builder:
    """Builds each component once, by name, from the section that declares it.

    Kind builders (:func:`sim.components.kinds.register`) receive the builder and read
    ``b.cfg`` (catalogs), ``b.ctx`` (the run's context); a component that holds
    sub-paths (a cache's miss path, a router's routes) gets them with :meth:`path`,
    which builds the named components in turn. A component named on several paths is
    one object; a cycle (a component on its own sub-path) is refused.
    """

    def __init__(self, cfg: Any, ctx: SimContext) -> None:
        from sim.components.kinds import kinds

        self.cfg = cfg
        self.ctx = ctx
        self.kinds = kinds()
        self.owner = declared(cfg)
        self.components: dict[str, Any] = {}
        self._building: list[str] = []

    def component(self, name: str, key: str) -> Any:
        """The component ``name`` (referred to at config key ``key``), built on first use."""
        if name in self.components:
            return self.components[name]
        check_name(key, name, list(self.owner))
        if name in self._building:
            cycle = " -> ".join([*self._building[self._building.index(name) :], name])
            checks.fail(
                key, name, f"makes a cycle ({cycle}): a component cannot be on its own path"
            )
        section = self.owner[name]
        self._building.append(name)
        try:
            built = self.kinds[section].build(self, name, self.cfg[section][name])
        finally:
            self._building.pop()
        self.components[name] = built
        return built

    def path(self, names: Any, key: str) -> SubPath:
        """The stages named by ``names`` (config key ``key``), as one walkable sub-path."""
        return SubPath([self.component(n, f"{key}[{i}]") for i, n in enumerate(names)])


# drawn in this order: difficulty may read the query
ATTRIBUTES = ("query", "difficulty", "blocks")


def _attributes(needs: set[str], cfg: Any, ctx: SimContext, arrivals: Any) -> dict[str, Any]:
    """Samplers of the per-request attributes some component needs (``needs = (...)``)."""
    unknown = needs - set(ATTRIBUTES)
    if unknown:
        raise ValueError(f"no sampler for the request attributes {sorted(unknown)}")
    w = cfg.workload
    out: dict[str, Any] = {}
    if "query" in needs:
        from sim.workload.queries import ZipfQueries

        q = w.queries
        out["query"] = ZipfQueries(
            q.universe, q.zipf_s, q.new_share, rng=ctx.rng.stream("workload.queries")
        )
    if "difficulty" in needs:
        from sim.workload.difficulty import BetaDifficulty, QueryDifficulty

        d = w.difficulty
        beta = BetaDifficulty(d.alpha, d.beta, rng=ctx.rng.stream("workload.difficulty"))
        # with query ids, a query is as hard every time it is asked
        out["difficulty"] = QueryDifficulty(beta, out["query"]) if "query" in out else beta
    if "blocks" in needs:
        from sim.workload.prefix import build_prefixes

        out["blocks"] = build_prefixes(cfg, ctx, arrivals)
    return out


def build(cfg: Any) -> Built:
    """Build the context, workload and request path of one run from a composed config."""
    from sim import preflight

    check(cfg)
    preflight.check_memory(cfg)
    bucket = bucket_width_s(cfg.horizon_s - cfg.warmup_s, cfg.bucket_s)
    ctx = SimContext(
        seed=int(cfg.seed),
        horizon_s=float(cfg.horizon_s),
        warmup_s=float(cfg.warmup_s),
        bucket_s=bucket,
    )
    b = Builder(cfg, ctx)
    path = list(b.path(cfg.path, "path").stages)
    for i, name in enumerate(cfg.services):  # they run beside the path (pipelines, shifts)
        b.component(name, f"services[{i}]")
    needs = {a for c in b.components.values() for a in getattr(c, "needs", ())}
    arrivals, tokens = build_arrivals(cfg, ctx), build_tokens(cfg, ctx)
    attributes = _attributes(needs, cfg, ctx, arrivals)
    return Built(ctx, arrivals, tokens, path, b.components, attributes)
