"""Load balancing across the replicas of a pool: which replica an arrival goes to.

``central`` (the default, :class:`~.scheduler.InferencePool`) keeps one FIFO queue for
the pool and lets any replica with room take the head: no replica idles while another
has a queue — the ideal join-the-shortest-queue baseline, an M/M/c queue when batching
is off. A real load balancer in front of independent servers (vLLM or TGI instances
behind a proxy) instead assigns each request on arrival, and the request waits in that
replica's own queue. :class:`DispatchPool` does that, with one of four policies:

* ``round_robin`` — replicas in turn;
* ``random`` — uniformly at random (the pool's own stream ``pools.NAME.balancer``);
* ``least_outstanding`` — the replica holding the fewest requests (batch + own queue);
  a scan of the ready replicas, linear in the fleet;
* ``power_of_two`` — two distinct replicas at random, the one holding fewer (ties: the
  first). Mitzenmacher ("The power of two choices in randomized load balancing", IEEE
  TPDS 12(10), 2001) shows that, as the fleet grows, the queue tail falls doubly
  exponentially instead of exponentially: most of join-the-shortest-queue's gain for
  two samples (Envoy's LEAST_REQUEST balancer and NGINX's ``random two`` work so).

Choosing costs O(1) for all but ``least_outstanding``. The chosen replica starts the
request at once if it is idle, or decoding with room and nothing queued (prefill-first,
as the central queue does); otherwise the request joins its queue. ``max_queue`` counts
every waiting request of the pool. With no ready replica, arrivals wait in the pool's
queue and are assigned when one becomes ready. Requests a crash or preemption returns
are assigned again by the same policy, at the head of the chosen queue. A draining
replica takes nothing new but serves its own queue before it is released.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator
from typing import Any

import simpy

from sim import checks
from sim.components.pool.central import InferencePool
from sim.components.pool.config import BALANCERS
from sim.components.pool.replica import DECODE, DRAINING, IDLE, READY, SWITCH, Replica, Seq
from sim.components.request import Request
from sim.kernels.blocks import BlockDraws


class DispatchPool(InferencePool):
    """A pool whose balancer assigns each arrival to one replica's queue (see module)."""

    def __init__(self, *args: Any, balancer: str, rng: Any, **kw: Any) -> None:
        self.balancer = checks.choice("balancer", balancer, BALANCERS[1:])
        self._u = BlockDraws(checks.rng("rng", rng).random)
        self._rr = -1
        super().__init__(*args, **kw)

    # -- choosing a replica -------------------------------------------------------------
    def choose(self, active: list[Replica]) -> Replica:
        """The replica an arrival goes to, among the ready ones (``active`` is not empty)."""
        policy = self.balancer
        n = len(active)
        if policy == "power_of_two":
            if n == 1:
                return active[0]
            i = int(self._u.next() * n)
            j = int(self._u.next() * (n - 1))
            j += j >= i
            a, b = active[i], active[j]
            load_a = len(a.pending) + len(a.prefilling) + len(a.running) + len(a.queue)
            load_b = len(b.pending) + len(b.prefilling) + len(b.running) + len(b.queue)
            return a if load_a <= load_b else b
        if policy == "round_robin":
            self._rr = (self._rr + 1) % n
            return active[self._rr]
        if policy == "random":
            return active[int(self._u.next() * n)]
        return min(active, key=self.outstanding)  # least_outstanding

    def _start_now(self, r: Replica, seq: Seq) -> bool:
        """Start ``seq`` on ``r`` at once if it is idle, or decoding with room."""
        if r.phase == IDLE:
            r.meter.begin(r.index, self.env.now)
            r.phase = SWITCH
        elif not (
            r.phase == DECODE
            and len(r.running) < self.max_batch_size
            and r.kv_reserved + seq.kv <= self.kv_capacity_tokens
        ):
            return False
        self._admit(r, seq)
        self._start_prefill(r)
        return True

    # -- the stage ------------------------------------------------------------------------
    def handle(self, req: Request) -> Generator[simpy.Event, Any, None]:
        """Assign ``req`` to a replica, wait until its last token, or end it (see module)."""
        kv = req.prompt_tokens + req.output_tokens
        if kv > self.kv_capacity_tokens:
            req.fail("too_long")
            return
        env = self.env
        seq = Seq(req, env.event(), env.now, kv)
        active = self._active
        if active:
            r = self.choose(active)
            queue = r.queue
            if queue or not self._start_now(r, seq):
                if self._n_waiting >= self.max_queue:
                    req.drop("queue_full")
                    return
                queue.append(seq)
                self._n_waiting += 1
        else:  # nothing ready: wait in the pool's queue for a replica
            if self._n_waiting >= self.max_queue:
                req.drop("queue_full")
                return
            self._queue.append(seq)
            self._n_waiting += 1
            self.fleet.wake()
        yield seq.event
        if req.difficulty > self.skill:  # above its skill: not acceptable (NaN: not modelled)
            req.ok = False

    # -- the fleet's hooks ------------------------------------------------------------------
    def new_replica(self, index: int, spot: bool, state: int, t: float) -> Replica:
        r = super().new_replica(index, spot, state, t)
        r.queue = deque()  # its own, for as long as it lives
        return r

    def join_initial(self, replicas: list[Replica]) -> None:
        self._active = list(replicas)

    def join(self, r: Replica) -> None:
        self._active.append(r)
        if r.prefix is not None:  # a restarted server starts with an empty cache
            r.prefix = type(r.prefix)(self.prefix_capacity_blocks)
        held = self._queue
        if held:  # what waited for a ready replica is assigned now
            seqs = list(held)
            held.clear()
            self._n_waiting -= len(seqs)
            self.requeue(seqs)

    def leave(self, r: Replica) -> None:
        self._active.remove(r)  # it keeps its own queue: draining serves it

    def _went_idle(self, r: Replica) -> None:
        if r.state == DRAINING:
            self.fleet.emptied(r)

    def requeue(self, seqs: list[Seq]) -> None:
        """Assign ``seqs`` again, each at the head of the chosen replica's queue."""
        active = self._active
        if not active:
            self._queue.extendleft(reversed(seqs))
            self._n_waiting += len(seqs)
            return
        touched: dict[int, Replica] = {}
        for s in reversed(seqs):  # the oldest ends up first
            r = self.choose(active)
            r.queue.appendleft(s)
            touched[r.index] = r
        self._n_waiting += len(seqs)
        for r in touched.values():
            if r.phase == IDLE and r.state == READY:
                self._kick(r)
