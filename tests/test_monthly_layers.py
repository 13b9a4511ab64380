"""The monthly column: each layer's window scaled to a month, except what a component
states better (a retraining loop on a schedule), and the total is their sum."""

from __future__ import annotations

import pytest

from sim.compose import run_scenario

MONTH_DAYS = 30.4375


def test_a_one_day_run_of_a_monthly_retraining_shows_one_cycle_a_month() -> None:
    s = run_scenario("support_chatbot", ["horizon_s=86400", "plots=false"]).summary
    loop = s["components"]["retrain"]
    assert sum(loop["cycles_started"].values()) == 0  # nothing happened in the window ...
    per_cycle = loop["usd_per_cycle"]["total"]
    expected = per_cycle * MONTH_DAYS / loop["interval_days"]
    # ... yet a month of it holds one scheduled cycle per interval
    assert s["layers"]["iteration"]["monthly_usd"] == pytest.approx(expected, rel=1e-9)
    per_month = MONTH_DAYS * 86400 / s["measured_s"]
    for layer, info in s["layers"].items():
        if layer != "iteration":
            assert info["monthly_usd"] == pytest.approx(info["usd"] * per_month, rel=1e-9)
    assert s["monthly_cost_usd"] == pytest.approx(
        sum(i["monthly_usd"] for i in s["layers"].values()), rel=1e-12
    )


def test_cells_scale_each_layers_month_like_its_total() -> None:
    s = run_scenario("support_chatbot", ["horizon_s=43200", "plots=false", "usage.cells=4"]).summary
    assert s["usage"]["cells"] == 4 and "iteration" in s["usage"]["shared_layers"]
    per_month = MONTH_DAYS * 86400 / s["measured_s"]
    for layer, info in s["layers"].items():
        if layer != "iteration":  # totals over the cells, scaled to a month
            assert info["monthly_usd"] == pytest.approx(info["usd"] * per_month, rel=1e-9)
    loop = s["components"]["retrain"]  # one loop for all cells: counted once
    assert s["layers"]["iteration"]["monthly_usd"] == pytest.approx(
        loop["usd_per_cycle"]["total"] * MONTH_DAYS / loop["interval_days"], rel=1e-9
    )
    assert s["monthly_cost_usd"] == pytest.approx(
        sum(i["monthly_usd"] for i in s["layers"].values()), rel=1e-12
    )
