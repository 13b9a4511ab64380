"""The published cases, the fit, and the validation goal of the GPU step-time model."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest

from sim.calibration import load_cases, simulate_case
from sim.calibration.cases import Case
from sim.calibration.fit import fit_all, pattern_search
from sim.calibration.measure import catalogs, saturated_rate
from sim.calibration.report import evaluate, summary

CASES = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_data" / "cases.yaml"


@pytest.fixture(scope="module")
def cases() -> list[Case]:
    return load_cases(CASES)


@pytest.fixture(scope="module")
def rows(cases):
    return evaluate(cases)


def test_cases_name_catalog_entries_and_fill_both_sets(cases):
    hardware, models = catalogs()
    for c in cases:
        assert c.hardware in hardware, c.id
        assert c.model in models, c.id
        assert c.precision in hardware[c.hardware].tflops, c.id
        assert c.source.startswith("https://"), c.id
    sets = {c.set for c in cases}
    assert {"calibration", "validation"} <= sets
    # every fitted group in the catalog has calibration cases behind it
    groups = {c.group for c in cases if c.set == "calibration"}
    for hw in ("h100_sxm_80gb", "a100_40gb_sxm"):
        assert (hw, "fp16") in groups
    # no measurement is in both sets
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids))


def test_validation_goal_is_met(rows):
    s = summary(rows, "validation")
    assert s["cases"] >= 20
    assert s["median_abs_error"] <= 0.10, s
    assert s["max_abs_error"] <= 0.25, s


def test_model_ranks_configurations_as_the_measurements_do(rows):
    """Among cases measured the same way, a clearly faster configuration simulates faster.

    Pairs with the same metric, lengths and batch whose published figures differ by more
    than 15 % (beyond run-to-run and between-lab noise) must be ordered the same way by
    the simulation: hardware against hardware, model against model, TP against TP.
    """
    key = lambda r: (r.case.metric, r.case.input_tokens, r.case.output_tokens, r.case.batch)  # noqa: E731
    checked = 0
    usable = [r for r in rows if r.case.set != "reference"]
    for _, group in itertools.groupby(sorted(usable, key=key), key=key):
        group = list(group)
        for a, b in itertools.combinations(group, 2):
            ratio = a.case.value / b.case.value
            if abs(math.log(ratio)) < math.log(1.15):
                continue
            checked += 1
            assert (a.simulated > b.simulated) == (ratio > 1), (a.case.id, b.case.id)
    assert checked >= 20


def test_the_catalog_holds_what_the_fit_gives(cases):
    """configs/hardware's calibration is what benchmarks/calibrate_gpu.py fits (within 1 %)."""
    hardware, _ = catalogs()
    fits = fit_all(cases)
    assert {f.group for f in fits} == {c.group for c in cases if c.set == "calibration"}
    for f in fits:
        cal = hardware[f.group[0]].calibration[f.group[1]]
        assert cal.prefill_efficiency == pytest.approx(f.params["prefill_efficiency"], rel=0.01)
        assert cal.decode_efficiency == pytest.approx(f.params["decode_efficiency"], rel=0.01)
        assert cal.step_overhead_ms == pytest.approx(f.params["step_overhead_s"] * 1e3, rel=0.01)
        assert cal.seq_overhead_us == pytest.approx(f.params["seq_overhead_s"] * 1e6, rel=0.01)
        if "allreduce_latency_s" in f.params:
            assert cal.allreduce_latency_us == pytest.approx(
                f.params["allreduce_latency_s"] * 1e6, rel=0.01
            )


