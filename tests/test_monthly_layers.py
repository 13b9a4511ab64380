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


def test_the_mean_user_pays_the_cost_per_user_month() -> None:
    """Users share each layer's month (retraining by its schedule), so their mean is the
    summary's cost per user-month."""
    s = run_scenario(
        "production", ["horizon_s=86400", "plots=false", "workload.users=2000"]
    ).summary
    assert s["layers"]["iteration"]["monthly_usd"] > 0 == s["layers"]["iteration"]["usd"]
    q = s["cost_per_user_month_usd_quantiles"]
    assert q["mean"] == pytest.approx(s["cost_per_user_month_usd"], rel=1e-9)


def test_utilization_of_a_fleet_that_changes_size_is_busy_over_provisioned_time() -> None:
    s = run_scenario("copilot_like", ["horizon_s=86400", "plots=false"]).summary
    fleet = s["components"]["gpu"]["autoscaling"]
    busy_share = fleet["busy_replica_hours"] / fleet["replica_hours"]
    assert s["utilization"]["gpu"]["mean"] == pytest.approx(busy_share, rel=0.01)
