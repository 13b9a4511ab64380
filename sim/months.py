"""Runs that span months: traffic that grows, prices that fall, figures per month.

**Months.** A month is 30.4375 days (the average Gregorian month, :data:`MONTH_S`),
counted from t=0 of the run: month 1 is ``[0, MONTH_S)``, month 2 ``[MONTH_S, 2
MONTH_S)``... (``workload.clock_start_h`` moves where t=0 falls in the week, not where
months start).

**Growth** (``workload.growth``): month ``k`` runs at ``v_k`` times the workload's rate,
with ``v_k = (1 + monthly_rate)^(k-1)`` or ``v_k = monthly_volumes[k-1]``. The workload
is built at the peak multiplier ``V = max_k v_k`` over the months the horizon touches
(every rate knob of its arrival model times ``V``: ``rate_rps``, ``mmpp.rates_rps``,
``sessions.requests_per_user_day``, ``trace.speedup``), and each arrival at time ``t`` is
kept with probability ``v_month(t) / V`` (:class:`GrowingArrivals`). Thinning a Poisson
process this way is exact: the result is Poisson at ``v_k`` times the rate in month
``k``. For user sessions it scales every user's activity (the population stays
``workload.users``; users keep their working hours and their relative activity). The
cost is one uniform per generated arrival, vectorised, and ``V / mean(v)`` times the
arrival-kernel work.

**Price changes** (``workload.growth.price_changes``): at ``at_day`` a hosted model's list
prices change for every ``apis.NAME`` that uses it (:class:`PriceChanges`, one SimPy
process that sets the providers' public price attributes at that time). A provider
charges a call when it completes, at the prices of that moment. A price left null keeps
its value, except that the cached-input price follows the input price for a model with
no cached-input discount (``usd_per_mtok_cached_input: null`` in ``api_models``).

**Monthly figures** (:func:`monthly_figures`): requests that arrived in each month
(counted by the recorder as they arrive) and the ledger's cost by layer in each month.
A ledger bucket that straddles a month boundary is split in proportion to its time on
each side; choose ``bucket_s`` dividing 2,629,800 s (e.g. 1800 or 5400) for month edges
on bucket edges.

The hooks :func:`with_growth` and :func:`price_changes` are what :mod:`sim.build` and
:func:`sim.run.run` call.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import simpy

from sim import checks
from sim.costs.layers import LAYERS
from sim.workload.base import ArrivalBlock, ArrivalProcess

MONTH_S = 30.4375 * 86400.0  # average Gregorian month
PRICE_FIELDS = ("usd_per_mtok_input", "usd_per_mtok_cached_input", "usd_per_mtok_output")


def months_spanned(horizon_s: float) -> int:
    """How many months ``[0, horizon_s)`` touches (at least 1)."""
    return max(1, math.ceil(horizon_s / MONTH_S - 1e-9))


# --- growth ---------------------------------------------------------------------------
class VolumeSchedule:
    """Traffic multiplier per month: ``multipliers[k]`` for month ``k + 1``."""

    def __init__(self, multipliers: Sequence[float], key: str = "multipliers") -> None:
        self.multipliers = checks.profile(key, multipliers)

    @classmethod
    def compounding(cls, monthly_rate: float, months: int) -> VolumeSchedule:
        """``(1 + monthly_rate)^k`` for months ``k = 0 .. months-1``."""
        checks.number("monthly_rate", monthly_rate, gt=-1)
        return cls([(1.0 + monthly_rate) ** k for k in range(months)])

    def at(self, times_s: np.ndarray) -> np.ndarray:
        """The multiplier in force at each time (the last month's beyond the list)."""
        k = np.minimum((np.asarray(times_s) // MONTH_S).astype(np.int64), len(self.multipliers) - 1)
        return self.multipliers[k]

    def peak(self, horizon_s: float) -> float:
        """Largest multiplier of the months ``[0, horizon_s)`` touches."""
        return float(self.multipliers[: months_spanned(horizon_s)].max())

    def mean(self, horizon_s: float) -> float:
        """Time-weighted mean multiplier over ``[0, horizon_s)``."""
        total = 0.0
        for k in range(months_spanned(horizon_s)):
            a, b = k * MONTH_S, min((k + 1) * MONTH_S, horizon_s)
            total += self.multipliers[min(k, len(self.multipliers) - 1)] * max(b - a, 0.0)
        return total / horizon_s


class GrowingArrivals:
    """Arrivals of ``inner`` (built at ``peak`` times the base rate), each kept with
    probability ``schedule(t) / peak``: the base rate times the month's multiplier."""

    def __init__(
        self,
        inner: ArrivalProcess,
        schedule: VolumeSchedule,
        peak: float,
        *,
        rng: np.random.Generator,
        horizon_s: float,
    ) -> None:
        self.inner = inner
        self.schedule = schedule
        self.peak = checks.positive("peak", peak)
        self.rng = checks.rng("rng", rng)
        self.horizon_s = checks.positive("horizon_s", horizon_s)

    @property
    def mean_rate_rps(self) -> float:
        """The inner process's mean rate, brought back to the base and grown on average."""
        return self.inner.mean_rate_rps / self.peak * self.schedule.mean(self.horizon_s)

    def blocks(self) -> Iterator[ArrivalBlock]:
        peak = self.peak
        for block in self.inner.blocks():
            t = block.times_s
            if t.size == 0:
                continue
            keep = self.rng.random(t.size) * peak < self.schedule.at(t)
            if keep.all():
                yield block
                continue
            if not keep.any():
                continue
            yield ArrivalBlock(
                t[keep],
                *(
                    None if a is None else a[keep]
                    for a in (block.users, block.prompt_tokens, block.output_tokens, block.rows)
                ),
            )


def volume_schedule(growth: Any, horizon_s: float) -> VolumeSchedule | None:
    """The schedule ``workload.growth`` asks for over ``horizon_s`` (None: no growth)."""
    rate, volumes = growth.monthly_rate, growth.monthly_volumes
    if rate is not None and volumes is not None:
        checks.both(
            "workload.growth.monthly_rate",
            rate,
            "workload.growth.monthly_volumes",
            volumes,
            "say the same thing twice: set one of them (the other null)",
        )
    months = months_spanned(horizon_s)
    if volumes is not None:
        key = "workload.growth.monthly_volumes"
        if len(volumes) < months:
            checks.fail(
                key,
                volumes,
                f"gives {len(volumes)} month(s) but horizon_s={horizon_s:g} spans {months} "
                f"months of 30.4375 days: give one value per month",
            )
        schedule = VolumeSchedule(list(volumes), key)
        if not schedule.peak(horizon_s) > 0:
            checks.fail(key, volumes, f"is zero in every month of horizon_s={horizon_s:g}")
        return schedule
    if rate is None or rate == 0:
        return None
    return VolumeSchedule.compounding(float(rate), months)


def scaled_workload(w: Any, factor: float) -> Any:
    """A copy of ``workload`` with every rate knob of every arrival model times ``factor``."""
    out = copy.deepcopy(w)
    out.rate_rps = w.rate_rps * factor
    out.mmpp.rates_rps = [r * factor for r in w.mmpp.rates_rps]
    out.sessions.requests_per_user_day = w.sessions.requests_per_user_day * factor
    out.trace.speedup = w.trace.speedup * factor
    return out


def with_growth(
    w: Any, ctx: Any, build: Callable[[Any], ArrivalProcess]
) -> ArrivalProcess | GrowingArrivals:
    """``build(w)``, or, when ``w.growth`` asks for growth, ``build`` at the peak rate thinned
    month by month (random stream ``workload.growth``)."""
    schedule = volume_schedule(w.growth, ctx.horizon_s)
    if schedule is None:
        return build(w)
    peak = schedule.peak(ctx.horizon_s)
    return GrowingArrivals(
        build(scaled_workload(w, peak)),
        schedule,
        peak,
        rng=ctx.rng.stream("workload.growth"),
        horizon_s=ctx.horizon_s,
    )


# --- price changes --------------------------------------------------------------------
class PriceChanges:
    """Dated price changes: at each ``at_s``, set price attributes of some components.

    ``changes`` holds ``(at_s, components, {attribute: usd_per_mtok})``; one SimPy process
    applies them in time order (:meth:`start`, before the run).
    """

    def __init__(
        self, env: simpy.Environment, changes: Sequence[tuple[float, Sequence[Any], dict]]
    ) -> None:
        self.env = env
        for at_s, _, prices in changes:
            checks.non_negative("at_s", at_s)
            for name, usd in prices.items():
                checks.choice("price", name, PRICE_FIELDS)
                checks.non_negative(name, usd)
        self.changes = sorted(changes, key=lambda c: c[0])
        self.applied = 0

    def start(self) -> simpy.Process | None:
        """Start applying the changes (nothing to start without any)."""
        return self.env.process(self._run()) if self.changes else None

    def _run(self) -> Any:
        env = self.env
        for at_s, components, prices in self.changes:
            if at_s > env.now:
                yield env.timeout(at_s - env.now)
            for comp in components:
                for name, usd in prices.items():
                    setattr(comp, name, float(usd))
            self.applied += 1


def _price_entries(cfg: Any) -> list[tuple[float, str, dict[str, float]]]:
    """``(at_s, model, prices)`` of each ``workload.growth.price_changes`` entry, checked
    with its full key (``workload.growth.price_changes[0].at_day``)."""
    from sim.config import PriceChange

    out = []
    for i, ch in enumerate(cfg.workload.growth.price_changes):
        key = f"workload.growth.price_changes[{i}]"
        checks.check_tree(ch, PriceChange, f"{key}.")
        spec = checks.lookup(f"{key}.model", ch.model, cfg.api_models, "api_models")
        prices = {f: float(ch[f]) for f in PRICE_FIELDS if ch[f] is not None}
        if not prices:
            checks.fail(key, dict(ch), "changes no price: set one of " + ", ".join(PRICE_FIELDS))
        if (
            "usd_per_mtok_input" in prices
            and "usd_per_mtok_cached_input" not in prices
            and spec.usd_per_mtok_cached_input is None
        ):
            prices["usd_per_mtok_cached_input"] = prices["usd_per_mtok_input"]  # no discount
        out.append((float(ch.at_day) * 86400.0, str(ch.model), prices))
    return out


def check_growth(cfg: Any) -> None:
    """Every check of ``workload.growth`` that needs no object (for :func:`sim.build.check`)."""
    volume_schedule(cfg.workload.growth, cfg.horizon_s)
    _price_entries(cfg)


def price_changes(cfg: Any, components: dict[str, Any], env: simpy.Environment) -> PriceChanges:
    """The :class:`PriceChanges` of ``workload.growth.price_changes``, applied to every
    built ``apis.NAME`` whose ``model`` the entry names."""
    apis = cfg.get("apis", {}) or {}
    return PriceChanges(
        env,
        [
            (
                at_s,
                [components[n] for n, a in apis.items() if a.model == model and n in components],
                prices,
            )
            for at_s, model, prices in _price_entries(cfg)
        ],
    )


# --- monthly figures ------------------------------------------------------------------
def monthly_figures(
    ledger_rows: Sequence[tuple[float, float, str, str, float]],
    arrivals_by_month: dict[int, int],
    warmup_s: float,
    horizon_s: float,
) -> list[dict[str, Any]] | None:
    """Requests and cost by layer per month of the measured window (None within one month).

    ``ledger_rows`` are ``(bucket_start_s, bucket_end_s, layer, component, usd)``; rows
    that end by ``warmup_s`` are the warm-up's and left out. A row is split over the
    months its ``[start, min(end, horizon))`` overlaps, in proportion to the time, so
    the months add up to the total.
    """
    n = months_spanned(horizon_s)
    if n <= 1:
        return None
    cost = [dict.fromkeys(LAYERS, 0.0) for _ in range(n)]
    for start, end, layer, _, usd in ledger_rows:
        if end <= warmup_s and warmup_s > 0:
            continue
        end = min(end, horizon_s)
        k0 = min(int(start // MONTH_S), n - 1)
        if end <= start or end <= (k0 + 1) * MONTH_S:
            cost[k0][layer] += usd
            continue
        for k in range(k0, n):
            lo, hi = max(start, k * MONTH_S), min(end, (k + 1) * MONTH_S)
            if hi > lo:
                cost[k][layer] += usd * (hi - lo) / (end - start)
    out = []
    for k in range(n):
        lo, hi = max(k * MONTH_S, warmup_s), min((k + 1) * MONTH_S, horizon_s)
        if hi <= lo:
            continue
        by_layer = cost[k]
        out.append(
            {
                "month": k + 1,
                "start_day": k * MONTH_S / 86400.0,
                "days": (hi - lo) / 86400.0,
                "requests": int(arrivals_by_month.get(k, 0)),
                "cost_usd": sum(by_layer.values()),
                "by_layer": by_layer,
            }
        )
    return out