def test_fit_recovers_known_parameters(monkeypatch):
    """Cases simulated with known parameters are fitted back to them (no prior's pull)."""
    import sim.calibration.fit as fit_module

    monkeypatch.setattr(fit_module, "PRIOR_WEIGHT", 0.0)
    truth = {
        "prefill_efficiency": 0.55,
        "decode_efficiency": 0.7,
        "step_overhead_s": 0.002,
        "seq_overhead_s": 40e-6,
    }
    base = dict(
        set="calibration",
        source="https://example.org",
        hardware="h100_sxm_80gb",
        precision="fp16",
        tp=1,
    )
    shapes = [
        ("e2e_latency_s", "llama3_8b", 128, 128, 1),
        ("e2e_latency_s", "llama3_8b", 2048, 512, 1),
        ("total_tok_s_per_gpu", "llama3_8b", 128, 128, 64),
        ("total_tok_s_per_gpu", "llama2_7b", 1024, 256, 32),
        ("ttft_s", "llama3_8b", 1024, 1, 16),
        ("e2e_latency_s", "llama2_7b", 512, 512, 8),
        ("total_tok_s_per_gpu", "llama3_8b", 2048, 256, 128),  # KV reads dominate
        ("e2e_latency_s", "llama2_70b", 128, 64, 1),  # weight reads dominate (TP4 below)
    ]
    cases = []
    for i, (metric, model, p, o, b) in enumerate(shapes):
        tp = 4 if model == "llama2_70b" else 1
        c = Case(
            id=f"c{i}",
            metric=metric,
            value=1.0,
            model=model,
            input_tokens=p,
            output_tokens=o,
            batch=b,
            **{**base, "tp": tp},
        )
        v = simulate_case(c, truth)
        cases.append(Case(**{**c.__dict__, "value": v}))
    (fit,) = fit_all(cases)
    assert fit.rms_log_error < 0.01
    for k, v in truth.items():
        assert fit.params[k] == pytest.approx(v, rel=0.15), k


def test_pattern_search_finds_a_minimum_in_bounds():
    def f(p):
        return (
            math.log(p["prefill_efficiency"] / 0.3) ** 2
            + math.log(p["step_overhead_s"] / 0.01) ** 2
        )

    best, val, evals = pattern_search(f, {"prefill_efficiency": 0.9, "step_overhead_s": 1e-4})
    assert best["prefill_efficiency"] == pytest.approx(0.3, rel=0.01)
    assert best["step_overhead_s"] == pytest.approx(0.01, rel=0.01)
    assert val < 1e-3 and evals < 400


def test_saturated_rate_counts_whole_turnovers():
    """Completions in bursts: the window opens after a burst and closes on one."""

    class R:
        def __init__(self, t: float) -> None:
            self.done_at, self.output_tokens, self.prompt_tokens = t, 10, 5

    # 10 bursts of 8 completions, one burst per second: 80 output tokens per second
    done = [R(float(k)) for k in range(1, 11) for _ in range(8)]
    assert saturated_rate(done, total=False) == pytest.approx(80.0)
    assert saturated_rate(done, total=True) == pytest.approx(120.0)


def test_saturated_throughput_is_a_steady_state(cases):
    """More queued requests do not change a saturated figure (no ramp or drain in it)."""
    c = next(c for c in cases if c.batch == "saturated" and c.set == "validation")
    import sim.calibration.measure as m

    a = simulate_case(c)
    old = m.SATURATED_TURNOVERS
    try:
        m.SATURATED_TURNOVERS = 2 * old
        b = simulate_case(c)
    finally:
        m.SATURATED_TURNOVERS = old
    assert b == pytest.approx(a, rel=0.02)


@pytest.mark.parametrize(
    "patch, message",
    [
        ({"metric": "speed"}, "metric='speed'"),
        ({"set": "train"}, "set='train'"),
        ({"batch": "lots"}, "batch='lots'"),
        ({"value": "fast"}, "not a number"),
        ({"colour": "red"}, "unknown key(s) colour"),
        ({"metric": "tpot_s", "batch": 4}, "batch must be 1"),
    ],
)
def test_bad_cases_are_named(tmp_path, patch, message):
    import yaml

    good = dict(
        id="x",
        set="validation",
        metric="e2e_latency_s",
        value=1.0,
        hardware="h100_sxm_80gb",
        model="llama3_8b",
        precision="fp16",
        tp=1,
        input_tokens=128,
        output_tokens=128,
        batch=1,
        source="https://example.org",
    )
    path = tmp_path / "cases.yaml"
    path.write_text(yaml.safe_dump([{**good, **patch}]))
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_cases(path)


def test_a_pool_on_an_uncalibrated_device_says_so():
    """copilot_like's small pool runs on an A10G, which has no calibration: a note names it."""
    from sim.compose import compose
    from sim.run import run

    over = ["levers.routing=by_complexity", "horizon_s=3600", "progress=false", "plots=false"]
    notes = run(compose("copilot_like", over)).summary["notes"]
    small = [n for n in notes if n.startswith("pools.small (a10g_24gb")]
    assert len(small) == 1 and "hardware.a10g_24gb.calibration.fp16" in small[0]
    assert not [n for n in notes if n.startswith("pools.gpu ")]  # the A100 is calibrated


def test_validation_plot_is_written(rows, tmp_path):
    from sim.calibration.report import plot

    out = tmp_path / "v.png"
    plot(rows, str(out))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 20_000
