import math

import pytest

from sim.costs.layers import LAYERS
from sim.costs.ledger import Ledger


def test_total_equals_sum_of_layers_and_entries():
    led = Ledger(warmup_s=0.0, bucket_s=10.0, keep_entries=True)
    charges = [
        (0.5, "inference", "gpu", 1.25),
        (12.0, "infrastructure", "gpu", 0.5),
        (33.3, "monitoring", "logs", 0.125),
        (33.4, "inference", "api", 2.0),
    ]
    for c in charges:
        led.charge(*c)
    by_layer = led.by_layer()
    assert set(by_layer) == set(LAYERS)
    assert math.isclose(led.total(), sum(by_layer.values()))
    assert math.isclose(led.total(), sum(e[3] for e in led.entries))
    assert math.isclose(led.total(), led.entries_usd)
    assert led.n_entries == len(charges)
    assert by_layer["human_oversight"] == 0.0


def test_warmup_charges_are_kept_apart():
    led = Ledger(warmup_s=100.0, bucket_s=50.0)
    led.charge(99.9, "inference", "gpu", 1.0)
    led.charge(100.0, "inference", "gpu", 2.0)
    led.charge(149.0, "inference", "gpu", 4.0)
    led.charge(150.0, "inference", "gpu", 8.0)
    assert led.total() == 14.0
    assert led.total(include_warmup=True) == 15.0
    rows = led.rows()
    assert rows[0][:2] == (0.0, 100.0)  # the warm-up bucket
    assert [(r[0], r[4]) for r in rows[1:]] == [(100.0, 6.0), (150.0, 8.0)]


def test_active_layers_and_components():
    led = Ledger()
    led.series("infrastructure", "gpu")  # registered, even if nothing charged yet
    led.charge(1.0, "inference", "gpu", 0.0)
    assert led.active_layers() == ["inference", "infrastructure"]
    assert led.by_component() == {"gpu": {"infrastructure": 0.0, "inference": 0.0}}


@pytest.mark.parametrize("usd", [-1.0, float("nan"), float("inf")])
def test_bad_charge(usd):
    with pytest.raises(ValueError, match="USD"):
        Ledger().charge(0.0, "inference", "x", usd)


def test_unknown_layer_names_the_allowed_ones():
    with pytest.raises(ValueError, match="human_oversight"):
        Ledger().charge(0.0, "gpu_time", "x", 1.0)
