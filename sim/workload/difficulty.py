"""How hard each request is: a difficulty in [0, 1] from a Beta distribution.

Routing by complexity needs it: a router predicts it (with an error) and sends easy
requests to rules or a small model, hard ones to a large model. ``Beta(alpha, beta)``
with ``alpha < beta`` puts most requests at the easy end; ``alpha = beta = 1`` is uniform.
Drawn in vectorised blocks from the one ``rng`` argument, only when a component needs it;
when requests also carry query ids, a query's difficulty is fixed (:class:`QueryDifficulty`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim import checks


class BetaDifficulty:
    """Difficulties ~ Beta(``alpha``, ``beta``)."""

    def __init__(self, alpha: float, beta: float, *, rng: np.random.Generator) -> None:
        self.alpha = checks.positive("alpha", alpha)
        self.beta = checks.positive("beta", beta)
        self.rng = checks.rng("rng", rng)

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    def sample(self, n: int) -> np.ndarray:
        """``n`` difficulties in [0, 1]."""
        return self.rng.beta(self.alpha, self.beta, n)


class QueryDifficulty:
    """Difficulty as a property of the query: every time a query is asked it is as hard.

    Each of the ``universe`` repeatable queries gets one Beta draw, once; a never-seen
    query (id >= universe) gets a fresh draw. Reads the ids of the block the query
    sampler (:class:`sim.workload.queries.ZipfQueries`) drew last, so the source must
    draw queries first.
    """

    def __init__(self, beta: BetaDifficulty, queries: Any) -> None:
        self.beta = beta
        self.queries = queries
        self._of_query = beta.sample(queries.universe)

    @property
    def mean(self) -> float:
        return self.beta.mean

    def sample(self, n: int) -> np.ndarray:
        """The difficulties of the last ``n`` query ids drawn."""
        ids = self.queries.last
        if ids is None or len(ids) != n:
            raise ValueError("QueryDifficulty needs the query ids of the same block, drawn first")
        known = ids < self.queries.universe
        out = np.empty(n)
        out[known] = self._of_query[ids[known]]
        fresh = int(n - known.sum())
        if fresh:
            out[~known] = self.beta.sample(fresh)
        return out
