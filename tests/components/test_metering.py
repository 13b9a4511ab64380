import math

import pytest

from sim.components.metering import BusyMeter
from sim.costs.ledger import Ledger


def test_busy_time_clipped_to_bill_intervals():
    m = BusyMeter(2)
    m.begin(0, 1.0)
    m.end(0, 4.0)  # unit 0 busy [1, 4)
    m.begin(1, 3.0)  # unit 1 busy from 3, still busy
    assert m.busy_s(5.0) == pytest.approx(3.0 + 2.0)
    assert m.busy_in(0.0, 2.0) == pytest.approx(1.0)
    assert m.busy_in(2.0, 5.0) == pytest.approx(2.0 + 2.0)
    assert m.is_busy(1) and not m.is_busy(0)


def test_bill_splits_provisioned_time_exactly():
    led = Ledger(bucket_s=10.0)
    m = BusyMeter(3)
    m.begin(2, 2.5)
    m.end(2, 7.5)
    total = 0.0
    for a in range(0, 30, 10):
        m.bill(led, "pool", float(a), float(a + 10), usd_per_unit_hour=36.0)
        total += 3 * 10 * 36.0 / 3600
    by = led.by_layer()
    assert math.isclose(by["inference"], 5.0 * 0.01)
    assert math.isclose(by["inference"] + by["infrastructure"], total)


def test_misuse_is_reported():
    m = BusyMeter(1)
    m.begin(0, 0.0)
    with pytest.raises(ValueError, match="already busy"):
        m.begin(0, 1.0)
    with pytest.raises(ValueError, match="units"):
        BusyMeter(0)
    with pytest.raises(ValueError, match="end_s >= start_s"):
        m.busy_in(2.0, 1.0)
