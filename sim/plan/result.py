"""What the planner found: simulated runs, candidate rows, lines of candidates, the result.

A *line* is one combination of the discrete dimensions (hardware × batch size); its
*rows* are the replica counts shown in the table, each estimated and perhaps simulated.
:func:`measured` reads a run's value of the target, counting failed, dropped and
unfinished requests as infinitely late.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from sim.plan.estimate import TARGETS, LoadProfile, PoolEstimator


@dataclass
class Simulated:
    """What one confirmation run measured."""

    value_s: float
    meets: bool
    p95_latency_s: float | None
    p95_ttft_s: float | None
    monthly_usd: float
    pool_monthly_usd: float
    utilization: float | None
    unserved: int
    wall_s: float


@dataclass
class Row:
    """One candidate: settings, replicas, cost, estimate, and what became of it."""

    settings: dict[str, Any]
    replicas: int | None  # None: the whole line (no replica count meets, or none fits)
    pool_monthly_usd: float | None
    estimate_s: float | None
    status: str  # simulated | estimate misses | costs more | implied | does not fit
    sim: Simulated | None = None
    note: str = ""

    @property
    def meets(self) -> bool | None:
        return self.sim.meets if self.sim is not None else None


@dataclass
class Line:
    """One combination of the discrete dimensions and what the search learnt of it."""

    settings: dict[str, Any]
    estimator: PoolEstimator | None = None
    floor_s: float | None = None
    r_est: int | None = None
    why: str = ""  # why no replica count can meet, if so
    sims: dict[int, Simulated] = field(default_factory=dict)
    meet: int | None = None  # smallest simulated count that met
    miss: int = 0  # largest simulated count that missed (0: none)
    status: str = ""


@dataclass
class PlanResult:
    """Everything the planner found (printed by :mod:`sim.plan.cli`, written to plan.*)."""

    scenario: str
    target: str
    target_s: float
    pool: str
    lines: list[Line]
    rows: list[Row]
    answer: Row | None
    other_monthly_usd: float
    users: int | None
    cells: int
    candidates: int
    simulations: int
    counts: dict[str, int]
    profile: LoadProfile
    measured_over: str
    wall_s: float
    compare: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)


def measured(result: Any, target: str) -> tuple[float, int]:
    """The run's value of ``target`` (unserved requests count as infinitely late)."""
    measure, stat = TARGETS[target]
    hist = result.latency if measure == "latency" else result.ttft
    req = result.summary["requests"]
    unserved = int(req["failed"] + req["dropped"] + req["in_flight"])
    if not hist.n:
        return math.inf, unserved
    if stat == "mean":
        return (hist.mean() if unserved == 0 else math.inf), unserved
    share = float(stat) * req["arrived"] / max(req["completed"], 1)
    return (hist.quantile(share) if share <= 1 else math.inf), unserved
