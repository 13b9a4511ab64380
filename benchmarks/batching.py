"""Batching schedulers compared: static, continuous and chunked prefill on one GPU.

One replica of ``llama3_8b`` on ``h100_sxm_80gb`` (fp16, one GPU, the catalogs' values and
the pool's default efficiencies), requests with the token mix of the Azure LLM inference
trace 2023, conversation (``azure_llm_2023_conv.csv``: ContextTokens as the prompt,
GeneratedTokens as the output; pairs drawn at random with replacement). The pool runs
each ``pools.NAME.scheduler``: ``static``, ``continuous`` (the default), ``chunked``
with the default budget of 2,048 tokens per iteration, and ``chunked`` with 8,192.

(a) Saturated throughput: ``--requests`` requests queued at t=0; output tokens per
    second of the requests that complete between the 10 % and the 90 % completion (the
    steady middle: no ramp-up, no draining tail), per GPU; ratios to continuous batching.
(b) Offered loads below continuous batching's saturation (``--loads``, fractions of its
    saturated request rate measured in the same run): Poisson arrivals; TTFT and TPOT
    (``(done − first token) / (output − 1)``, outputs of 2 tokens or more) p50 and p95
    of the requests after the first 10 %. A scheduler whose own saturated rate is below
    the offered rate is overloaded (``rho`` > 1): its queue grows all run, so its
    figures depend on the run's length and are marked.

Writes ``benchmarks/results/batching.json`` (atomically) and prints a table. Usage::

    python benchmarks/batching.py [--requests 20000] [--loads 0.1,0.6] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from sim.components.pool import make_pool, pool_latency  # noqa: E402
from sim.components.request import Request, Status  # noqa: E402
from sim.compose import compose  # noqa: E402
from sim.engine.context import SimContext  # noqa: E402
from sim.outputs import atomic_write_text  # noqa: E402
from sim.workload.trace_file import load_azure_trace  # noqa: E402

MODEL = "llama3_8b"
HARDWARE = "h100_sxm_80gb"
TRACE = "azure_llm_2023_conv.csv"  # shipped in sim/data; the same file as shared/data/traces
MAX_BATCH_SIZE = 256  # vLLM's default max_num_seqs
# (label, scheduler, max_batched_tokens)
VARIANTS = [
    ("static", "static", 2048),
    ("continuous", "continuous", 2048),
    ("chunked", "chunked", 2048),
    ("chunked_8192", "chunked", 8192),
]


def latency_model():
    """The roofline of MODEL on HARDWARE, built as a scenario's pool builds it."""
    cfg = compose(
        "copilot_like",
        [f"pools.gpu.model={MODEL}", f"pools.gpu.hardware={HARDWARE}", "pools.gpu.precision=fp16",
         "pools.gpu.devices_per_replica=1", "pools.gpu.latency=roofline"],
    )  # fmt: skip
    return pool_latency("gpu", cfg.pools.gpu, cfg, SimContext(seed=0, horizon_s=1.0))


def simulate(latency, scheduler: str, budget: int, sizes, arrivals) -> list[Request]:
    """Requests ``sizes[i]`` arriving at ``arrivals[i]`` on one replica; all run to the end."""
    ctx = SimContext(seed=0, horizon_s=1e12)
    env = ctx.env
    pool = make_pool(
        "gpu", ctx, latency, scheduler=scheduler, replicas=1, max_batch_size=MAX_BATCH_SIZE,
        max_batched_tokens=budget, max_queue=10**9, usd_per_replica_hour=0.0,
    )  # fmt: skip
    pool.start()
    reqs = [
        Request(i, float(t), int(p), int(o)) for i, (t, (p, o)) in enumerate(zip(arrivals, sizes))
    ]

    def one(req: Request):
        yield from pool.handle(req)
        if req.in_flight:
            req.status, req.done_at = Status.COMPLETED, env.now

    def source():
        for req in reqs:
            if req.arrived_at > env.now:
                yield env.timeout(req.arrived_at - env.now)
            env.process(one(req))

    env.process(source())
    env.run()
    assert all(r.status == Status.COMPLETED for r in reqs), "every request completes"
    return reqs


def steady_output_rate(reqs: list[Request]) -> float:
    """Output tokens/s of the requests done between the 10 % and the 90 % completion."""
    done = sorted(reqs, key=lambda r: r.done_at)
    t_a = done[math.ceil(0.1 * len(done))].done_at
    t_b = done[math.floor(0.9 * len(done))].done_at
    return sum(r.output_tokens for r in done if t_a < r.done_at <= t_b) / (t_b - t_a)


