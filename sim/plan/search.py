"""The search: the cheapest configuration that meets the target, confirmed by simulation.

Candidates are every combination of the discrete dimensions (hardware × batch size,
:func:`sim.plan.knobs.dimensions`) with a replica count from 1 to ``plan.max_replicas``.
Latency never gets worse with more replicas and cost grows with them, so replicas are
the *monotone* dimension and each combination is a line to bracket, not a grid to scan.

1. **Estimate** (:mod:`sim.plan.estimate`, milliseconds per candidate). For each
   combination: a model that does not fit the hardware, or a *floor* (the target with
   no queueing at all) above the target, rules the whole line out; otherwise the
   estimate's smallest replica count ``r_est`` that meets the target (bisection).
2. **Order** the combinations by the exact monthly cost of ``r_est``, cheapest first.
3. **Confirm** each in turn by simulation, unless ``r_est`` already costs at least as
   much as the best confirmed answer (ruled out by cost). The walk starts at
   ``r_est``: after a meet it tries fewer replicas (1, 2, 4 ... fewer, then bisects), after
   a miss more (and stops once a count would cost as much as the best answer), until it
   holds ``r`` that meets and ``r − 1`` that misses, at most ``plan.confirm`` runs.
4. The **answer** is the cheapest confirmed ``r`` over all combinations.

Each confirmation is a full run of the scenario (same seed, so every candidate sees the
same arrivals and token sizes: common random numbers) with the candidate's settings
written over the config. A run *meets* when its target statistic, counting failed,
dropped and unfinished requests as infinitely late, is at most ``plan.target_s``.
"""

from __future__ import annotations

import copy
import itertools
import math
import sys
import time
from collections.abc import Callable
from typing import Any

from sim.checks import ConfigError
from sim.plan.estimate import (
    SECONDS_PER_MONTH,
    LoadProfile,
    PoolEstimator,
    load_profile,
    monthly_pool_usd,
    pool_service,
    token_pairs,
)
from sim.plan.knobs import PlanConfig
from sim.plan.result import Line, PlanResult, Row, Simulated, measured

__all__ = ["Line", "PlanResult", "Planner", "Row", "Simulated", "measured", "with_settings"]


def with_settings(cfg: Any, settings: dict[str, Any]) -> Any:
    """A copy of ``cfg`` with dotted keys set (replacing interpolations)."""
    from omegaconf import OmegaConf

    out = copy.deepcopy(cfg)
    for key, value in settings.items():
        OmegaConf.update(out, key, value, merge=False)
    return out


def _label(settings: dict[str, Any], pool: str) -> str:
    prefix = f"pools.{pool}."
    return " ".join(
        f"{k[len(prefix) :] if k.startswith(prefix) else k}={v}" for k, v in settings.items()
    )


