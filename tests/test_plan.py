"""python -m sim.plan: the cheapest pool that meets a latency target, confirmed by simulation."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from omegaconf import OmegaConf, open_dict

from sim.components.pool import PoolConfig
from sim.compose import compose
from sim.metrics.queueing import erlang_c, mmc_mean_response_s, mmc_mean_wait_s
from sim.plan.cli import main, plan_config
from sim.plan.estimate import LoadProfile, PoolEstimator, Service, service_grid, window
from sim.plan.knobs import PlanConfig, parse
from sim.plan.search import with_settings
from sim.run import run

MEAN_S = 0.5  # exponential service time of the test pool
RATE_RPS = 6.0  # 3 Erlangs: at least 4 servers
TARGET_S = 1.8  # p95 response: between M/M/5 (1.60 s) and M/M/4 (2.06 s)


def mmc_cfg(seed: int = 0, rate_rps: float = RATE_RPS, horizon_s: float = 2000.0):
    """An M/M/c queue: Poisson arrivals into a pool with exponential service, no batching."""
    cfg = compose("demo", ["workload.arrival=poisson", f"workload.rate_rps={rate_rps}",
                           f"horizon_s={horizon_s}", f"seed={seed}", "progress=false",
                           "plots=false"])  # fmt: skip
    with open_dict(cfg):
        cfg.pools["p"] = OmegaConf.structured(
            PoolConfig(model="starcoder_15b", hardware="c6i_2xlarge", latency="exponential",
                       service_mean_s=MEAN_S, max_batch_size=1)
        )  # fmt: skip
    cfg.path = ["p"]
    return cfg


def mmc_response_sf(t: float, lam: float, mu: float, c: int) -> float:
    """P(T > t) of the response time of M/M/c FIFO (Gross & Harris)."""
    cw = erlang_c(c, lam / mu)
    g = c * mu - lam - mu
    ramp = t if abs(g) < 1e-12 else (1 - math.exp(-g * t)) / g  # its limit at cμ − λ = μ
    return math.exp(-mu * t) * (1 + cw * mu * ramp)


def quantile_of_sf(sf, q: float) -> float:
    lo, hi = 0.0, 100.0
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if sf(mid) > 1 - q else (lo, mid)
    return hi


# -- the estimate -------------------------------------------------------------------------------
@pytest.mark.parametrize(("lam", "c"), [(3.0, 2), (6.0, 4), (6.0, 5), (30.0, 20)])
def test_the_estimate_is_erlang_c_for_exponential_service_without_batching(lam, c):
    mu = 1 / MEAN_S
    grid = service_grid("exponential", MEAN_S, 1.0)
    svc = Service(grid, np.zeros_like(grid), 0.0, 0.0, math.inf)
    w = window(svc, lam, c, 1)
    assert w.feasible
    assert w.wait_prob == pytest.approx(erlang_c(c, lam / mu), rel=0.01)
    assert w.wait_mean_s == pytest.approx(mmc_mean_wait_s(lam, mu, c), rel=0.01)
    profile = LoadProfile(np.array([lam]), np.array([1.0]), 300.0, 1)
    mean = PoolEstimator(svc, profile, 1, "mean_latency_s", np.random.default_rng(1)).at(c)
    assert mean.value_s == pytest.approx(mmc_mean_response_s(lam, mu, c), rel=0.02)
    exact = quantile_of_sf(lambda t: mmc_response_sf(t, lam, mu, c), 0.95)
    for seed in range(3):  # the wait is drawn (4,096 draws): a band, over several seeds
        p95 = PoolEstimator(svc, profile, 1, "p95_latency_s", np.random.default_rng(seed)).at(c)
        assert p95.value_s == pytest.approx(exact, rel=0.04)


def test_the_estimate_is_infeasible_at_or_above_saturation_and_improves_with_replicas():
    grid = service_grid("exponential", MEAN_S, 1.0)
    svc = Service(grid, np.zeros_like(grid), 0.0, 0.0, math.inf)
    profile = LoadProfile(np.array([RATE_RPS]), np.array([1.0]), 300.0, 1)
    est = PoolEstimator(svc, profile, 1, "p95_latency_s", np.random.default_rng(0))
    assert math.isinf(est.at(3).value_s)  # 3 Erlangs on 3 servers
    values = [est.at(c).value_s for c in range(4, 12)]
    assert values == sorted(values, reverse=True)
    assert values[-1] == pytest.approx(est.floor_s(), rel=0.01)  # no waiting left
    assert est.smallest_replicas(values[2], 64) == 6


# -- the search ----------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1])
def test_the_answer_meets_the_target_and_one_replica_fewer_does_not(seed):
    cfg = mmc_cfg(seed)
    plan = PlanConfig(target="p95_latency_s", target_s=TARGET_S, max_replicas=64)
    res, _ = plan_config(cfg, plan, log=lambda line: None)
    a = res.answer
    assert a is not None and a.sim is not None and a.sim.meets
    key = "pools.p.replicas"
    for replicas, meets in ((a.replicas, True), (a.replicas - 1, False)):
        s = run(with_settings(cfg, {key: replicas})).summary
        assert (s["latency_s"]["p95"] <= TARGET_S) is meets, (replicas, s["latency_s"]["p95"])
    # where queueing theory puts it: M/M/4 has a p95 response of 2.06 s, M/M/5 1.60 s
    assert a.replicas == 5
    assert a.pool_monthly_usd == pytest.approx(5 * 0.34 * 730.5)


def test_the_estimate_rules_out_most_candidates():
    cfg = mmc_cfg()
    # exponential service does not depend on the hardware: the dearer one is ruled out by cost
    plan = PlanConfig(target_s=TARGET_S, max_replicas=64, hardware=["c6i_2xlarge", "a10g_24gb"])
    res, _ = plan_config(cfg, plan, log=lambda line: None)
    assert res.answer is not None and res.answer.settings["pools.p.hardware"] == "c6i_2xlarge"
    assert 1 <= res.simulations <= 4 < res.candidates == 128
    n = res.counts
    assert n["simulated"] == res.simulations
    assert sum(n.values()) == res.candidates
    assert n["ruled out by the estimate"] >= 3 and n["ruled out by cost"] >= 64 - 5
    dear = [ln for ln in res.lines if ln.settings["pools.p.hardware"] == "a10g_24gb"][0]
    assert dear.status == "ruled out by cost" and not dear.sims


def test_a_target_below_the_service_time_needs_no_simulation():
    res, _ = plan_config(mmc_cfg(), PlanConfig(target_s=1.0), log=lambda line: None)
    assert res.answer is None and res.simulations == 0  # p95 of Exp(0.5 s) alone is 1.5 s
    assert res.lines[0].status == "misses at any replica count"
    assert res.lines[0].floor_s == pytest.approx(-MEAN_S * math.log(0.05), rel=0.01)


def test_when_nothing_meets_the_target_the_answer_says_what_to_try(tmp_path, capsys):
    main(["scenario=copilot_like", "workload.users=20", "plan.horizon_s=3600",
          "plan.target_s=1", f"plan.out={tmp_path}"])  # fmt: skip
    (line,) = [x for x in capsys.readouterr().out.splitlines() if x.startswith("answer:")]
    assert "none of the candidates meets" in line and "try a target above it" in line
    assert "h100_sxm_80gb_2023" in line  # faster hardware from the catalog, by name


def test_the_roofline_estimate_tracks_the_simulation():
    """copilot_like on H100s for a day: the estimate within 20 % of what a run measures."""
    cfg = compose("copilot_like", ["workload.users=300", "horizon_s=86400", "progress=false",
                                   "pools.gpu.hardware=h100_sxm_80gb_2023"])  # fmt: skip
    plan = PlanConfig(target_s=1.0, max_replicas=1)  # the floor (1.5 s) rules it out at once
    res, planner = plan_config(cfg, plan, log=lambda line: None)
    assert res.simulations == 0
    est = res.lines[0].estimator
    for replicas in (1, 2):
        sim = run(with_settings(planner.base, {"pools.gpu.replicas": replicas})).summary
        assert est.at(replicas).value_s == pytest.approx(sim["latency_s"]["p95"], rel=0.2)


# -- the command line ----------------------------------------------------------------------------
def _plan(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim.plan", *args], capture_output=True,
                          text=True, timeout=120)  # fmt: skip


@pytest.mark.parametrize(
    ("arg", "key"),
    [
        ("plan.target=p42_latency_s", "plan.target='p42_latency_s'"),
        ("plan.target_s=0", "plan.target_s=0"),
        ("plan.target_s=-1.5", "plan.target_s=-1.5"),
        ("plan.pool=nope", "plan.pool='nope'"),
        ("plan.hardware=[nope]", "plan.hardware[0]='nope'"),
        ("plan.confrim=3", "plan.confrim=3"),
    ],
)
def test_bad_knobs_are_one_line_naming_the_key(arg, key):
    out = _plan("scenario=copilot_like", arg)
    assert out.returncode == 2, out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"configuration error: {key}"), lines
    assert out.stdout == ""


def test_parse_reads_lists_and_numbers():
    plan = parse(["plan.hardware=[a,b]", "plan.max_batch_size=[32,64]", "plan.target_s=1.5"])
    assert plan.hardware == ["a", "b"] and plan.max_batch_size == [32, 64]
    assert plan.target_s == 1.5 and plan.target == "p95_latency_s"


def test_help_explains_the_knobs():
    out = _plan("--help")
    assert out.returncode == 0
    for knob in (
        "plan.target",
        "plan.target_s",
        "plan.hardware",
        "plan.max_batch_size",
        "plan.max_replicas",
        "plan.confirm",
        "plan.horizon_s",
        "plan.compare_path",
    ):
        assert knob in out.stdout  # fmt: skip


def test_the_command_prints_the_table_and_writes_plan_files(tmp_path, capsys):
    main(["scenario=copilot_like", "workload.users=50", "plan.horizon_s=86400",
          "plan.target_s=8", "plan.compare_path=[api]", f"plan.out={tmp_path}"])  # fmt: skip
    out = capsys.readouterr()
    assert "answer: 1 replica" in out.out and "compare: path=[api]" in out.out
    assert "simulation" in out.err  # a progress line per simulation
    # copilot_like autoscales; the planner sizes a fixed fleet and says so
    assert "pools.gpu autoscales in the scenario; the planner sized a fixed fleet" in out.out
    doc = json.loads((tmp_path / "plan.json").read_text())
    assert doc["answer"]["meets"] is True and doc["answer"]["replicas"] == 1
    assert doc["simulations"] == 1 and doc["compare"]["path"] == ["api"]
    assert (tmp_path / "plan.csv").read_text().startswith("hardware,max_batch_size,replicas")
