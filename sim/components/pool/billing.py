"""Billing of a pool's replicas: every replica-second from provisioning to release.

Mechanism
    A replica is billed from the moment it is asked for (its cold start included) until
    it is released, busy or idle, at ``usd_per_replica_hour`` — times ``1 - discount``
    for a spot replica. Each price class (on-demand, spot) has a
    :class:`~sim.components.metering.FleetMeter`: the number of its replicas as a step
    function of time, and their busy periods. The run calls :meth:`ReplicaBilling.bill`
    once per ledger bucket: the provisioned replica-seconds of the bucket (the integral
    of the count) are split into busy time (layer ``inference``) and the rest —
    provisioning, idle, draining, down after a crash — (layer ``infrastructure``).

Billing granularity
    A cloud bills each instance's life rounded up to its increment, with a minimum
    (AWS: per second with a 60 s minimum; formerly per started hour). When a replica is
    released its life ``L`` is billed as ``max(minimum_s, ceil(L / increment_s) *
    increment_s)``; the difference to ``L`` (the seconds the buckets already billed) is
    charged to ``infrastructure`` at the release. A replica still alive at the horizon
    has been billed for its time so far: its rounding would fall in a later bill.

Conservation: ledger dollars = Σ over classes of price × (replica-seconds the buckets
billed + rounding surcharges), which :attr:`replica_s` and :attr:`surplus_s` count.
"""

from __future__ import annotations

import math
from typing import Any

from sim import checks
from sim.components.metering import FleetMeter
from sim.costs.ledger import Ledger

_ROUND_TOL = 1e-9  # a life of 3600.0000000001 s is one hour, not two


def billed_life_s(life_s: float, increment_s: float, minimum_s: float) -> float:
    """Seconds billed for an instance that lived ``life_s``: rounded up, at least the minimum."""
    units = math.ceil(life_s / increment_s - _ROUND_TOL) if life_s > 0 else 0
    return max(minimum_s, units * increment_s)


class ReplicaBilling:
    """Charges a pool's replica-time to the ledger, per price class (see module)."""

    def __init__(
        self,
        ledger: Ledger,
        name: str,
        *,
        usd_per_replica_hour: float,
        on_demand: int,
        spot: int = 0,
        spot_discount: float = 0.0,
        increment_s: float = 1.0,
        minimum_s: float = 0.0,
        warmup_s: float = 0.0,
        spot_enabled: bool = False,
    ) -> None:
        self.ledger = ledger
        self.name = name
        self.usd_per_replica_hour = checks.non_negative(
            "usd_per_replica_hour", usd_per_replica_hour
        )
        self.increment_s = checks.positive("billing_increment_s", increment_s)
        self.minimum_s = checks.non_negative("billing_minimum_s", minimum_s)
        discount = checks.number("spot.discount", spot_discount, ge=0, lt=1)
        self.warmup_s = float(warmup_s)
        # price class -> meter, price factor; spot only when the pool may have spot replicas
        self.meters: dict[bool, FleetMeter] = {False: FleetMeter(on_demand)}
        self.factor = {False: 1.0, True: 1.0 - discount}
        if spot_enabled or spot:
            self.meters[True] = FleetMeter(spot)
        self.replica_s = {False: 0.0, True: 0.0}  # billed by buckets after the warm-up
        self.busy_s_billed = {False: 0.0, True: 0.0}
        self.surplus_s = {False: 0.0, True: 0.0}  # rounding charged at releases (after warm-up)

    # -- the fleet tells it what exists ---------------------------------------------------
    def meter(self, spot: bool) -> Any:
        """The busy meter of a price class (replicas record their busy periods in it)."""
        return self.meters[spot].busy

    def provision(self, spot: bool, t: float) -> None:
        """A replica of this class is asked for at ``t``: billing starts."""
        self.meters[spot].count.change(t, +1)

    def release(self, spot: bool, born_at: float, t: float) -> None:
        """A replica born at ``born_at`` is released at ``t``: charge its life's rounding."""
        self.meters[spot].count.change(t, -1)
        life = t - born_at
        extra = billed_life_s(life, self.increment_s, self.minimum_s) - life
        if extra > 0:
            usd = extra * self.usd_per_replica_hour * self.factor[spot] / 3600.0
            self.ledger.charge(t, "infrastructure", self.name, usd)
            if t >= self.warmup_s:
                self.surplus_s[spot] += extra

    # -- the run bills by bucket ----------------------------------------------------------
    def bill(self, start_s: float, end_s: float) -> None:
        """Charge ``[start_s, end_s)``: busy replica-time to inference, the rest to infrastructure."""
        for spot, meter in self.meters.items():
            price = self.usd_per_replica_hour * self.factor[spot]
            busy, provisioned = meter.bill(self.ledger, self.name, start_s, end_s, price)
            if start_s >= self.warmup_s:
                self.replica_s[spot] += provisioned
                self.busy_s_billed[spot] += busy

    # -- reading --------------------------------------------------------------------------
    def busy_s(self, now: float) -> float:
        """Busy replica-seconds from time 0 to ``now``, every class."""
        if len(self.meters) == 1:
            return self.meters[False].busy.busy_s(now)
        return sum(m.busy.busy_s(now) for m in self.meters.values())

    def provisioned(self) -> int:
        """Replicas provisioned now (every state but released)."""
        return sum(m.count.count for m in self.meters.values())

    def replica_s_total(self, now: float) -> float:
        """Provisioned replica-seconds from time 0 to ``now``, every class (for gauges)."""
        return sum(m.count.unit_s(now) for m in self.meters.values())

    def changed_since(self, t: float) -> bool:
        """Whether the number of replicas changed after ``t``."""
        return any(m.count.last_change_s > t for m in self.meters.values())

    def billed_usd(self) -> float:
        """Dollars billed after the warm-up: the conservation the tests check against the ledger."""
        return (
            sum(
                (self.replica_s[s] + self.surplus_s[s]) * self.usd_per_replica_hour * self.factor[s]
                for s in self.meters
            )
            / 3600.0
        )

    def billed_replica_s(self) -> float:
        """Replica-seconds billed after the warm-up, rounding included."""
        return sum(self.replica_s[s] + self.surplus_s[s] for s in self.meters)
