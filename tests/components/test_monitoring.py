"""The monitor: log volume and judge cost by hand, drift against theory, CUSUM detection delay."""

from __future__ import annotations

import copy
import functools
import math

import numpy as np
import pytest
import yaml
from omegaconf import OmegaConf, open_dict

from sim.build import build
from sim.checks import ConfigError
from sim.components.monitoring import DriftMonitor, MonitorConfig, RetainedVolume
from sim.components.request import Request
from sim.compose import compose
from sim.engine.context import SimContext
from sim.run import run

MONTH_S = 30.4375 * 86400
FIXED = ["workload.tokens.kind=fixed", "workload.tokens.prompt_median=1000",
         "workload.tokens.output_median=100"]  # fmt: skip
GPT_4O_MINI = (0.15, 0.60)  # $/1M input, output tokens (configs/api_models/default.yaml)


@functools.cache
def _demo() -> object:
    """demo on Poisson arrivals without provider errors, composed once per test file."""
    over = ["progress=false", "plots=false", "workload.arrival=poisson", "apis.llm.error_prob=0"]
    return compose("demo", over)


def _cfg(overrides: list[str], path=("llm", "mon"), **monitor) -> object:
    """demo's model followed by a monitor, with ``overrides`` (``key=value``)."""
    cfg = copy.deepcopy(_demo())
    for override in overrides:  # Hydra's key=value, on the composed config
        key, value = override.split("=", 1)
        OmegaConf.update(cfg, key, yaml.safe_load(value))
    with open_dict(cfg):  # declared as a scenario file would
        cfg.monitors["mon"] = OmegaConf.structured(MonitorConfig(**monitor))
    cfg.path = list(path)
    return cfg


def test_logging_and_judge_cost_equal_the_hand_computation():
    """Fixed tokens: every log is 1,100 x 4 + 1,000 bytes; every verdict reads 1,500 tokens."""
    over = ["workload.rate_rps=4", "horizon_s=3600", *FIXED]
    s = run(_cfg(over, eval_share=0.1, human_eval_share=0.01)).summary
    rep = s["components"]["mon"]
    n, evals = rep["logged_requests"], rep["evals"]
    assert n == s["requests"]["completed"] > 13_000  # every served response is logged
    per_log = 1100 * 4 + 1000
    assert rep["logged_gb"] == pytest.approx(n * per_log / 1e9, rel=1e-12)
    assert rep["ingest_usd"] == pytest.approx(n * per_log / 1e9 * 0.50, rel=1e-9)
    per_eval = ((1000 + 100 + 400) * GPT_4O_MINI[0] + 100 * GPT_4O_MINI[1]) / 1e6
    assert rep["judge_usd"] == pytest.approx(evals * per_eval, rel=1e-9)
    assert rep["judge_prompt_tokens"] == evals * 1500
    assert evals == pytest.approx(0.1 * n, abs=4 * math.sqrt(0.1 * 0.9 * n))
    # a 30-day retention outlasts the hour: each log is stored from its arrival to the
    # horizon, H/2 on average for Poisson arrivals
    storage = n * per_log / 1e9 * 0.03 * (3600 / 2) / MONTH_S
    assert rep["storage_usd"] == pytest.approx(storage, rel=0.03)
    # people rate 1 % at $1.00 each, and see every answer of demo's model acceptable
    assert rep["human_usd"] == pytest.approx(rep["human_evals"] * 1.0)
    assert rep["human_evals"] == pytest.approx(0.01 * n, abs=4 * math.sqrt(0.01 * n))
    assert rep["human_acceptable_share"] == 1.0
    charged = s["cost_usd"]["by_component"]["mon"]["monitoring"]
    parts = rep["ingest_usd"] + rep["storage_usd"] + rep["judge_usd"] + rep["human_usd"]
    assert charged == pytest.approx(parts)
    assert s["layers"]["monitoring"]["active"]


def _feed(mon: DriftMonitor, ctx: SimContext, times: list[float], edges: list[float], tokens=100):
    """Send requests through ``mon`` at ``times`` and bill it at ``edges``, as a run does."""
    env = ctx.env

    def arrivals():
        for i, t in enumerate(times):
            yield env.timeout(t - env.now)
            yield from mon.handle(Request(i, env.now, tokens, 0))

    def ticker():
        for a, b in zip(edges[:-1], edges[1:]):
            yield env.timeout(b - env.now)
            mon.bill(a, b)

    env.process(arrivals())
    env.process(ticker())
    env.run(until=edges[-1] + 1)


