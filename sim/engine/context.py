"""SimContext: what every component of one run shares (environment, streams, ledger, recorder)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import simpy

from sim import checks
from sim.costs.ledger import Ledger
from sim.engine.rng import RngStreams
from sim.metrics.recorder import Recorder


@dataclass
class SimContext:
    """Run-wide services handed to components as keyword arguments.

    ``horizon_s`` is the simulated time the run covers; statistics and costs count only
    what happens after ``warmup_s``. ``bucket_s`` is the width of the time buckets of
    the ledger and the time series. Ids come from a per-run counter, never a class
    attribute, so two runs in one process never share state.
    """

    seed: int
    horizon_s: float
    warmup_s: float = 0.0
    bucket_s: float = 60.0
    env: simpy.Environment = field(default_factory=simpy.Environment)
    rng: RngStreams = field(init=False)
    ledger: Ledger = field(init=False)
    recorder: Recorder = field(init=False)

    def __post_init__(self) -> None:
        checks.positive("horizon_s", self.horizon_s)
        checks.non_negative("warmup_s", self.warmup_s)
        if not self.warmup_s < self.horizon_s:
            checks.both(
                "warmup_s", self.warmup_s, "horizon_s", self.horizon_s, "need warmup_s < horizon_s"
            )
        checks.positive("bucket_s", self.bucket_s)
        checks.integer("seed", self.seed, 0)
        self.rng = RngStreams(self.seed)
        self.ledger = Ledger(warmup_s=self.warmup_s, bucket_s=self.bucket_s)
        self.recorder = Recorder(warmup_s=self.warmup_s, bucket_s=self.bucket_s)
        self._ids = itertools.count()

    def next_id(self) -> int:
        """A run-unique integer id."""
        return next(self._ids)

    @property
    def measured_s(self) -> float:
        """Length of the measured window, horizon minus warm-up."""
        return self.horizon_s - self.warmup_s
