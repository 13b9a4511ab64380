"""Lag and staleness: how far the index is behind, as a query about fresh content sees it.

Lag is the time from a document's arrival to its visibility in the index (queue wait +
processing + the wait for the next refresh); the pipeline records it per document in a
LogHistogram when the document is published.

Staleness (what a linked store asks, O(1) per query)
    A query is about a document that arrived in the last ``fresh_window_s`` with
    probability ``fresh_query_share``, uniformly among those documents; it misses when
    that document is not yet visible. With FIFO processing the invisible documents are
    the newest, so ``stale_share = fresh_query_share × min(invisible, recent) / recent``.
    The run starts mid-stream: the part of the window before t = 0 counts as
    ``docs_per_day`` documents a day, all visible (the index had kept up). In steady
    state (Little's law) this is ``fresh_query_share × mean lag / window``; a lag longer
    than the window makes every fresh question miss. ``stores.NAME.pipeline`` links a
    vector store to it (:mod:`sim.components.retrieval`).
"""

from __future__ import annotations

from collections import deque

from sim import checks


class Freshness:
    """Documents not yet visible, and the recent arrivals a fresh question may be about."""

    def __init__(
        self, *, fresh_query_share: float, fresh_window_s: float, docs_per_day: float
    ) -> None:
        self.fresh_query_share = checks.probability("fresh_query_share", fresh_query_share)
        self.fresh_window_s = checks.positive("fresh_window_s", fresh_window_s)
        self._rate = docs_per_day / 86400.0
        self._recent: deque[float] = deque()  # arrival times within the freshness window
        self.invisible = 0  # arrived (any time) and not yet visible

    def arrived(self, t: float) -> None:
        """A document arrived at ``t``: not visible yet."""
        self.invisible += 1
        if self.fresh_query_share > 0:
            self._recent.append(t)

    def published(self, n: int) -> None:
        """``n`` documents became visible."""
        self.invisible -= n

    def stale_share(self, now: float) -> float:
        """Probability that a query at ``now`` asks about a document not yet visible."""
        if self.fresh_query_share == 0.0:
            return 0.0
        recent, cutoff = self._recent, now - self.fresh_window_s
        while recent and recent[0] < cutoff:
            recent.popleft()
        # before t = 0 the stream ran at its mean rate and the index kept up
        n = len(recent) + self._rate * max(0.0, -cutoff)
        return self.fresh_query_share * min(self.invisible, n) / n if n > 0 else 0.0
