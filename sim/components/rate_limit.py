"""Rate limits as token buckets in virtual-scheduling (GCRA) form: arithmetic, no events.

A provider's "N requests per minute" or "N tokens per minute" limit is a bucket of
``capacity`` units (one minute's worth) refilled continuously at ``rate_per_s``. A call
costing ``c`` units may start once the bucket holds ``c`` units, and then takes them.

Instead of a level that must be refilled over time, the bucket keeps one number, the
*theoretical arrival time* ``tat``: the moment the bucket would be full again if nothing
else arrived. At time ``t`` the bucket holds ``capacity - rate * max(0, tat - t)`` units,
so a call of cost ``c`` is admissible from ``tat - (capacity - c) / rate`` on. Admissions
are first-come first-served: a call is never admitted before one committed earlier,
even if it is smaller (no overtaking in the provider's queue).

Nothing here touches SimPy: a caller asks :meth:`TokenBucket.earliest`, decides whether
to wait, and :meth:`TokenBucket.commit`\\ s the admission time (or calls
:meth:`TokenBucket.reserve` to do both).
"""

from __future__ import annotations

import math

from sim import checks


class TokenBucket:
    """A continuously refilled bucket of ``capacity`` units gaining ``rate_per_s`` per second.

    The bucket starts full. Over any window of length ``w`` the committed costs sum to at
    most ``rate_per_s * w + capacity``. A call costing more than ``capacity`` can never be
    admitted: :meth:`earliest` returns ``inf`` for it.
    """

    __slots__ = ("rate_per_s", "capacity", "_tat", "_last_admit")

    def __init__(self, rate_per_s: float, capacity: float) -> None:
        checks.positive("rate_per_s", rate_per_s)
        checks.positive("capacity", capacity)
        self.rate_per_s = float(rate_per_s)
        self.capacity = float(capacity)
        self._tat = -math.inf  # bucket full since forever
        self._last_admit = -math.inf

    @classmethod
    def per_minute(cls, limit_per_min: float) -> TokenBucket:
        """The bucket of a "``limit_per_min`` per minute" limit: one minute's worth of burst."""
        return cls(limit_per_min / 60.0, limit_per_min)

    def earliest(self, now: float, cost: float) -> float:
        """Earliest time ``>= now`` a call of ``cost`` units may start, FIFO; commits nothing."""
        if cost > self.capacity:
            return math.inf
        at = self._tat - (self.capacity - cost) / self.rate_per_s
        return max(now, at, self._last_admit)

    def commit(self, at: float, cost: float) -> None:
        """Take ``cost`` units at time ``at`` (which must be ``>= earliest(...)``)."""
        self._tat = max(at, self._tat) + cost / self.rate_per_s
        self._last_admit = at

    def reserve(self, now: float, cost: float) -> float:
        """Earliest admission time of a call of ``cost`` units arriving at ``now``, committed.

        Returns ``inf`` (and commits nothing) when ``cost`` exceeds the capacity.
        """
        at = self.earliest(now, cost)
        if at != math.inf:
            self.commit(at, cost)
        return at

    def level(self, now: float) -> float:
        """Units available at ``now`` (ignoring FIFO order)."""
        return self.capacity - self.rate_per_s * max(0.0, self._tat - now)

    def __repr__(self) -> str:
        return f"TokenBucket(rate_per_s={self.rate_per_s!r}, capacity={self.capacity!r})"