def latencies(reqs: list[Request]) -> dict:
    """TTFT and TPOT percentiles of the requests after the first 10 % (warm-up)."""
    kept = reqs[len(reqs) // 10 :]
    ttft = np.array([r.first_token_at - r.arrived_at for r in kept])
    tpot = np.array(
        [
            (r.done_at - r.first_token_at) / (r.output_tokens - 1)
            for r in kept
            if r.output_tokens > 1
        ]
    )
    p = np.percentile
    return {
        "ttft_p50_s": float(p(ttft, 50)),
        "ttft_p95_s": float(p(ttft, 95)),
        "tpot_p50_s": float(p(tpot, 50)),
        "tpot_p95_s": float(p(tpot, 95)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--requests", type=int, default=20_000, help="requests per simulation")
    ap.add_argument("--loads", default="0.1,0.6", help="fractions of continuous saturation")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "batching.json")
    args = ap.parse_args()
    t_start = time.perf_counter()
    latency = latency_model()
    _, prompts, outputs = load_azure_trace(TRACE)
    rng = np.random.default_rng(args.seed)
    n = args.requests
    pick = rng.integers(0, len(prompts), n)
    sizes = list(zip(prompts[pick].tolist(), outputs[pick].tolist()))
    mean_output = float(np.mean([o for _, o in sizes]))

    saturated = {}
    for label, scheduler, budget in VARIANTS:
        t0 = time.perf_counter()
        reqs = simulate(latency, scheduler, budget, sizes, [0.0] * n)
        rate = steady_output_rate(reqs)
        saturated[label] = {
            "output_tokens_per_s_per_gpu": rate,
            "requests_per_s": rate / mean_output,
            "wall_s": time.perf_counter() - t0,
        }
    base = saturated["continuous"]["output_tokens_per_s_per_gpu"]
    for row in saturated.values():
        row["ratio_to_continuous"] = row["output_tokens_per_s_per_gpu"] / base

    loads = []
    for frac in (float(x) for x in args.loads.split(",")):
        rps = frac * saturated["continuous"]["requests_per_s"]
        arrivals = np.cumsum(np.random.default_rng(args.seed + 1).exponential(1.0 / rps, n))
        row = {"fraction_of_continuous_saturation": frac, "offered_rps": rps}
        for label, scheduler, budget in VARIANTS:
            t0 = time.perf_counter()
            reqs = simulate(latency, scheduler, budget, sizes, arrivals)
            rho = rps / saturated[label]["requests_per_s"]
            row[label] = {**latencies(reqs), "rho": rho, "overloaded": rho >= 1.0,
                          "wall_s": time.perf_counter() - t0}  # fmt: skip
        loads.append(row)

    report = {
        "benchmark": "batching",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": "python benchmarks/batching.py " + " ".join(sys.argv[1:]),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },  # fmt: skip
        "model": MODEL,
        "hardware": HARDWARE,
        "latency": {  # the step-time model's parameters as built (catalog + calibration)
            k: v
            for k, v in vars(latency).items()
            if not k.startswith("_") and isinstance(v, (int, float))
        },
        "pool": {
            "replicas": 1,
            "max_batch_size": MAX_BATCH_SIZE,
            "variants": {
                label: {"scheduler": s, "max_batched_tokens": b} for label, s, b in VARIANTS
            },
        },  # fmt: skip
        "workload": {
            "trace": TRACE,
            "requests": n,
            "seed": args.seed,
            "prompt_tokens_mean": float(np.mean([p for p, _ in sizes])),
            "output_tokens_mean": mean_output,
        },
        "saturated": saturated,
        "loads": loads,
        "wall_s": time.perf_counter() - t_start,
    }
    atomic_write_text(args.out, json.dumps(report, indent=2) + "\n")
    print_table(report)


def print_table(report: dict) -> None:
    labels = [label for label, _, _ in VARIANTS]
    print(f"{report['model']} on {report['hardware']}, {report['workload']['requests']} requests "
          f"with the token mix of {report['workload']['trace']}")  # fmt: skip
    print("\n(a) saturated, all queued at t=0: output tokens/s per GPU (10-90 % of completions)")
    print(f"{'scheduler':<14}{'tokens/s':>10}{'req/s':>8}{'vs continuous':>15}")
    for label in labels:
        r = report["saturated"][label]
        print(f"{label:<14}{r['output_tokens_per_s_per_gpu']:>10.0f}{r['requests_per_s']:>8.2f}"
              f"{r['ratio_to_continuous']:>14.2f}x")  # fmt: skip
    for row in report["loads"]:
        print(f"\n(b) {row['offered_rps']:.2f} req/s offered ({row['fraction_of_continuous_saturation']:g}"
              f" x continuous saturation): seconds")  # fmt: skip
        print(
            f"{'scheduler':<14}{'rho':>6}{'TTFT p50':>10}{'TTFT p95':>10}{'TPOT p50':>10}{'TPOT p95':>10}"
        )
        for label in labels:
            r = row[label]
            mark = "  overloaded: grows with the run" if r["overloaded"] else ""
            print(f"{label:<14}{r['rho']:>6.2f}{r['ttft_p50_s']:>10.3f}{r['ttft_p95_s']:>10.3f}"
                  f"{r['tpot_p50_s']:>10.4f}{r['tpot_p95_s']:>10.4f}{mark}")  # fmt: skip
    print(f"\nwall time {report['wall_s']:.0f} s")


if __name__ == "__main__":
    main()
