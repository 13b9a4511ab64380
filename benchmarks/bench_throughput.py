"""Throughput benchmark: aicostsim against bare SimPy, measured in the same invocation.

Runs, each in its own subprocess (so peak memory is per workload):

* ``simpy_mmc`` — the baseline: a bare SimPy M/M/c queue (one process per customer,
  ``simpy.Resource``), 1M customers, c=8 at 90 % load;
* ``copilot_like`` — the full scenario with ~1M requests (users and horizon chosen so),
* ``search_like`` — a full request path (cache, router, retrieval, model, CPU pool)
  with ~1M queries in one simulated hour,
* ``production`` — the fullest scenario, every mechanism on (crashing app servers,
  cache, retrieval, pipeline, retries and fallback through an outage, monitor with
  drift, retraining, reviewers), one simulated week of ~1M requests,
  including build, numba start-up and statistics (plots and file output excluded).

Writes requests per second of wall time, their ratio (aicostsim / SimPy) and peak RSS
to ``benchmarks/results/throughput.json``. Usage::

    python benchmarks/bench_throughput.py [--customers 1000000] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def simpy_mmc(n: int, c: int = 8, rho: float = 0.9, seed: int = 1) -> dict:
    import numpy as np
    import simpy

    rng = np.random.default_rng(seed)
    mu = 1.0
    lam = rho * c * mu
    gaps = rng.exponential(1 / lam, n).tolist()
    services = rng.exponential(1 / mu, n).tolist()
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=c)
    waits = [0.0]

    def customer(service: float):
        t0 = env.now
        with server.request() as req:
            yield req
            waits[0] += env.now - t0
            yield env.timeout(service)

    def source():
        for i in range(n):
            yield env.timeout(gaps[i])
            env.process(customer(services[i]))

    t0 = time.perf_counter()
    env.process(source())
    env.run()
    wall = time.perf_counter() - t0
    return {"requests": n, "wall_s": wall, "mean_wait_s": waits[0] / n}


def _sessions_week(scenario: str, n_target: int, overrides: list[str]) -> tuple[dict, int, float]:
    """Run one simulated week of ``scenario`` with as many users as bring about
    ``n_target`` requests (from the scenario's own usage rates); (summary, users, wall s)."""
    from sim.compose import compose
    from sim.run import run
    from sim.volume import expected_rate_rps

    one = compose(scenario, ["workload.users=1", *overrides])
    per_user = expected_rate_rps(one) * one.horizon_s
    users = max(1, round(n_target / per_user))
    t0 = time.perf_counter()
    cfg = compose(
        scenario, [f"workload.users={users}", *overrides, "progress=false", "plots=false"]
    )
    result = run(cfg)
    return result.summary, users, time.perf_counter() - t0


def copilot(n_target: int) -> dict:
    s, users, wall = _sessions_week("copilot_like", n_target, [])
    return {
        "requests": s["requests"]["arrived"],
        "wall_s": wall,
        "users": users,
        "cost_per_user_month_usd": s["cost_per_user_month_usd"],
        "latency_p99_s": s["latency_s"]["p99"],
    }


def search_like(n_target: int) -> dict:
    """The fullest path: response cache -> router -> classic search | web retrieval + model."""
    from sim.compose import compose
    from sim.run import run

    horizon = 3600.0
    rate = n_target / horizon  # one busy hour holding about n_target queries
    t0 = time.perf_counter()
    cfg = compose(
        "search_like",
        [f"workload.rate_rps={rate:g}", f"horizon_s={horizon:g}", "warmup_s=0",
         "pools.search.replicas=" + str(max(4, round(rate / 12))), "progress=false",
         "plots=false"],
    )  # fmt: skip
    result = run(cfg)
    wall = time.perf_counter() - t0
    s = result.summary
    return {
        "requests": s["requests"]["arrived"],
        "wall_s": wall,
        "cache_hit_rate": s["components"]["answers"]["hit_rate"],
        "cost_per_1k_requests_usd": s["cost_per_1k_requests_usd"],
    }


def production(n_target: int) -> dict:
    """The fullest scenario with every mechanism on: app servers that crash, a semantic
    cache, retrieval kept fresh by a pipeline, retries and a fallback provider through a
    two-hour outage of the primary, an LLM judge with drift, retraining, QA reviewers."""
    chaos = ["apis.llm.outages.windows_h=[[34,36]]", "pools.app.crash.mtbf_h=24"]
    s, users, wall = _sessions_week("production", n_target, chaos)
    return {
        "requests": s["requests"]["arrived"],
        "wall_s": wall,
        "users": users,
        "retries": s["resilience"]["answer"]["retries"],
        "cost_per_1k_requests_usd": s["cost_per_1k_requests_usd"],
    }


KINDS = {
    "simpy_mmc": simpy_mmc,
    "copilot_like": copilot,
    "search_like": search_like,
    "production": production,
}


def _child(kind: str, n: int) -> None:
    out = KINDS[kind](n)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def _run_child(kind: str, n: int) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--customers", str(n)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "throughput.json")
    ap.add_argument("--child", choices=list(KINDS), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args.child, args.customers)
        return
    base = _run_child("simpy_mmc", args.customers)
    sim = _run_child("copilot_like", args.customers)
    full = _run_child("search_like", args.customers)
    prod = _run_child("production", args.customers)
    for r in (base, sim, full, prod):
        r["requests_per_wall_s"] = r["requests"] / r["wall_s"]
    report = {
        "benchmark": "throughput",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "baseline_simpy_mmc": base,
        "copilot_like": sim,
        "ratio_copilot_to_simpy": sim["requests_per_wall_s"] / base["requests_per_wall_s"],
        "search_like": full,
        "ratio_search_like_to_simpy": full["requests_per_wall_s"] / base["requests_per_wall_s"],
        "production": prod,
        "ratio_production_to_simpy": prod["requests_per_wall_s"] / base["requests_per_wall_s"],
    }
    sys.path.insert(0, str(HERE.parent))
    from sim.outputs import atomic_write_text

    atomic_write_text(args.out, json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
