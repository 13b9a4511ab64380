"""Request: one user interaction travelling through the stages of the request path."""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import IntEnum


class Status(IntEnum):
    """Where a request ended. ``IN_FLIGHT`` until a stage ends it or the path completes."""

    IN_FLIGHT = 0
    COMPLETED = 1
    FAILED = 2
    DROPPED = 3


class Request:
    """A request and what happened to it.

    Stages read and change it: they may change token counts (context retrieval), the
    route, or end it early with :meth:`fail` or :meth:`drop`. Times are simulated
    seconds; ``first_token_at`` stays NaN where no token was produced.
    """

    __slots__ = (
        "id",
        "arrived_at",
        "prompt_tokens",
        "output_tokens",
        "cached_prompt_tokens",
        "user",
        "status",
        "reason",
        "first_token_at",
        "done_at",
        "route",
        "query",
        "difficulty",
        "ok",
        "blocks",
        "degraded",
    )

    def __init__(
        self,
        id: int,
        arrived_at: float,
        prompt_tokens: int,
        output_tokens: int,
        user: int = -1,
    ) -> None:
        self.id = id
        self.arrived_at = arrived_at
        self.prompt_tokens = prompt_tokens
        self.output_tokens = output_tokens
        self.cached_prompt_tokens = 0
        self.user = user
        self.status = Status.IN_FLIGHT
        self.reason: str | None = None
        self.first_token_at = math.nan
        self.done_at = math.nan
        self.route: str | None = None
        self.query = -1  # what the request asks (sim.workload.queries); -1: not drawn
        self.blocks: Sequence[int] = ()  # prefix block ids (drawn when a prompt cache needs them)
        self.difficulty = math.nan  # how hard it is, in [0, 1] (sim.workload.difficulty)
        self.ok = True  # the answer is acceptable (a stage that can spoil it sets False)
        self.degraded = False  # a stand-in answer after every model call failed (no cache)

    def fail(self, reason: str) -> None:
        """End the request as failed (an error was returned to the caller)."""
        self.status = Status.FAILED
        self.reason = reason

    def drop(self, reason: str) -> None:
        """End the request as dropped (shed before it was served: full queue, timeout)."""
        self.status = Status.DROPPED
        self.reason = reason

    @property
    def in_flight(self) -> bool:
        return self.status == Status.IN_FLIGHT

    def __repr__(self) -> str:
        return (
            f"Request(id={self.id}, arrived_at={self.arrived_at:.3f}, "
            f"prompt={self.prompt_tokens}, output={self.output_tokens}, "
            f"status={self.status.name})"
        )
