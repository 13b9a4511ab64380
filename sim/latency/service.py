"""ServiceTimeLatency: one random service time per request, no token-level model.

For CPU instances, rules engines and small models, and for the M/M/c reduction of the
inference pool: with ``max_batch_size=1`` and exponential service, a pool of ``c``
replicas is an M/M/c queue. Every request of a prefill iteration draws its own
service time and the iteration lasts their sum; decode steps take no time, so a
request completes when its prefill ends.

Distributions, for mean ``m`` and coefficient of variation ``cv``:

* ``exponential`` — rate ``1/m`` (its cv is 1; the ``cv`` argument is ignored);
* ``lognormal`` — ``σ² = ln(1 + cv²)``, ``μ = ln m − σ²/2``, so ``E = m``, ``sd = cv·m``.

Draws come from the generator in blocks of :attr:`BLOCK`, so one draw costs an index
increment; the stream of values is the same whatever the block size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from sim import checks
from sim.kernels.blocks import BlockDraws

DISTS = ("exponential", "lognormal")


class ServiceTimeLatency:
    """Per-request service times from an exponential or lognormal distribution."""

    BLOCK = 4096
    kv_capacity_tokens: int = 1 << 62

    def __init__(
        self, mean_s: float, cv: float = 1.0, dist: str = "exponential", *, rng: np.random.Generator
    ) -> None:
        checks.positive("mean_s", mean_s)
        checks.choice("dist", dist, DISTS)
        checks.non_negative("cv", cv)
        checks.rng("rng", rng)
        self.mean_s = float(mean_s)
        self.cv = 1.0 if dist == "exponential" else float(cv)
        self.dist = dist
        self.rng = rng
        self._sigma = math.sqrt(math.log1p(self.cv**2))
        self._mu = math.log(self.mean_s) - self._sigma**2 / 2
        if dist == "exponential":
            self._draws = BlockDraws(lambda n: rng.exponential(self.mean_s, n), self.BLOCK)
        else:
            self._draws = BlockDraws(lambda n: rng.lognormal(self._mu, self._sigma, n), self.BLOCK)

    @property
    def variance_s2(self) -> float:
        """Variance of one service time, ``(cv·mean)²``."""
        return (self.cv * self.mean_s) ** 2

    def draw(self) -> float:
        """One service time, seconds."""
        return self._draws.next()

    def prefill_s(self, prompt_tokens: Sequence[int]) -> float:
        """Sum of one service-time draw per request admitted together."""
        draw = self.draw
        return sum(draw() for _ in range(len(prompt_tokens)))

    def decode_step_s(self, batch_size: int, kv_tokens: int) -> float:
        """Zero: the whole service happens in the request's prefill."""
        return 0.0

    def __repr__(self) -> str:
        return f"ServiceTimeLatency(mean_s={self.mean_s:g}, cv={self.cv:g}, dist={self.dist!r})"
