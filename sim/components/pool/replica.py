"""State of one replica of a pool, and of one request on it.

A replica is a server that holds the model: it runs a batch (:mod:`.scheduler`) and has
a place in the fleet's life cycle (:mod:`.lifecycle`)::

    PROVISIONING --provision_s--> READY --scale-down--> DRAINING --empty--> RELEASED
         (cold start: billed)       |  ^                   ^  (or at the end of a
                                    |  | restart_s         |   preemption notice)
                                  crash |                  |
                                    v  |          preemption notice
                                    DOWN                (spot replicas)

Only READY replicas take new work; DRAINING ones finish what they hold; DOWN ones lost
theirs in a crash and restart. Every state but RELEASED is billed. ``version`` tags the
scheduling timers (a timer made stale by an admission or a crash is ignored); ``life``
tags the life-cycle timers (cold start, crash, preemption) the same way.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import simpy

from sim.components.prefix import PrefixCache
from sim.components.request import Request

PROVISIONING, READY, DRAINING, DOWN, RELEASED = range(5)
STATES = ("provisioning", "ready", "draining", "down", "released")

# Phases of the batch loop (sim/components/pool/scheduler.py, static.py, chunked.py).
# PREFILL: a prefill iteration (or chunked prefill's mixed iterations); DECODE: decoding,
# and an arrival may join at once (the segment is cut); SWITCH: between two; SEALED: a
# static batch decoding, closed to arrivals until it ends.
IDLE, PREFILL, DECODE, SWITCH, SEALED = range(5)

# The queue of a replica that must take nothing from the pool's queue (draining, down,
# provisioning, with the central balancer). Never appended to.
NO_QUEUE: deque = deque(maxlen=0)


class Seq:
    """One admitted or waiting request and its decode progress."""

    __slots__ = ("req", "event", "arrived_at", "kv", "remaining", "prefill_left")

    def __init__(self, req: Request, event: simpy.Event, arrived_at: float, kv: int) -> None:
        self.req = req
        self.event = event
        self.arrived_at = arrived_at  # at the pool
        self.kv = kv  # reserved KV tokens: prompt + output
        self.remaining = 0.0  # decode steps still to run
        self.prefill_left = 0  # prompt tokens still to prefill (chunked prefill)


class Replica:
    """One replica: its sequences, batch phase, decode segment, life-cycle state and class.

    ``queue`` is where it takes work from: the pool's queue (central balancer), its own
    queue (the other balancers) or :data:`NO_QUEUE`. ``meter`` records its busy time
    (one meter per price class: on-demand or spot).
    """

    __slots__ = (
        "index",
        "phase",
        "pending",
        "prefilling",
        "running",
        "kv_reserved",
        "seg_start",
        "step_s",
        "chunks",
        "version",
        "prefix",
        "state",
        "spot",
        "meter",
        "queue",
        "born_at",
        "life",
        "deadline",
    )

    def __init__(
        self,
        index: int,
        meter: Any,
        prefix: PrefixCache | None = None,
        *,
        state: int = READY,
        spot: bool = False,
        born_at: float = 0.0,
    ) -> None:
        self.index = index
        self.prefix = prefix  # this replica's prefix (KV block) cache, if caching is on
        self.phase = IDLE
        self.pending: list[Seq] = []  # admitted, prefill not started yet
        self.prefilling: list[Seq] = []
        self.running: list[Seq] = []  # decoding
        self.kv_reserved = 0
        self.seg_start = 0.0
        self.step_s = 0.0
        self.chunks: list[int] = []  # chunked prefill: prompt tokens of r.prefilling[i] now
        self.version = 0
        self.state = state
        self.spot = spot
        self.meter = meter
        self.queue: deque[Seq] = NO_QUEUE
        self.born_at = born_at  # provisioning started (billing starts)
        self.life = 0
        self.deadline = False  # a preemption notice is running out

    @property
    def n_seqs(self) -> int:
        return len(self.pending) + len(self.prefilling) + len(self.running)

    def __repr__(self) -> str:
        return (
            f"Replica({self.index}, {STATES[self.state]}{', spot' if self.spot else ''}, "
            f"seqs={self.n_seqs})"
        )