def _monitor(ctx: SimContext, **kw) -> DriftMonitor:
    args = dict(
        bytes_per_token=1.0, metadata_bytes=0.0, ingest_usd_per_gb=0.0,
        storage_usd_per_gb_month=MONTH_S, retention_days=300 / 86400, eval_share=0.0,
        judge_usd_per_mtok_input=0.0, judge_usd_per_mtok_output=0.0, rubric_tokens=0,
        judge_output_tokens=0, judge_error=0.0, rng=np.random.default_rng(0),
    )  # fmt: skip
    args.update(kw)
    return DriftMonitor("mon", ctx, **args)


def test_storage_bills_each_byte_for_its_retention_and_no_longer():
    """Retention 300 s on 100 s buckets: byte-seconds = sum of min(300, horizon - t)."""
    ctx = SimContext(seed=0, horizon_s=2000.0, bucket_s=100.0)
    mon = _monitor(ctx)  # 1 byte per token; $1 per GB-second of storage
    times = [3.0, 50.0, 99.0, 140.0, 430.5, 699.0, 1210.0, 1850.0, 1999.0]
    edges = [100.0 * k for k in range(21)]
    _feed(mon, ctx, times, edges, tokens=1_000_000_000)  # 1 GB each
    byte_s = sum(min(300.0, 2000.0 - t) for t in times)
    assert mon.storage_usd == pytest.approx(byte_s, rel=1e-12)
    # per bucket too: the bucket [400, 500) holds the logs of 140 (until 440) and 430.5
    rows = {start: usd for start, _, _, _, usd in ctx.ledger.rows()}
    assert rows[400.0] == pytest.approx((440.0 - 400.0) + (500.0 - 430.5), rel=1e-12)
    assert mon.report()["stored_gb_at_end"] == pytest.approx(2.0)  # 1850 and 1999


def test_retained_volume_total_is_exact_off_the_bucket_grid():
    """A retention that is not a whole number of buckets moves cost between buckets only."""
    vol = RetainedVolume(retention_s=250.0)
    rng = np.random.default_rng(3)
    times = np.sort(rng.uniform(0, 5000, 400))
    edges = np.arange(0.0, 6001.0, 60.0)
    total = 0.0
    for a, b in zip(edges[:-1], edges[1:]):
        written = times[(times >= a) & (times < b)]
        total += vol.close(float(a), float(b), 2.0 * len(written), 2.0 * float(written.sum()))
    assert total == pytest.approx(2.0 * 250.0 * len(times), rel=1e-9)


def test_no_drift_leaves_answers_alone_and_the_judge_sees_the_models_quality():
    """A model of skill 0.6 on Beta(2, 5) difficulty; the monitor spoils nothing."""
    over = ["workload.rate_rps=5", "horizon_s=1800", "apis.llm.skill=0.6"]
    plain = run(_cfg(over, path=("llm",)))
    exact = run(_cfg(over, eval_share=0.5, judge_error=0.0))
    noisy = run(_cfg(over, eval_share=0.5, judge_error=0.15))
    q = plain.summary["quality"]["acceptable_share"]
    n = plain.summary["quality"]["completed"]
    assert q == pytest.approx(0.959, abs=4 * math.sqrt(0.04 / n))  # P(Beta(2, 5) <= 0.6)
    for r in (exact, noisy):  # the same requests, the same answers, no extra event
        assert r.summary["quality"] == plain.summary["quality"]
        assert r.run_info["simpy_events"] == plain.run_info["simpy_events"]
    rep = exact.summary["components"]["mon"]
    sd = math.sqrt(q * (1 - q) / rep["evals"])
    assert rep["judged_acceptable_share"] == pytest.approx(q, abs=4 * sd)
    assert rep["alarms"] == 0 and rep["episodes"] == []
    # an imperfect judge reports q(1-e) + (1-q)e; the Rogan-Gladen estimate undoes it
    rep = noisy.summary["components"]["mon"]
    e = 0.15
    seen = q * (1 - e) + (1 - q) * e
    sd = math.sqrt(seen * (1 - seen) / rep["evals"])
    assert rep["judged_acceptable_share"] == pytest.approx(seen, abs=4 * sd)
    assert rep["acceptable_share_estimate"] == pytest.approx(q, abs=4 * sd / (1 - 2 * e))