class Planner:
    """Runs the search of the module docstring on a composed scenario config."""

    def __init__(
        self,
        cfg: Any,
        plan: PlanConfig,
        pool: str,
        dims: list[tuple[str, list[Any]]],
        log: Callable[[str], None] | None = None,
        short_window: bool = False,
    ) -> None:
        from sim.levers import apply_levers

        self.plan = plan
        self.pool = pool
        self.dims = dims
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        base = apply_levers(cfg)  # levers first, so the candidate's settings win
        for lever in base.levers:
            base.levers[lever] = None
        base.progress = False
        self.base = base
        self.n_sims = 0
        self.best_usd = math.inf
        self.first: Any = None  # the first run's summary (costs beside the pool)
        self.cells = 1
        self.short_window = short_window  # confirmation runs shorter than the scenario
        self._unit_usd: dict[tuple, float] = {}

    # -- pieces ------------------------------------------------------------------------
    def _cells(self) -> int:
        from sim.usage import apply_usage

        return int(apply_usage(self.base).usage.cells)

    def pool_usd(self, settings: dict[str, Any], replicas: int) -> float:
        """Exact monthly cost of the pool with these settings and replicas."""
        key = tuple(sorted((k, str(v)) for k, v in settings.items()))
        if key not in self._unit_usd:
            cfg = with_settings(self.base, settings)
            self._unit_usd[key] = monthly_pool_usd(cfg.pools[self.pool], cfg, 1, self.cells)
        return self._unit_usd[key] * replicas

    def simulate(self, line: Line, replicas: int) -> Simulated:
        from sim.run import run

        key = f"pools.{self.pool}.replicas"
        cfg = with_settings(self.base, {**line.settings, key: replicas})
        t0 = time.perf_counter()
        result = run(cfg)
        wall = time.perf_counter() - t0
        self.n_sims += 1
        s = result.summary
        if self.first is None:
            self.first = s
        value, unserved = measured(result, self.plan.target)
        per_month = SECONDS_PER_MONTH / s["measured_s"]
        pool_usd = sum(s["cost_usd"]["by_component"].get(self.pool, {}).values()) * per_month
        util = (s["utilization"].get(self.pool) or {}).get("mean")
        sim = Simulated(
            value, value <= self.plan.target_s,
            s["latency_s"]["p95"], (s["ttft_s"] or {}).get("p95"),
            s["monthly_cost_usd"], pool_usd, util, unserved, wall,
        )  # fmt: skip
        line.sims[replicas] = sim
        verdict = "meets" if sim.meets else "misses"
        self.log(
            f"[simulation {self.n_sims}] {_label(line.settings, self.pool)} replicas={replicas}: "
            f"{self.plan.target} {_secs(value)} {verdict} {self.plan.target_s:g} s "
            f"({wall:.0f} s)"
        )
        return sim

    # -- the search ----------------------------------------------------------------------
    def lines(self) -> list[Line]:
        out = []
        keys = [k for k, _ in self.dims]
        for values in itertools.product(*(v for _, v in self.dims)):
            out.append(Line(dict(zip(keys, values))))
        return out

    def estimate(self, line: Line, profile: LoadProfile, pairs: Any) -> None:
        from sim.engine.context import SimContext

        cfg = with_settings(self.base, line.settings)
        pc = cfg.pools[self.pool]
        try:
            svc = pool_service(self.pool, pc, cfg, pairs)
        except ConfigError as exc:
            line.why = str(exc)
            line.status = "does not fit"
            return
        rng = SimContext(seed=int(cfg.seed), horizon_s=1.0).rng.stream("plan.estimate.noise")
        est = PoolEstimator(svc, profile, int(pc.max_batch_size), self.plan.target, rng)
        line.estimator = est
        line.floor_s = est.floor_s()
        if line.floor_s > self.plan.target_s:
            line.why = (
                f"even without queueing its {self.plan.target} is {_secs(line.floor_s)} "
                f"(service time alone)"
            )
            line.status = "misses at any replica count"
            return
        line.r_est = est.smallest_replicas(self.plan.target_s, self.plan.max_replicas)
        if line.r_est is None:
            line.why = f"estimated to miss even with plan.max_replicas={self.plan.max_replicas}"
            line.status = "misses at any replica count"

    def confirm(self, line: Line) -> None:
        """Bracket the smallest meeting replica count of ``line`` by simulation.

        After each run the estimate is calibrated on it: the queueing part of the estimate
        (above the floor) is scaled so that it reproduces the run, and the next count to
        try is the calibrated estimate's smallest meeting count, kept strictly inside
        the bracket (largest miss, smallest meet) known so far.
        """
        est, r = line.estimator, line.r_est
        assert est is not None and r is not None
        r_max = self.plan.max_replicas
        while len(line.sims) < self.plan.confirm:
            if self.pool_usd(line.settings, r) >= self.best_usd:
                line.status = "stopped: costs more than the answer"
                return
            sim = self.simulate(line, r)
            if sim.meets:
                line.meet = r if line.meet is None else min(line.meet, r)
            else:
                line.miss = max(line.miss, r)
            if line.meet is not None and line.meet - line.miss == 1:
                line.status = "bracketed"  # r meets and r - 1 misses (or r = 1)
                return
            if line.meet is None and line.miss >= r_max:
                line.status = "misses at plan.max_replicas"
                return
            r = self._next(line, est, r, sim.value_s)
        line.status = "plan.confirm reached"

    def _next(self, line: Line, est: PoolEstimator, r: int, value_s: float) -> int:
        """The next replica count to simulate (see :meth:`confirm`)."""
        hi = line.meet if line.meet is not None else self.plan.max_replicas + 1
        floor, guess = est.floor_s(), est.at(r).value_s
        scale = 1.0
        if math.isfinite(value_s) and math.isfinite(guess) and guess > floor:
            scale = max(value_s - floor, 0.0) / (guess - floor)
        nxt = None
        if hi - 1 > line.miss:
            nxt = est.smallest_replicas(self.plan.target_s, hi - 1, scale, lo=line.miss)
        if nxt is None:  # nothing inside the bracket is estimated to meet: a few more
            nxt = line.miss + max(1, line.miss // 4)
        return max(line.miss + 1, min(nxt, hi - 1))

    def run(self) -> PlanResult:
        from sim.usage import apply_usage

        t0 = time.perf_counter()
        self.cells = self._cells()
        est_cfg = apply_usage(self.base)
        profile = load_profile(est_cfg, self.plan.window_s)
        pairs = token_pairs(est_cfg, profile)
        lines = self.lines()
        for line in lines:
            self.estimate(line, profile, pairs)
        todo = sorted(
            (ln for ln in lines if ln.r_est is not None),
            key=lambda ln: self.pool_usd(ln.settings, ln.r_est),  # type: ignore[arg-type]
        )
        answer_line: Line | None = None
        for line in todo:
            if self.pool_usd(line.settings, line.r_est) >= self.best_usd:  # type: ignore[arg-type]
                line.status = "ruled out by cost"
                continue
            self.confirm(line)
            if line.meet is not None:
                usd = self.pool_usd(line.settings, line.meet)
                if usd < self.best_usd:
                    self.best_usd = usd
                    answer_line = line
        rows, counts, total = self.rows(lines, answer_line)
        answer = next((r for r in rows if r.note == "answer"), None)
        other = 0.0
        if self.first is not None:
            s = self.first
            pool_usd = sum(s["cost_usd"]["by_component"].get(self.pool, {}).values())
            other = (s["cost_usd"]["total"] - pool_usd) * self.usage_per_month(s)
        return PlanResult(
            scenario=str(self.base.name), target=self.plan.target, target_s=self.plan.target_s,
            pool=self.pool, lines=lines, rows=rows, answer=answer, other_monthly_usd=other,
            users=est_cfg.workload.users if est_cfg.workload.arrival == "sessions" else None,
            cells=self.cells, candidates=total, simulations=self.n_sims, counts=counts,
            profile=profile, measured_over=_window_text(self.base),
            wall_s=time.perf_counter() - t0,
        )  # fmt: skip

    # -- the table -------------------------------------------------------------------------
    def rows(self, lines: list[Line], answer: Line | None) -> tuple[list[Row], dict[str, int], int]:
        """Rows near each line's frontier, and how every candidate of the space was settled."""
        r_max = self.plan.max_replicas
        counts = {"simulated": 0, "ruled out by the estimate": 0, "ruled out by cost": 0,
                  "implied by a simulation": 0, "left open": 0}  # fmt: skip
        rows: list[Row] = []
        for line in lines:
            usd = lambda r, s=line.settings: self.pool_usd(s, r)  # noqa: E731
            est = line.estimator
            if est is None or line.r_est is None:
                counts["ruled out by the estimate"] += r_max
                rows.append(Row(line.settings, None, None, line.floor_s, line.status,
                                note=line.why))  # fmt: skip
                continue
            counts["simulated"] += len(line.sims)
            lo_known = line.miss  # r <= miss: miss (monotone)
            hi_known = line.meet  # r >= meet: meet, and cost more
            for r in range(1, r_max + 1):
                if r in line.sims:
                    continue
                if r < lo_known or (hi_known is not None and r > hi_known):
                    counts["implied by a simulation"] += 1
                elif lo_known < r and hi_known is not None:  # inside an unclosed bracket
                    counts["left open"] += 1
                elif r < line.r_est:
                    counts["ruled out by the estimate"] += 1
                else:
                    counts["ruled out by cost"] += 1
            near = set(line.sims) | {line.r_est, line.r_est - 1}
            if line.meet is not None:
                near |= set(range(line.miss + 1, line.meet))
            for r in sorted(x for x in near if 1 <= x <= r_max):
                sim = line.sims.get(r)
                if sim is not None:
                    status = "simulated"
                elif r < line.miss:
                    status = "implied: fewer than a miss"
                elif line.miss < r and line.meet is not None and r < line.meet:
                    status = "left open (plan.confirm reached)"
                elif line.meet is not None and r > line.meet:
                    status = "not needed: more than a meet"
                elif r < line.r_est:
                    status = "ruled out by the estimate"
                else:
                    status = "ruled out by cost"
                note = "answer" if line is answer and r == line.meet else ""
                rows.append(Row(line.settings, r, usd(r), est.at(r).value_s, status, sim, note))
        return rows, counts, r_max * len(lines)

    def compare(self, path: list[str]) -> dict[str, Any]:
        """One run of the scenario with ``path`` instead (the hosted API, say)."""
        from sim.run import run

        cfg = with_settings(self.base, {"path": list(path)})
        t0 = time.perf_counter()
        result = run(cfg)
        self.log(f"[comparison] path={list(path)} ({time.perf_counter() - t0:.0f} s)")
        s = result.summary
        value, unserved = measured(result, self.plan.target)
        monthly = s["cost_usd"]["total"] * self.usage_per_month(s)
        users = s["users"]
        return {
            "path": list(path),
            "value_s": value,
            "meets": value <= self.plan.target_s,
            "p95_latency_s": s["latency_s"]["p95"],
            "monthly_usd": monthly,
            "cost_per_user_month_usd": monthly / users if users else None,
            "unserved": unserved,
        }

    def usage_per_month(self, s: dict[str, Any]) -> float:
        """Months per measured window for usage-billed costs of a run with summary ``s``.

        Over the scenario's own window, the summary's factor; over a shorter confirmation
        window (one busy day), requests are scaled to the long-run monthly count instead.
        """
        if not self.short_window or not s["requests"]["arrived"]:
            return SECONDS_PER_MONTH / s["measured_s"]
        from sim.preflight import expected_rate_rps
        from sim.usage import apply_usage

        rate = expected_rate_rps(apply_usage(self.base)) or 0.0
        return rate * SECONDS_PER_MONTH / (s["requests"]["arrived"] / self.cells)


def _secs(x: float | None) -> str:
    if x is None:
        return "—"
    if math.isinf(x):
        return "∞"
    return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s"


def _window_text(cfg: Any) -> str:
    from sim.run import week_time

    start_h = float(cfg.workload.clock_start_h) + float(cfg.warmup_s) / 3600
    days = (cfg.horizon_s - cfg.warmup_s) / 86400
    span = f"{days:g} day{'s' if days != 1 else ''}" if days >= 1 else f"{days * 24:g} h"
    return f"{span} from {week_time(start_h)} (seed {cfg.seed})"
