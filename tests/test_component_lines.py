"""The terminal lines of component reports: every operational component shows its figures."""

from __future__ import annotations

import pytest

from sim.component_lines import FORMATTERS, component_lines, format_seconds, format_usd
from sim.compose import run_scenario


@pytest.fixture(scope="module")
def support_summary() -> dict:
    return run_scenario("support_chatbot", ["horizon_s=43200", "plots=false"]).summary


def test_every_reported_kind_with_a_formatter_gets_a_line_naming_it(support_summary: dict) -> None:
    lines = component_lines(support_summary)
    kinds = {rep["kind"] for rep in support_summary["components"].values()}
    assert {"pipeline", "monitor", "reviewers", "retraining"} <= kinds
    for name, rep in support_summary["components"].items():
        if rep["kind"] in FORMATTERS and rep["kind"] != "pool":
            assert any(f" {name}" in line for line in lines), (name, lines)


def test_review_lines_carry_the_report_figures(support_summary: dict) -> None:
    lines = component_lines(support_summary)
    for name, rep in support_summary["components"].items():
        if rep["kind"] != "reviewers" or not rep["reviewed"]:
            continue
        i = next(i for i, line in enumerate(lines) if line.startswith(f"review    {name} "))
        assert f"{rep['reviewed']:,} reviewed" in lines[i]
        assert f"backlog {rep['backlog']:,}" in lines[i]
        assert f"{rep['paid_reviewer_hours']:,.0f} paid reviewer-hours" in lines[i + 1]
        assert format_usd(rep["usd_per_reviewed_item"]) in lines[i + 1]


def test_an_overloaded_pipeline_says_so() -> None:
    rep = {
        "kind": "pipeline",
        "documents": {"processed": 10, "arrived": 50},
        "lag_s": {"p50": 3600.0, "p95": 9000.0},
        "workers": 1,
        "worker_utilization": 1.0,
        "overloaded": True,
        "offered_load": 2.5,
    }
    (line,) = component_lines({"components": {"ingest": rep}})
    assert "10 of 50 documents" in line and "OVERLOADED (2.50x capacity)" in line
    assert "p50 60.0 min" in line and "p95 2.5 h" in line


@pytest.mark.parametrize(
    ("x", "text"),
    [(0.25, "250 ms"), (3.5, "3.50 s"), (600.0, "10.0 min"), (36000.0, "10.0 h"), (None, "n/a")],
)
def test_durations_read_at_their_scale(x: float | None, text: str) -> None:
    assert format_seconds(x) == text
