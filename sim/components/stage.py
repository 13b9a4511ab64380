"""The stage contract: one step of the request path.

A request is one SimPy process that walks the path::

    for stage in path:
        yield from stage.handle(req)
        if not req.in_flight:
            break

A stage may take time (yield SimPy events), charge the ledger, change the request
(tokens, route) or end it early (``req.fail``/``req.drop``). A stage that does not
contend for anything should add its sampled latency with a single ``env.timeout``
(or none at all) rather than create events. A stage can wrap another one (a retry
around a model call) by delegating to ``inner.handle(req)``.

Components that bill by time (provisioned replicas) also implement :class:`Billable`;
the run calls ``bill(start, end)`` once per ledger bucket.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Protocol, runtime_checkable

import simpy

from sim.components.request import Request, Status


@runtime_checkable
class Stage(Protocol):
    """One step of the request path."""

    name: str

    def handle(self, req: Request) -> Generator[simpy.Event, Any, None]: ...


class SubPath:
    """Stages walked in order, as one stage: a cache's miss path, one route of a router.

    ``yield from sub.handle(req)`` runs each stage until one ends the request; a stage
    that holds sub-paths walks the one a request takes, and the others cost it nothing.
    """

    __slots__ = ("stages",)

    def __init__(self, stages: list[Stage] | tuple[Stage, ...]) -> None:
        self.stages = tuple(stages)

    def handle(self, req: Request) -> Generator[simpy.Event, Any, None]:
        for stage in self.stages:
            yield from stage.handle(req)
            if req.status != Status.IN_FLIGHT:
                return

    def __len__(self) -> int:
        return len(self.stages)

    def __repr__(self) -> str:
        return f"SubPath({[getattr(s, 'name', s) for s in self.stages]})"


@runtime_checkable
class Billable(Protocol):
    """A component that charges the ledger for time, busy or idle."""

    name: str

    def bill(self, start_s: float, end_s: float) -> None:
        """Charge the ledger for what was provisioned in ``[start_s, end_s)``."""
        ...


@runtime_checkable
class Observable(Protocol):
    """A component that reports per-bucket gauges (utilization, queue length)."""

    name: str

    def gauges(self) -> dict[str, float]:
        """Current values, sampled by the run at each bucket edge."""
        ...
