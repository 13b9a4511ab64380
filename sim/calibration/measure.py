"""What the simulator gives for a published case, measured the way the source measured it.

Every figure comes from running one replica (``tp`` devices) of an
:class:`~sim.components.pool.InferencePool` with the case's hardware, model and
precisions, and requests of the case's fixed prompt and output lengths -- the pool's
real scheduler, not a formula:

* ``batch: saturated`` (throughput) -- an overloaded replica at steady state: enough
  requests wait at t=0 to keep the batch full for many turnovers (at least
  ``SATURATED_TURNOVERS`` full batches); the rate is counted between the completion of
  the first ``WINDOW[0]`` and of ``WINDOW[1]`` of them, so neither the ramp-up nor the
  drain at the end enters it;
* ``batch: N`` (throughput, ``e2e_latency_s``, ``ttft_s``) -- one offline batch: N
  requests at t=0, tokens over the time until the last one is done (as vLLM's
  ``benchmark_throughput`` and ``benchmark_latency``); TTFT is the batch's mean;
* ``tpot_s`` -- one request alone, (done - first token) / (output tokens - 1).
"""

from __future__ import annotations

import math
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

from sim.calibration.cases import Case

# vLLM's default --gpu-memory-utilization is 0.9 (docs.vllm.ai engine arguments).
KV_MEMORY_FRACTION = 0.9
# vLLM V1's default --max-num-seqs is 256 on data-centre GPUs (docs.vllm.ai engine args).
MAX_BATCH = 256
SATURATED_TURNOVERS = 12  # full batches of requests queued for a saturated case
WINDOW = (0.2, 0.9)  # share of completions between which a saturated rate is counted
STEP_KEYS = ("prefill_efficiency", "decode_efficiency", "step_overhead_s", "seq_overhead_s")


@lru_cache(maxsize=1)
def catalogs() -> tuple[dict[str, Any], dict[str, Any]]:
    """The hardware and model catalogs (``configs/{hardware,models}/default.yaml``)."""
    from omegaconf import OmegaConf

    from sim.config import HardwareSpec, ModelSpec
    from sim.paths import configs_dir

    out = []
    for group, schema in (("hardware", HardwareSpec), ("models", ModelSpec)):
        raw = OmegaConf.load(configs_dir() / group / "default.yaml")
        out.append({k: OmegaConf.merge(OmegaConf.structured(schema), v) for k, v in raw.items()})
    return out[0], out[1]


def latency_for(case: Case, step: dict[str, float] | None = None, **pool: Any) -> Any:
    """The :class:`~sim.latency.RooflineLatency` of one replica of ``case``.

    ``step`` overrides the hardware's calibration (keys of :data:`STEP_KEYS`, and
    ``allreduce_latency_s``);
    ``pool`` any other pool field (``kv_memory_fraction``...).
    """
    from sim.latency.roofline import roofline_from_config

    hardware, models = catalogs()
    if case.hardware not in hardware:
        raise ValueError(f"case {case.id}: hardware={case.hardware!r} is not in the catalog")
    if case.model not in models:
        raise ValueError(f"case {case.id}: model={case.model!r} is not in the catalog")
    hw = hardware[case.hardware]
    step = dict(step or {})
    if "allreduce_latency_s" in step:  # a fit trying values: the hardware's, replaced
        from omegaconf import OmegaConf

        hw = OmegaConf.merge(hw, {"allreduce_latency_us": step.pop("allreduce_latency_s") * 1e6})
        hw.calibration = {}
    pc = SimpleNamespace(
        precision=case.precision,
        kv_precision=case.kv_precision,
        devices_per_replica=case.tp,
        kv_memory_fraction=KV_MEMORY_FRACTION,
        **{k: None for k in STEP_KEYS},
    )
    for k, v in {**step, **pool}.items():
        setattr(pc, k, v)
    return roofline_from_config(models[case.model], hw, pc)


def run_batch(
    latency: Any, n: int, prompt: int, output: int, *, max_batch: int = MAX_BATCH, **kw: Any
) -> list[Any]:
    """Run ``n`` requests queued at t=0 on one replica; the finished requests, in order."""
    from sim.components.pool import make_pool
    from sim.components.request import Request, Status
    from sim.engine.context import SimContext

    ctx = SimContext(seed=0, horizon_s=1e12)
    env = ctx.env
    pool = make_pool(
        "gpu",
        ctx,
        latency,
        replicas=1,
        max_batch_size=max_batch,
        max_queue=n + 1,
        usd_per_replica_hour=0.0,
        **kw,
    )
    done: list[Any] = []

    def one(req: Any) -> Any:
        yield from pool.handle(req)
        if req.in_flight:
            req.status = Status.COMPLETED
            req.done_at = env.now
            done.append(req)

    for i in range(n):
        env.process(one(Request(i, 0.0, prompt, output)))
    env.run()
    if len(done) != n:
        raise RuntimeError(
            f"{n - len(done)} of {n} requests did not complete (too long for the KV cache?)"
        )
    return done


def saturated_rate(done: list[Any], total: bool) -> float:
    """Tokens/s between the completions at :data:`WINDOW` (see module)."""
    times = sorted(r.done_at for r in done)
    t0 = times[int(WINDOW[0] * (len(times) - 1))]
    t1 = times[int(WINDOW[1] * (len(times) - 1))]
    inside = [r for r in done if t0 < r.done_at <= t1]
    if t1 <= t0 or not inside:
        raise RuntimeError("saturated window is empty: too few requests")
    tokens = sum(r.output_tokens + (r.prompt_tokens if total else 0) for r in inside)
    return tokens / (t1 - t0)


def simulate_case(case: Case, step: dict[str, float] | None = None, **kw: Any) -> float:
    """The simulated figure for ``case`` in its metric's unit (see module)."""
    latency = latency_for(case, step)
    p, o = case.input_tokens, case.output_tokens
    if case.metric == "tpot_s":
        (req,) = run_batch(latency, 1, p, o, **kw)
        return (req.done_at - req.first_token_at) / max(o - 1, 1)
    if case.batch == "saturated":
        per_seq = p + o
        fits = max(1, min(MAX_BATCH, latency.kv_capacity_tokens // per_seq))
        n = max(SATURATED_TURNOVERS * fits, 200)
        done = run_batch(latency, n, p, o, **kw)
        rate = saturated_rate(done, total=case.metric == "total_tok_s_per_gpu")
        return rate / case.tp
    n = int(case.batch)
    done = run_batch(latency, n, p, o, **kw)
    makespan = max(r.done_at for r in done)
    if case.metric == "ttft_s":
        return sum(r.first_token_at for r in done) / n
    if case.metric == "e2e_latency_s":
        return makespan
    tokens = n * (o + (p if case.metric == "total_tok_s_per_gpu" else 0))
    return tokens / makespan / case.tp


def error(case: Case, simulated: float) -> float:
    """Relative error of the simulation, (simulated - published) / published."""
    if not math.isfinite(simulated):
        return math.inf
    return simulated / case.value - 1.0
