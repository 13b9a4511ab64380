"""What each request asks: a query id from a universe with Zipf-like popularity.

Caches (and later retrieval) need to know when two requests ask the same thing. Each
request carries a query id: with probability ``new_share`` a query never seen before
(a fresh id, ``>= universe``), otherwise one of ``universe`` repeatable queries, query
``k`` (0-based rank) with probability ``(k + 1)^-zipf_s / H`` — the independent
reference model under which Che's approximation of an LRU cache holds
(:func:`sim.metrics.caching.che_hit_rate`). ``zipf_s = 0`` is uniform popularity.

Draws come in vectorised blocks by inverse CDF (``searchsorted`` on the cumulative
popularity), from the one ``rng`` argument.
"""

from __future__ import annotations

import numpy as np

from sim import checks


class ZipfQueries:
    """Query ids: Zipf(``zipf_s``) over ``universe`` ids, plus a share of never-seen ones."""

    def __init__(
        self, universe: int, zipf_s: float, new_share: float, *, rng: np.random.Generator
    ) -> None:
        self.universe = checks.integer("universe", universe, 1)
        self.zipf_s = checks.non_negative("zipf_s", zipf_s)
        self.new_share = checks.number("new_share", new_share, ge=0, le=1)
        self.rng = checks.rng("rng", rng)
        weights = np.arange(1, self.universe + 1, dtype=np.float64) ** -self.zipf_s
        self.popularity = weights / weights.sum()  # of repeatable queries, by rank
        self._cum = np.cumsum(self.popularity)
        self._cum[-1] = 1.0
        self._next_new = self.universe
        self.last: np.ndarray | None = None  # ids of the last block (QueryDifficulty reads it)

    def sample(self, n: int) -> np.ndarray:
        """``n`` query ids (int64)."""
        u = self.rng.random((2, n))
        ids = np.searchsorted(self._cum, u[0], side="right").astype(np.int64)
        np.minimum(ids, self.universe - 1, out=ids)
        fresh = u[1] < self.new_share
        k = int(fresh.sum())
        if k:
            ids[fresh] = np.arange(self._next_new, self._next_new + k, dtype=np.int64)
            self._next_new += k
        self.last = ids
        return ids