def test_gradual_drift_lowers_quality_by_its_mean_loss():
    """Loss grows linearly from 0: over [0, H] the acceptable share is 1 - r H / 2 (r per s)."""
    per_day = 2.4  # 0.1 per hour
    cfg = _cfg(["workload.rate_rps=5", "horizon_s=3600"], drift_per_day=per_day, eval_share=0.0)
    s = run(cfg).summary
    expected = 1 - per_day * (3600 / 86400) / 2  # 0.95
    n = s["quality"]["completed"]
    assert s["quality"]["acceptable_share"] == pytest.approx(expected, abs=4 * math.sqrt(0.05 / n))
    rep = s["components"]["mon"]
    assert rep["drift_loss_at_end"] == pytest.approx(0.1, rel=1e-3)
    assert rep["episodes"] == [  # no verdicts, so never detected
        {"start_s": 0.0, "detected_s": None, "delay_s": None, "restored_s": None}
    ]


def _detect(eval_share: float, seed: int) -> dict:
    cfg = _cfg(
        [f"seed={seed}", "workload.rate_rps=5", "horizon_s=2400"],
        eval_share=eval_share,
        drift_step_days=[600 / 86400],
        drift_step_drop=[0.3],
        baseline_acceptable_share=0.999,
    )
    return run(cfg).summary


def test_a_lower_eval_share_detects_the_same_drift_later_and_costs_less():
    for seed in range(2):
        hi, lo = _detect(0.2, seed), _detect(0.05, seed)
        ep_hi = hi["components"]["mon"]["episodes"]
        ep_lo = lo["components"]["mon"]["episodes"]
        assert len(ep_hi) == len(ep_lo) == 1
        assert ep_hi[0]["start_s"] == ep_lo[0]["start_s"] == pytest.approx(600.0)
        # about 4x the delay: the chart needs as many verdicts, which come 4x slower
        assert ep_lo[0]["delay_s"] > 1.5 * ep_hi[0]["delay_s"] > 0, (ep_lo, ep_hi)
        assert lo["cost_usd"]["by_layer"]["monitoring"] < hi["cost_usd"]["by_layer"]["monitoring"]
        assert lo["components"]["mon"]["evals"] < 0.3 * hi["components"]["mon"]["evals"]
        # the answers spoiled by the step are the same whatever the judge samples
        assert hi["quality"] == lo["quality"]


def test_detection_takes_the_verdicts_cusum_theory_predicts():
    """Bernoulli CUSUM after a step: verdicts to alarm ~ h / E[log-likelihood ratio]."""
    e, h, drop, q0 = 0.15, 6.0, 0.3, 0.999
    p0 = 1 - (q0 * (1 - e) + (1 - q0) * e)
    p1 = p0 + 0.05 * (1 - 2 * e)
    p = e + drop * (1 - 2 * e)  # what the judge calls unacceptable after the drop
    drift = p * math.log(p1 / p0) + (1 - p) * math.log((1 - p1) / (1 - p0))
    expected = h / drift  # Wald's approximation, overshoot ignored: ~123 verdicts
    verdicts = []
    for seed in range(40):
        ctx = SimContext(seed=0, horizon_s=1e6)
        mon = _monitor(
            ctx, eval_share=1.0, judge_error=e, baseline_acceptable_share=q0,
            drift_steps=[(0.0, drop)], rng=np.random.default_rng(seed),
        )  # fmt: skip
        alarms: list[float] = []
        mon.on_detect(alarms.append)

        def requests(mon=mon, alarms=alarms, env=ctx.env):
            while not alarms:
                yield env.timeout(1.0)
                yield from mon.handle(Request(0, env.now, 100, 100))

        ctx.env.process(requests())
        ctx.env.run()
        verdicts.append(mon.evals)
        assert mon.report()["episodes"][0]["detected_s"] == alarms[0] == mon.evals
    assert np.mean(verdicts) == pytest.approx(expected, rel=0.15), (np.mean(verdicts), expected)


def test_restore_clears_drift_before_the_data_cut_off_and_a_canary_mixes():
    ctx = SimContext(seed=0, horizon_s=10 * 86400.0, bucket_s=3600.0)
    mon = _monitor(ctx, drift_per_day=0.01, drift_steps=[(1.0, 0.2), (3.0, 0.5)])
    env = ctx.env
    env.run(until=2 * 86400)
    assert mon.drift_loss() == pytest.approx(1 - (1 - 0.02) * 0.8)
    mon.restore(at_s=1.5 * 86400, share=0.25)  # a canary trained up to day 1.5
    old, new = 1 - 0.98 * 0.8, 0.005  # the new model only drifts from day 1.5
    assert mon.drift_loss() == pytest.approx(0.75 * old + 0.25 * new)
    mon.restore(at_s=1.5 * 86400)  # the whole rollout
    assert mon.drift_loss() == pytest.approx(0.005)
    env.run(until=4 * 86400)
    assert mon.drift_loss() == pytest.approx(1 - (1 - 0.025) * 0.5)  # day 3's step is later
    assert [ep["start_s"] for ep in mon.report()["episodes"]] == [0.0, 2 * 86400]


