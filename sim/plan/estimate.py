"""The quick estimate: a pool's latency quantile from queueing theory on its service time.

The planner asks this model, for one hardware × batch × replica count, "does the pool
meet the target?" in milliseconds instead of a simulation's seconds or minutes. It is a
*quasi-stationary mixture*: the load profile is cut into windows, each window is treated
as a queue in steady state at its own arrival rate, and the target quantile is taken over
all requests (each window weighs what it brought).

**Load profile** (:mod:`sim.plan.load`): the scenario's own arrivals counted in windows
of ``window_s``; window ``w`` has rate ``λ_w`` and weight ``n_w``.

**Service of one request** ``i`` with prompt ``p_i`` and output ``o_i`` tokens (pairs
drawn from the workload's own token sampler; roofline pools)::

    a_i = prefill_s([p_i])                      its prefill iteration alone
    d_i = o_i − 1                               decode steps after the first token

**One window**, rate ``λ`` over ``c`` replicas, ``λ_r = λ / c`` per replica:

* prefill share of a replica's time ``ρ_pf = λ_r · E[a]``; ``ρ_pf ≥ 1``: infeasible.
  The scheduler runs prefill first, so decoding sequences are paused for it and decode
  progress is stretched by ``1 / (1 − ρ_pf)``.
* sequences decoding on a replica, a fixed point (Little's law)::

      N = λ_r · E[d] · step(N) / (1 − ρ_pf),   step(N) = decode_step_s(N, N · kv)

  with ``kv = E[d·(p + o/2)] / E[d]`` the KV tokens of a sequence, weighted by how long
  it decodes. No fixed point below the batch limit: the batch slots queue (below).
* in-batch time ``T_i = a_i + d_i · step(N) / (1 − ρ_pf)``.
* waiting for a prefill: an arrival is admitted at once by an idle or decoding replica
  and waits when all ``c`` replicas are prefilling: M/G/c with service ``a``
  (Allen–Cunneen, :func:`sim.metrics.queueing.mgc_mean_wait_s`), wait probability
  ``C_pf = ErlangC(c, λ·E[a])``.
* waiting for a batch slot: ``k = c · B`` slots (``B = min(max_batch_size, KV capacity
  / E[p + o])``) held for ``T``: M/G/k with ``C_slot = ErlangC(k, λ·E[T])``;
  ``λ·E[T] ≥ k``: infeasible.
* the wait ``W`` is 0 with probability ``1 − C`` and exponential with mean ``m``
  otherwise (exact for M/M/c), with ``C = 1 − (1 − C_pf)(1 − C_slot)`` and
  ``m = (Wq_pf + Wq_slot) / C``.

Latency ``L_i = W + T_i``, time to first token ``TTFT_i = W + a_i``. Per window::

    P(L ≤ x) = mean_i [x ≥ T_i] · (1 − C · exp(−(x − T_i) / m))

and over the mixture ``F(x) = Σ_w n_w P_w(L ≤ x) / Σ_w n_w`` (an infeasible window
counts its requests as never served). The ``q`` quantile solves ``F(x) = q`` by
bisection; the mean is ``Σ_w n_w (E[T] + Wq) / Σ_w n_w``.

**Service-time pools** (``latency: exponential | lognormal``): ``T`` is the service
time itself (a deterministic quantile grid of its distribution), no decode, and the
pool is M/G/c on its replicas. With ``max_batch_size = 1`` and exponential service this
is M/M/c and the estimate is exact (Erlang C; :mod:`tests.test_plan` checks it).

**Cost** is exact, not estimated: ``replicas × devices_per_replica × usd_per_hour ×
730.5 h`` a month (× ``usage.cells``).

What it leaves out: batched prefills are cheaper than single ones (weights read once),
stages before or after the pool, routers that send only part of the traffic, prefix
caching, and queues that build across windows (a burst's backlog). The search
confirms by simulation, so these errors cost simulations, not wrong answers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.metrics.queueing import erlang_c, mgc_mean_wait_s
from sim.plan.load import PAIRS, LoadProfile, group_windows, load_profile, token_pairs

__all__ = ["LoadProfile", "group_windows", "load_profile", "token_pairs"]  # and the model

SECONDS_PER_MONTH = 30.4375 * 86400.0

TARGETS = {
    # name -> (measure, statistic): q in (0, 1), or "mean"
    "p50_latency_s": ("latency", 0.50),
    "p90_latency_s": ("latency", 0.90),
    "p95_latency_s": ("latency", 0.95),
    "p99_latency_s": ("latency", 0.99),
    "mean_latency_s": ("latency", "mean"),
    "p50_ttft_s": ("ttft", 0.50),
    "p90_ttft_s": ("ttft", 0.90),
    "p95_ttft_s": ("ttft", 0.95),
    "p99_ttft_s": ("ttft", 0.99),
    "mean_ttft_s": ("ttft", "mean"),
}


# -- the pool's service ----------------------------------------------------------------------
def _ndtri(u: np.ndarray) -> np.ndarray:
    """Standard normal quantiles of ``u`` (vectorised bisection; ~1e-12)."""
    lo, hi = np.full(u.shape, -40.0), np.full(u.shape, 40.0)
    erfc = np.frompyfunc(math.erfc, 1, 1)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        below = 0.5 * erfc(-mid / math.sqrt(2.0)).astype(float) < u
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    return 0.5 * (lo + hi)


def service_grid(dist: str, mean_s: float, cv: float, n: int = PAIRS) -> np.ndarray:
    """``n`` equally likely service times of a distribution (its quantiles at (i+½)/n),
    scaled to the exact mean."""
    u = (np.arange(n) + 0.5) / n
    if dist == "exponential":
        grid = -np.log1p(-u)
    else:
        sigma = math.sqrt(math.log1p(cv * cv))
        grid = np.exp(sigma * _ndtri(u))
    return grid * (mean_s / grid.mean())  # the mean exactly (the grid misses the far tail)


@dataclass
class Service:
    """What one replica does per request: prefill ``a`` and decode steps ``d`` (see module)."""

    prefill_s: np.ndarray
    decode_steps: np.ndarray
    kv_per_seq: float  # KV tokens of a decoding sequence, weighted by its decode time
    kv_reserved: float  # mean prompt + output tokens reserved per sequence
    kv_capacity_tokens: float
    latency: Any = None  # a RooflineLatency (decode_step_s), None for service-time pools

    def step_s(self, batch: float) -> float:
        if self.latency is None:
            return 0.0
        b = max(1, int(math.ceil(batch)))
        return float(self.latency.decode_step_s(b, int(b * self.kv_per_seq)))


def pool_service(
    name: str, pc: Any, cfg: Any, pairs: tuple[np.ndarray, np.ndarray] | None
) -> Service:
    """The :class:`Service` of ``pools.<name>`` config ``pc`` (ConfigError if it cannot run)."""
    from sim.components.pool import pool_latency
    from sim.engine.context import SimContext

    ctx = SimContext(seed=int(cfg.seed), horizon_s=1.0)
    lat = pool_latency(name, pc, cfg, ctx)
    if pc.latency != "roofline":
        grid = service_grid(pc.latency, float(pc.service_mean_s), float(pc.service_cv))
        return Service(grid, np.zeros_like(grid), 0.0, 0.0, math.inf)
    assert pairs is not None
    p, o = pairs
    a = np.array([lat.prefill_s([int(x)]) for x in p])
    d = (o - 1).astype(float)
    kv = float((d * (p + o / 2)).sum() / d.sum()) if d.sum() > 0 else float(p.mean())
    return Service(a, d, kv, float((p + o).mean()), float(lat.kv_capacity_tokens), lat)


# -- one window ------------------------------------------------------------------------------
@dataclass
class Window:
    """Steady state of one window: in-batch time coefficients and the wait distribution."""

    feasible: bool
    stretch_step_s: float = 0.0  # decode seconds per step, stretched by prefill pauses
    wait_prob: float = 0.0  # C
    wait_mean_s: float = 0.0  # Wq (unconditional)
    prefill_share: float = 0.0  # ρ_pf: a replica's time spent prefilling
    pause_share: float = 0.0  # ρ_int: ... while it has sequences decoding
    batch: float = 0.0  # N, sequences decoding per replica
    why: str = ""


def poisson_sf(k: int, mu: float) -> float:
    """``P(X ≥ k)`` for ``X`` Poisson with mean ``mu``."""
    if k <= 0:
        return 1.0
    if mu <= 0:
        return 0.0
    j = np.arange(k)
    log_fact = np.concatenate(([0.0], np.cumsum(np.log(np.arange(1, k)))))
    return float(max(0.0, 1.0 - np.exp(-mu + j * math.log(mu) - log_fact).sum()))


def window(svc: Service, rate_rps: float, replicas: int, max_batch: int) -> Window:
    """The queue of one window at ``rate_rps`` over ``replicas`` (formulas in the module)."""
    c = int(replicas)
    if rate_rps <= 0:
        return Window(True, svc.step_s(1))
    lam_r = rate_rps / c
    mean_a = float(svc.prefill_s.mean())
    rho = lam_r * mean_a
    if rho >= 1:
        return Window(False, prefill_share=rho, why="prefill alone needs every replica")
    slots_b = max_batch
    if svc.kv_reserved > 0 and math.isfinite(svc.kv_capacity_tokens):
        slots_b = max(1, min(max_batch, int(svc.kv_capacity_tokens // svc.kv_reserved)))
    mean_d = float(svc.decode_steps.mean())
    n, step, pause = 0.0, svc.step_s(1), rho
    if mean_d > 0:
        for _ in range(200):
            step = svc.step_s(min(max(n, 1.0), slots_b))
            # an arrival pauses this replica's decoding only if no replica is idle
            in_system = rate_rps * (mean_a + mean_d * step / (1 - pause))
            pause = rho * (1.0 if c == 1 else poisson_sf(c - 1, in_system))
            n_new = lam_r * mean_d * step / (1 - pause)
            if abs(n_new - n) < 1e-6 * max(n, 1):
                n = n_new
                break
            n = n_new
            if n > 10 * slots_b:
                break
    stretch = step / (1 - pause)
    t = svc.prefill_s + svc.decode_steps * stretch
    mean_t = float(t.mean())
    cv_a = float(svc.prefill_s.std() / mean_a) if mean_a > 0 else 0.0
    c_pf = erlang_c(c, rate_rps * mean_a)
    wq_pf = mgc_mean_wait_s(rate_rps, 1 / mean_a, c, cv_a)
    c_slot, wq_slot = 0.0, 0.0
    k = c * slots_b
    offered = rate_rps * mean_t
    if offered >= k:
        return Window(False, stretch, prefill_share=rho, pause_share=pause, batch=n,
                      why=f"{k} batch slots cannot hold the load")  # fmt: skip
    if slots_b > 1:  # with one slot per replica the prefill queue is the slot queue
        c_slot = erlang_c(k, offered)
        wq_slot = mgc_mean_wait_s(rate_rps, 1 / mean_t, k, float(t.std() / mean_t))
    wait_prob = 1 - (1 - c_pf) * (1 - c_slot)
    return Window(True, stretch, wait_prob, wq_pf + wq_slot, rho, pause, n)


# -- the estimate -----------------------------------------------------------------------------
@dataclass
class Estimate:
    """The estimated target value of one candidate (``inf``: the load cannot be served)."""

    value_s: float
    peak_prefill_share: float
    peak_batch: float
    why: str = ""


class PoolEstimator:
    """Estimates the target of a pool (one hardware × batch) at any replica count.

    ``z`` and ``u`` (one standard normal and one uniform per token pair, stream
    ``plan.estimate.noise``) are drawn once and reused for every replica count, so the
    estimate moves smoothly and monotonically with the replicas.
    """

    def __init__(
        self,
        svc: Service,
        profile: LoadProfile,
        max_batch: int,
        target: str,
        rng: np.random.Generator,
    ) -> None:
        self.svc = svc
        self.profile = profile
        self.max_batch = int(max_batch)
        self.measure, self.stat = TARGETS[target]
        n = len(svc.prefill_s)
        self._z = rng.standard_normal(n)
        self._u = rng.random(n)
        self._a2 = float((svc.prefill_s**2).mean())
        self._cache: dict[int, Estimate] = {}

    def floor_s(self) -> float:
        """The target with no queueing at all (infinitely many replicas, nothing waits)."""
        base = self.svc.prefill_s + self.svc.decode_steps * self.svc.step_s(1)
        if self.measure == "ttft":
            base = self.svc.prefill_s
        if self.stat == "mean":
            return float(base.mean())
        return float(np.quantile(base, float(self.stat)))

    def _sample(self, w: Window, replicas: int, rate_rps: float) -> np.ndarray:
        """Latency (or TTFT) of each token pair in window ``w`` (see the module)."""
        svc = self.svc
        u = self._u
        wait = np.zeros_like(u)
        if w.wait_prob > 0:
            cond = w.wait_mean_s / w.wait_prob
            hit = u < w.wait_prob
            wait[hit] = -cond * np.log(np.maximum(u[hit], 1e-300) / w.wait_prob)
        if self.measure == "ttft":
            return svc.prefill_s + wait
        d = svc.decode_steps
        rho = w.pause_share
        step = w.stretch_step_s * (1 - rho)
        # decode work, plus the prefills that arrived while this one waited and prefilled
        work = np.where(d > 0, d * step + rho * (svc.prefill_s + wait), 0.0)
        mean_y = work / (1 - rho)
        # prefills interrupt as a Poisson stream on one replica; across several, the
        # scheduler's fewest-running choice spreads them evenly (variance / replicas)
        var_y = work * rho / float(svc.prefill_s.mean()) * self._a2 / (1 - rho) ** 3 / replicas
        with np.errstate(divide="ignore", invalid="ignore"):
            sig2 = np.where(mean_y > 0, np.log1p(var_y / np.maximum(mean_y, 1e-300) ** 2), 0.0)
        y = mean_y * np.exp(np.sqrt(sig2) * self._z - sig2 / 2)
        return svc.prefill_s + y + wait

    def at(self, replicas: int) -> Estimate:
        """The estimate at ``replicas`` replicas (cached)."""
        if replicas in self._cache:
            return self._cache[replicas]
        est = self._at(int(replicas))
        self._cache[replicas] = est
        return est

    def _at(self, replicas: int) -> Estimate:
        prof = self.profile
        if not len(prof.rates_rps):
            return Estimate(self.floor_s(), 0.0, 0.0)
        wins = [window(self.svc, r, replicas, self.max_batch) for r in prof.rates_rps]
        ok = np.array([w.feasible for w in wins])
        peak = max(wins, key=lambda w: w.prefill_share)
        why = next((w.why for w in wins if not w.feasible), "")
        weights = prof.weights / prof.weights.sum()
        if self.stat == "mean" and not ok.all():
            return Estimate(math.inf, peak.prefill_share, peak.batch, why)
        q = 1.0 if self.stat == "mean" else float(self.stat)
        if weights[ok].sum() < q:
            return Estimate(math.inf, peak.prefill_share, peak.batch, why)
        rates = prof.rates_rps[ok]
        live = [w for w in wins if w.feasible]
        values = np.stack([self._sample(w, replicas, r) for w, r in zip(live, rates)])
        wl = weights[ok]
        if self.stat == "mean":
            return Estimate(float(wl @ values.mean(axis=1)), peak.prefill_share, peak.batch)
        flat = values.ravel()
        mass = np.repeat(wl / values.shape[1], values.shape[1])
        order = np.argsort(flat, kind="stable")
        cum = np.cumsum(mass[order])
        i = min(int(np.searchsorted(cum, q - 1e-12)), len(flat) - 1)
        return Estimate(float(flat[order][i]), peak.prefill_share, peak.batch, why)

    def calibrated(self, replicas: int, scale: float) -> float:
        """The estimate with its queueing part (above the floor) multiplied by ``scale``."""
        floor = self.floor_s()
        return floor + scale * (self.at(replicas).value_s - floor)

    def smallest_replicas(
        self, target_s: float, max_replicas: int, scale: float = 1.0, lo: int = 0
    ) -> int | None:
        """The fewest replicas in ``(lo, max_replicas]`` estimated to meet ``target_s``
        (with the queueing part scaled by ``scale``, see :meth:`calibrated`), or None.

        The estimate never gets worse with more replicas, so this bisects.
        """
        if self.calibrated(max_replicas, scale) > target_s:
            return None
        hi = max_replicas  # lo misses (0 replicas serve nothing), hi meets
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.calibrated(mid, scale) <= target_s:
                hi = mid
            else:
                lo = mid
        return hi


def monthly_pool_usd(pc: Any, cfg: Any, replicas: int, cells: int = 1) -> float:
    """Exact monthly cost of ``replicas`` replicas of pool config ``pc``, provisioned 24/7."""
    hw = cfg.hardware[pc.hardware]
    hours = SECONDS_PER_MONTH / 3600.0
    return replicas * int(pc.devices_per_replica) * float(hw.usd_per_hour) * hours * cells
