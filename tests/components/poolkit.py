"""Helpers the pool tests share: a model on a device, an event counter, sending requests."""

from __future__ import annotations

import simpy

from sim.components.request import Request, Status
from sim.engine.context import SimContext

# Llama 3 8B on one A100 80GB, the roofline's arguments
LLAMA3_8B_A100 = dict(
    params_b=8.03,
    layers=32,
    hidden_size=4096,
    heads=32,
    kv_heads=8,
    bytes_per_param=2,
    kv_bytes=2,
    peak_tflops=312,
    memory_gb=80,
    memory_gbps=2039,
)


class CountingEnv(simpy.Environment):
    """An environment that counts every scheduled event."""

    def __init__(self) -> None:
        super().__init__()
        self.scheduled = 0

    def schedule(self, event, priority=1, delay=0):  # type: ignore[override]
        self.scheduled += 1
        super().schedule(event, priority, delay)


def submit(ctx: SimContext, pool, reqs: list[Request], at: float = 0.0) -> list[Request]:
    """Send ``reqs`` to ``pool`` at time ``at``; a completed request gets ``done_at``."""
    env = ctx.env

    def one(req: Request):
        if at > env.now:
            yield env.timeout(at - env.now)
        req.arrived_at = env.now
        yield from pool.handle(req)
        if req.in_flight:
            req.status, req.done_at = Status.COMPLETED, env.now

    for r in reqs:
        env.process(one(r))
    return reqs


def held_by(replica) -> list[Request]:
    """The requests a replica holds, in any phase of its batch."""
    return [s.req for s in replica.pending + replica.prefilling + replica.running]
