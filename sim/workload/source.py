"""RequestSource: turns arrival blocks into requests and walks each through the path.

One SimPy process feeds arrivals (one timeout per arrival) and each request is one
SimPy process that passes through the stages in order. That is the whole per-request
overhead of the engine; stages add events only where something contends.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any

import simpy

from sim.components.request import Request, Status
from sim.components.stage import Stage
from sim.engine.context import SimContext
from sim.workload.base import ArrivalProcess, TokenSampler


class RequestSource:
    """Creates requests from an arrival process and a token sampler."""

    def __init__(
        self,
        ctx: SimContext,
        arrivals: ArrivalProcess,
        tokens: TokenSampler,
        path: Sequence[Stage],
        attributes: dict[str, Any] | None = None,
    ) -> None:
        if not path:
            raise ValueError("the request path is empty: name at least one component in `path`")
        self.ctx = ctx
        self.arrivals = arrivals
        self.tokens = tokens
        self.path = tuple(path)
        # request attribute -> sampler with .sample(n), drawn only when a component needs it
        # (query ids for caches, difficulty for routers, prefix blocks for prompt caches);
        # a sampler with .for_block(block, prompts) sees the arrival block and its prompts
        self.attributes = dict(attributes or {})
        self.created = 0

    def start(self) -> simpy.Process:
        return self.ctx.env.process(self._feed())

    def _feed(self) -> Generator[simpy.Event, Any, None]:
        ctx = self.ctx
        env = ctx.env
        horizon = ctx.horizon_s
        on_arrival = ctx.recorder.on_arrival
        flow = self._flow
        process = env.process
        timeout = env.timeout
        next_id = ctx.next_id
        for block in self.arrivals.blocks():
            n = len(block)
            if n == 0:
                continue
            times = block.times_s.tolist()
            if block.prompt_tokens is not None and block.output_tokens is not None:
                prompts, outputs = block.prompt_tokens.tolist(), block.output_tokens.tolist()
            else:
                p, o = self.tokens.sample(n)
                prompts, outputs = p.tolist(), o.tolist()
            users = block.users.tolist() if block.users is not None else None
            drawn = [
                (
                    k,
                    s.for_block(block, prompts)
                    if hasattr(s, "for_block")
                    else s.sample(n).tolist(),
                )
                for k, s in self.attributes.items()
            ]
            for i in range(n):
                t = times[i]
                if t >= horizon:
                    return
                dt = t - env.now
                if dt > 0.0:
                    yield timeout(dt)
                req = Request(next_id(), env.now, prompts[i], outputs[i], users[i] if users else -1)
                for attr, values in drawn:
                    setattr(req, attr, values[i])
                self.created += 1
                on_arrival(req)
                process(flow(req))

    def _flow(self, req: Request) -> Generator[simpy.Event, Any, None]:
        for stage in self.path:
            yield from stage.handle(req)
            if req.status != Status.IN_FLIGHT:
                break
        else:
            req.status = Status.COMPLETED
        req.done_at = self.ctx.env.now
        self.ctx.recorder.on_end(req)