@pytest.mark.parametrize(
    ("monitor", "message"),
    [
        ({"judge_model": "gpt5"}, "monitors.mon.judge_model='gpt5' is not in the api_models"),
        (
            {"drift_step_days": [1.0, 2.0], "drift_step_drop": [0.1]},
            "monitors.mon.drift_step_days=[1.0, 2.0] and monitors.mon.drift_step_drop=[0.1] "
            "need the same number",
        ),
        ({"eval_share": 1.5}, "monitors.mon.eval_share=1.5 must be a finite number in [0, 1]"),
        ({"judge_error": 0.5}, "monitors.mon.judge_error=0.5 must be a finite number in [0, 0.5)"),
        ({"drift_step_drop": [1.2]}, "monitors.mon.drift_step_drop[0]=1.2 must be"),
        ({"retention_days": 0.0}, "monitors.mon.retention_days=0.0 must be"),
    ],
)
def test_bad_configs_name_their_key(monitor, message):
    cfg = _cfg([])
    for k, v in monitor.items():
        cfg.monitors["mon"][k] = v
    with pytest.raises(ConfigError) as err:
        build(cfg)
    assert str(err.value).startswith(message), str(err.value)


# -- notes ---------------------------------------------------------------------------------
def _monitor_notes(summary: dict) -> list[str]:
    return [n for n in summary["notes"] if n.startswith("monitors.mon")]


def _step(eval_share: float, drop: float, **monitor) -> dict:
    """A step of ``drop`` at 600 s, 5 requests a second for 40 min, a known baseline."""
    cfg = _cfg(
        ["workload.rate_rps=5", "horizon_s=2400"],
        eval_share=eval_share,
        drift_step_days=[600 / 86400],
        drift_step_drop=[drop],
        **{"baseline_acceptable_share": 0.999, **monitor},
    )
    return run(cfg).summary


def test_drift_nobody_judges_is_a_note_with_its_loss():
    cfg = _cfg(["workload.rate_rps=5", "horizon_s=3600"], drift_per_day=2.4, eval_share=0.0)
    s = run(cfg).summary
    (note,) = _monitor_notes(s)
    assert note.startswith("monitors.mon: drift that began at day 0.00 was not detected")
    assert "(day 0.04); by then it spoiled 10.0% of otherwise acceptable answers" in note
    assert note.endswith("no answer is judged: set monitors.mon.eval_share above 0")


def test_drift_the_detector_finds_has_no_note_and_no_drift_has_none():
    found = _step(0.2, 0.3)
    assert found["components"]["mon"]["episodes"][0]["detected_s"] is not None
    assert _monitor_notes(found) == []
    calm = run(_cfg(["workload.rate_rps=5", "horizon_s=1800"], eval_share=0.2)).summary
    assert calm["components"]["mon"]["episodes"] == [] and _monitor_notes(calm) == []


def test_drift_missed_for_want_of_verdicts_names_eval_share():
    """A 30-point step needs ~120 verdicts; 0.1 % of 9,000 answers gives ~9."""
    s = _step(0.001, 0.3)
    assert s["components"]["mon"]["alarms"] == 0
    (note,) = _monitor_notes(s)
    assert "began at day 0.01" in note and "spoiled 30.0%" in note
    assert note.endswith("raise monitors.mon.eval_share (now 0.001) to detect it sooner")


def test_drift_missed_while_the_baseline_is_learned_names_baseline_evals():
    s = _step(0.05, 0.3, baseline_acceptable_share=None, baseline_evals=1000)
    rep = s["components"]["mon"]
    assert rep["cusum"]["baseline_judged_unacceptable"] is None  # still learning
    (note,) = _monitor_notes(s)
    assert f"still learning its baseline ({rep['evals']:,} of 1,000 verdicts)" in note
    assert "raise monitors.mon.eval_share (now 0.05) or lower monitors.mon.baseline_evals" in note


def test_drift_smaller_than_the_tuned_drop_names_detect_shift():
    """A 2-point drop under a chart tuned to 5 points: the log-likelihood drifts down."""
    s = _step(0.2, 0.02)
    assert s["components"]["mon"]["alarms"] == 0
    (note,) = _monitor_notes(s)
    assert "spoiled 2.0%" in note
    assert "tuned to a larger drop (monitors.mon.detect_shift=0.05): lower it" in note
