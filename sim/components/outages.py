"""Outages of a provider: when it is down, precomputed once, asked in O(log n).

Mechanism
    An :class:`OutageSchedule` is a sorted list of disjoint ``[start_s, end_s)``
    intervals during which a component is down. It is the union of

    * **scheduled windows** (``windows_h: [[start_h, end_h], ...]``, hours from t=0 of
      the run: with ``workload.clock_start_h=0`` that is Monday 00:00), and
    * **random outages** from a two-state renewal process: the component starts up at
      t=0, stays up for ``Exp(mtbf_h)`` hours, down for ``Exp(mttr_h)`` hours, up again,
      and so on until the horizon. The draws come from the component's own random
      stream (``apis.NAME.outages``), so they never shift another component's draws.

    Overlapping or touching intervals are merged. :meth:`OutageSchedule.down` and
    :meth:`OutageSchedule.next_up` bisect the interval starts, O(log n) per question;
    nothing is scheduled in the simulation: a component asks when a call arrives.

    In the long run a random-outage component is down a share
    ``mttr / (mtbf + mttr)`` of the time (the renewal-reward theorem), which the tests
    check over several seeds.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim import checks
from sim.checks import knob

HOUR_S = 3600.0
OUTAGE_BEHAVIOURS = ("error", "hang")


@dataclass
class OutagesConfig:
    """When a provider is down, and what a call sees then (``apis.NAME.outages``).

    No default outage: the figures to use are a scenario's (a provider's status page
    history, e.g. status.openai.com, lists past incidents and their durations).
    """

    windows_h: list[Any] = knob(factory=list, ge=0)  # [[start_h, end_h], ...] from t=0
    mtbf_h: float | None = knob(None, gt=0, none_ok=True)  # mean hours up between outages
    mttr_h: float | None = knob(None, gt=0, none_ok=True)  # mean hours an outage lasts
    # error: a call fails after error_after_s (503 / connection refused); hang: no answer
    # until the outage ends, then an error (only a client timeout frees the caller)
    behaviour: str = knob("error", choices=OUTAGE_BEHAVIOURS)
    # Assumption: a refused or 503 call returns in about one round trip plus a TLS
    # handshake to the provider's edge, ~0.1 s; no public figure was found.
    error_after_s: float = knob(0.1, ge=0)


class OutageSchedule:
    """Sorted, disjoint down intervals ``[start_s, end_s)``; ask :meth:`down`, :meth:`next_up`."""

    __slots__ = ("starts", "ends")

    def __init__(self, intervals_s: Iterable[tuple[float, float]] = ()) -> None:
        merged: list[list[float]] = []
        for a, b in sorted((float(a), float(b)) for a, b in intervals_s):
            if not b > a:
                raise ValueError(f"an outage must end after it starts, got [{a}, {b})")
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        self.starts = [a for a, _ in merged]
        self.ends = [b for _, b in merged]

    @classmethod
    def build(
        cls,
        horizon_s: float,
        *,
        windows_h: Sequence[Sequence[float]] = (),
        mtbf_h: float | None = None,
        mttr_h: float | None = None,
        rng: np.random.Generator | None = None,
    ) -> OutageSchedule:
        """Scheduled windows (hours from t=0) plus random up/down periods until ``horizon_s``."""
        checks.positive("horizon_s", horizon_s)
        intervals = [(a * HOUR_S, b * HOUR_S) for a, b in windows_h]
        if (mtbf_h is None) != (mttr_h is None):
            checks.both("mtbf_h", mtbf_h, "mttr_h", mttr_h, "go together: set both or neither")
        if mtbf_h is not None:
            checks.positive("mtbf_h", mtbf_h)
            checks.positive("mttr_h", mttr_h)
            gen = checks.rng("rng", rng)
            intervals += random_outages(horizon_s, mtbf_h * HOUR_S, mttr_h * HOUR_S, gen)  # type: ignore[operator]
        return cls(intervals)

    def __len__(self) -> int:
        return len(self.starts)

    def _index(self, t: float) -> int:
        """Index of the interval holding ``t``, or -1."""
        i = bisect.bisect_right(self.starts, t) - 1
        return i if i >= 0 and t < self.ends[i] else -1

    def down(self, t: float) -> bool:
        """Whether the component is down at time ``t``."""
        return self._index(t) >= 0

    def next_up(self, t: float) -> float:
        """When the component is up again: ``t`` itself if it is up at ``t``."""
        i = self._index(t)
        return self.ends[i] if i >= 0 else t

    def downtime_s(self, start_s: float, end_s: float) -> float:
        """Seconds down within ``[start_s, end_s)``."""
        total = 0.0
        for a, b in zip(self.starts, self.ends):
            lo, hi = max(a, start_s), min(b, end_s)
            if hi > lo:
                total += hi - lo
        return total

    def intervals(self) -> list[tuple[float, float]]:
        """The down intervals, in seconds."""
        return list(zip(self.starts, self.ends))

    def __repr__(self) -> str:
        return f"OutageSchedule({len(self)} intervals, {self.downtime_s(0, math.inf):.0f} s down)"


class OutageGate:
    """What a call meets while its component is down (an :class:`OutageSchedule`).

    With ``behaviour="error"`` the call fails ``error_after_s`` after it arrives (a quick
    5xx or a refused connection); with ``"hang"`` it gets no answer until the outage ends,
    then fails. :meth:`delay_s` is that wait; the caller fails the request with
    :attr:`reason` after it and bills nothing.
    """

    def __init__(
        self, schedule: OutageSchedule, behaviour: str, error_after_s: float, reason: str
    ) -> None:
        self.schedule = schedule
        self.behaviour = checks.choice("outage_behaviour", behaviour, OUTAGE_BEHAVIOURS)
        self.error_after_s = checks.non_negative("outage_error_after_s", error_after_s)
        self.reason = reason
        self.failures = 0

    def down(self, now: float) -> bool:
        """Whether a call arriving at ``now`` meets the outage."""
        return self.schedule.down(now)

    def delay_s(self, now: float) -> float:
        """How long a call arriving at ``now`` (while down) waits before it fails."""
        if self.behaviour == "hang":
            return self.schedule.next_up(now) - now
        return self.error_after_s

    def report(self, warmup_s: float, horizon_s: float) -> dict[str, Any]:
        """Downtime within the measured window and the behaviour, for the summary."""
        return {
            "downtime_s": self.schedule.downtime_s(warmup_s, horizon_s),
            "outage_behaviour": self.behaviour,
        }


def random_outages(
    horizon_s: float, mtbf_s: float, mttr_s: float, rng: np.random.Generator
) -> list[tuple[float, float]]:
    """Alternating Exp(mtbf) up and Exp(mttr) down periods from t=0 (up) to ``horizon_s``."""
    out: list[tuple[float, float]] = []
    t = 0.0
    # draw in blocks: the expected number of cycles, plus a margin, per refill
    block = max(16, int(2 * horizon_s / (mtbf_s + mttr_s)) + 16)
    while t < horizon_s:
        ups = rng.exponential(mtbf_s, block)
        downs = rng.exponential(mttr_s, block)
        for up, dn in zip(ups.tolist(), downs.tolist()):
            start = t + up
            if start >= horizon_s:
                return out
            t = start + dn
            if t > start:
                out.append((start, t))
    return out


def check_windows(key: str, windows_h: Any) -> list[tuple[float, float]]:
    """``windows_h`` as (start_h, end_h) pairs, each ending after it starts (config ``key``)."""
    out = []
    for i, w in enumerate(windows_h or ()):
        values = list(w) if isinstance(w, Sequence) and not isinstance(w, str) else None
        if values is None or len(values) != 2:
            checks.fail(f"{key}[{i}]", w, "must be a pair [start_h, end_h] (hours from t=0)")
        a = checks.number(f"{key}[{i}][0]", values[0], ge=0)
        b = checks.number(f"{key}[{i}][1]", values[1], ge=0)
        if not b > a:
            checks.fail(f"{key}[{i}]", values, "must end after it starts: [start_h, end_h]")
        out.append((a, b))
    return out


def outage_schedule(key: str, oc: Any, ctx: Any) -> OutageSchedule | None:
    """The schedule an ``OutagesConfig`` ``oc`` at config ``key`` describes (None: no outage).

    Random outages draw from the stream named ``key`` (``apis.NAME.outages``)."""
    if oc is None:
        return None
    windows = check_windows(f"{key}.windows_h", oc.windows_h)
    if (oc.mtbf_h is None) != (oc.mttr_h is None):
        checks.both(
            f"{key}.mtbf_h",
            oc.mtbf_h,
            f"{key}.mttr_h",
            oc.mttr_h,
            "go together: set both (random outages) or neither",
        )
    if not windows and oc.mtbf_h is None:
        return None
    rng = ctx.rng.stream(key) if oc.mtbf_h is not None else None
    return OutageSchedule.build(
        ctx.horizon_s, windows_h=windows, mtbf_h=oc.mtbf_h, mttr_h=oc.mttr_h, rng=rng
    )
