"""python -m sim.compare: two systems side by side, layer by layer."""

from __future__ import annotations

import csv
import subprocess
import sys

import pytest

from sim.compare import rows, table
from sim.compose import run_scenario

DAY = ["horizon_s=86400", "progress=false", "plots=false"]


@pytest.fixture(scope="module")
def pair():
    demo = run_scenario("demo", DAY).summary
    rag = run_scenario("rag_assistant", [*DAY, "workload.users=200"]).summary
    return demo, rag


def test_each_layer_is_the_monthly_cost_and_the_shares_add_up(pair):
    demo, rag = pair
    out = rows(demo, rag)
    assert [r["layer"] for r in out][0] == "inference" and len(out) == 8
    for tag, s in (("left", demo), ("right", rag)):
        total = sum(r[f"{tag}_usd"] or 0.0 for r in out)
        assert total == pytest.approx(s["monthly_cost_usd"], rel=1e-9)
        assert sum(r[f"{tag}_share"] or 0.0 for r in out) == pytest.approx(1.0)
    by = {r["layer"]: r for r in out}
    assert by["context_retrieval"]["left_usd"] is None  # the demo has no retrieval
    assert "retrievals" in by["context_retrieval"]["right_driver"]
    assert "requests" in by["inference"]["right_driver"]
    text = table(demo, rag, ("demo", "rag"))
    assert "Context & retrieval" in text and "per request" in text


def test_the_command_runs_scenarios_and_reads_run_folders(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "sim", "scenario=demo", *DAY, f"hydra.run.dir={tmp_path / 'run'}"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    out = subprocess.run(
        [sys.executable, "-m", "sim.compare", str(tmp_path / "run"), "copilot_like",
         "--right", "horizon_s=86400", "--right", "workload.users=100",
         "--out", str(tmp_path / "cmp")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "Infrastructure" in out.stdout and "instance-hours" in out.stdout
    with open(tmp_path / "cmp" / "compare.csv") as f:
        table_rows = list(csv.DictReader(f))
    assert len(table_rows) == 8
    assert (tmp_path / "cmp" / "compare.png").stat().st_size > 20_000


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (
            ["demoo", "demo"],
            "LEFT='demoo' is neither a run folder nor a scenario; did you mean 'demo'?",
        ),
        (["demo", "copilot_like", "--right", "horizon_s=-1"], "horizon_s=-1"),
    ],
)
def test_bad_sides_get_one_line(tmp_path, args, needle):
    out = subprocess.run(
        [sys.executable, "-m", "sim.compare", *args, "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and needle in out.stderr, out.stderr


def test_the_operational_layers_say_what_drove_them():
    demo = run_scenario("demo", DAY).summary
    chat = run_scenario("support_chatbot", DAY).summary
    by = {r["layer"]: r for r in rows(demo, chat)}
    assert all(by[layer]["right_usd"] is not None for layer in by)  # all eight layers
    assert "documents" in by["data_pipeline"]["right_driver"]
    assert "evaluations" in by["monitoring"]["right_driver"]
    assert "reviewer-hours" in by["human_oversight"]["right_driver"]
    assert "instance-hours provisioned" in by["infrastructure"]["right_driver"]
