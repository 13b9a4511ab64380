"""The whole stack (config -> source -> pool -> recorder -> summary) against queueing theory.

A scenario whose only component is a pool with exponential service times and batching
off is an M/M/c queue: its mean end-to-end latency must be the Erlang C response time.
"""

import numpy as np
import pytest
from omegaconf import OmegaConf

from sim.compose import compose
from sim.metrics.queueing import mmc_mean_response_s
from sim.run import run


def mmc_config(lam: float, mu: float, c: int, seed: int, horizon_s: float):
    base = compose(
        "demo",
        ["workload.arrival=poisson", f"workload.rate_rps={lam}", "workload.tokens.kind=fixed",
         f"horizon_s={horizon_s}", "warmup_s=2000", "progress=false", f"seed={seed}", "path=[q]"],
    )  # fmt: skip
    # a new component is declared the way a scenario file does it: merged as a mapping
    OmegaConf.set_struct(base, False)
    pool = {
        "hardware": "c6i_2xlarge",
        "model": "tinyllama_1_1b",
        "latency": "exponential",
        "service_mean_s": 1.0 / mu,
        "replicas": c,
        "max_batch_size": 1,
    }
    cfg = OmegaConf.merge(base, {"pools": {"q": pool}})
    OmegaConf.set_struct(cfg, True)
    return cfg


@pytest.mark.slow
def test_mmc_scenario_matches_erlang_c_response_time():
    lam, mu, c = 3.2, 1.0, 4  # utilization 0.8
    latencies, utils = [], []
    for seed in range(4):
        s = run(mmc_config(lam, mu, c, seed, horizon_s=50_000)).summary
        latencies.append(s["latency_s"]["mean"])
        utils.append(s["utilization"]["q"]["mean"])
    assert np.mean(latencies) == pytest.approx(mmc_mean_response_s(lam, mu, c), rel=0.03)
    assert np.mean(utils) == pytest.approx(lam / (c * mu), rel=0.02)
