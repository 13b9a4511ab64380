"""Billing granularity and the meters behind it: a replica's life rounded up per increment,
a minimum per instance, provisioned replica-seconds integrated across changes."""

from __future__ import annotations

import math

import pytest

from sim.components.metering import BusyMeter, FleetMeter, UnitCount
from sim.components.pool import make_pool
from sim.components.pool.billing import billed_life_s
from sim.costs.ledger import Ledger
from sim.engine.context import SimContext
from sim.latency import ServiceTimeLatency

PRICE = 3.6  # USD per replica-hour: 0.001 USD per replica-second


@pytest.mark.parametrize(
    "life, increment, minimum, billed",
    [
        (61 * 60.0, 3600.0, 0.0, 7200.0),  # 61 minutes at per-hour billing: two hours
        (3600.0, 3600.0, 0.0, 3600.0),  # exactly one hour: one
        (20.0, 1.0, 60.0, 60.0),  # per second with AWS's 60 s minimum
        (100.4, 1.0, 60.0, 101.0),
        (0.0, 3600.0, 60.0, 60.0),
        (3600.0 * (1 + 1e-13), 3600.0, 0.0, 3600.0),  # float noise is not an extra hour
    ],
)
def test_billed_life_rounds_up_with_a_minimum(life, increment, minimum, billed):
    assert billed_life_s(life, increment, minimum) == pytest.approx(billed)


def _fleet_pool(ctx: SimContext, **kw):
    pool = make_pool(
        "gpu",
        ctx,
        ServiceTimeLatency(1.0, rng=ctx.rng.stream("svc")),
        replicas=1,
        max_batch_size=1,
        max_queue=10,
        usd_per_replica_hour=PRICE,
        provision_s=30.0,
        **kw,
    )
    pool.start()
    return pool


def _run_with_a_second_replica(ctx, pool, born: float, life: float, horizon: float) -> None:
    """Ask for a second replica at ``born`` and release it ``life`` seconds later; bill by 100 s."""
    env = ctx.env

    def script():
        yield env.timeout(born)
        pool.fleet.set_target(2)
        yield env.timeout(life)
        pool.fleet.set_target(1)  # the newest, idle replica goes first

    def biller():
        t = 0.0
        while t < horizon:
            yield env.timeout(t + 100.0 - env.now)
            pool.bill(t, t + 100.0)
            t += 100.0

    env.process(script())
    env.process(biller())
    env.run(until=horizon + 1e-9)


def test_per_hour_billing_bills_a_61_minute_replica_two_hours():
    ctx = SimContext(seed=0, horizon_s=4000.0)
    pool = _fleet_pool(ctx, billing_increment_s=3600.0, billing_minimum_s=0.0)
    _run_with_a_second_replica(ctx, pool, born=100.0, life=61 * 60.0, horizon=4000.0)
    released = [i for _, what, i in pool.fleet.events if what == "release"]
    assert released == [1]
    total = sum(ctx.ledger.by_layer().values())
    # the first replica: 4000 s so far (still alive); the second: two whole hours
    assert total == pytest.approx((4000.0 + 7200.0) * PRICE / 3600.0)
    assert pool.billing.billed_replica_s() == pytest.approx(4000.0 + 7200.0)


def test_the_minimum_bills_a_short_lived_replica_60_seconds():
    ctx = SimContext(seed=0, horizon_s=1000.0)
    pool = _fleet_pool(ctx, billing_increment_s=1.0, billing_minimum_s=60.0)
    _run_with_a_second_replica(
        ctx, pool, born=100.0, life=20.0, horizon=1000.0
    )  # a cancelled cold start
    total = sum(ctx.ledger.by_layer().values())
    assert total == pytest.approx((1000.0 + 60.0) * PRICE / 3600.0)
    assert ctx.ledger.by_layer()["inference"] == 0.0  # nobody asked for anything


def test_per_second_billing_of_a_fixed_fleet_is_what_it_always_was():
    """No release, no rounding: a fixed fleet bills replicas x time, whatever the increment."""
    for increment in (1.0, 3600.0):
        ctx = SimContext(seed=0, horizon_s=500.0)
        pool = _fleet_pool(ctx, billing_increment_s=increment, billing_minimum_s=60.0)
        ctx.env.run(until=500.0)
        pool.bill(0.0, 500.0)
        assert sum(ctx.ledger.by_layer().values()) == pytest.approx(500.0 * PRICE / 3600.0)


# --- the meters --------------------------------------------------------------------------------
def test_unit_count_integrates_changes_inside_and_across_bills():
    c = UnitCount(2)
    c.change(5.0, +1)  # 3 from 5
    c.change(12.0, -2)  # 1 from 12
    c.change(12.0, +1)  # 2 from 12 (two changes at one time)
    assert c.unit_s(20.0) == pytest.approx(2 * 5 + 3 * 7 + 2 * 8)
    assert c.unit_s_in(0.0, 10.0) == pytest.approx(2 * 5 + 3 * 5)
    assert c.unit_s_in(10.0, 20.0) == pytest.approx(3 * 2 + 2 * 8)
    assert c.unit_s_in(20.0, 30.0) == pytest.approx(2 * 10)  # nothing kept but the count
    assert c.peak == 3 and c.count == 2
    with pytest.raises(ValueError, match="cannot remove"):
        c.change(25.0, -3)
    with pytest.raises(ValueError, match="before the last"):
        c.change(1.0, +1)


def test_fleet_meter_of_a_constant_fleet_bills_exactly_like_a_busy_meter():
    old, new = Ledger(bucket_s=10.0), Ledger(bucket_s=10.0)
    a, b = BusyMeter(3), FleetMeter(3)
    for m in (a, b.busy):
        m.begin(0, 1.25)
        m.end(0, 7.5)
        m.begin(2, 3.0)
    for t in range(0, 30, 10):
        a.bill(old, "gpu", float(t), t + 10.0, 5.12)
        b.bill(new, "gpu", float(t), t + 10.0, 5.12)
    assert old.by_layer() == new.by_layer()  # bit for bit


def test_fleet_meter_splits_a_changing_fleet_into_busy_and_idle():
    led = Ledger(bucket_s=10.0)
    m = FleetMeter(1)
    m.count.change(4.0, +1)  # a second unit from 4 s ...
    m.busy.begin(7, 6.0)  # ... busy from 6 s to 9 s
    m.busy.end(7, 9.0)
    m.count.change(9.0, -1)  # ... released at 9 s
    busy, provisioned = m.bill(led, "gpu", 0.0, 10.0, 3600.0)  # 1 USD per unit-second
    assert (busy, provisioned) == (pytest.approx(3.0), pytest.approx(10.0 + 5.0))
    by = led.by_layer()
    assert by["inference"] == pytest.approx(3.0) and by["infrastructure"] == pytest.approx(12.0)
    assert math.isclose(by["inference"] + by["infrastructure"], provisioned)
