"""The fleet: replicas created, drained, crashed, preempted and released over time.

Target
    The fleet keeps ``target`` replicas *live* — provisioning, ready or down — like a
    Kubernetes ReplicaSet keeps its pod count. A fixed fleet's target never changes;
    the autoscaler (:mod:`.autoscaler`) moves it. Raising it provisions new replicas at
    once: each is billed from that moment and becomes READY ``provision_s`` later (the
    cold start: instance start, image pull, weight load). Lowering it drains replicas,
    cheapest to lose first: still provisioning (cancelled), down, idle, then the ones
    holding the fewest requests. A draining replica takes no new work and is released
    when it holds none. A request that finds no live replica at all (scaled to zero)
    starts one at once and waits for it, its cold start included in its latency.

Crashes (``crash.mtbf_h``)
    Each READY replica crashes after an exponential time with mean ``mtbf_h`` (its own
    random stream ``pools.NAME.crash``). A crash loses every request the replica holds —
    its batch and, with a per-replica balancer, its own queue: they go back to the
    head of the queue and prefill again (``on_crash: requeue``; their progress is lost)
    or fail with reason ``NAME:crash``. The replica is DOWN for ``restart_s`` (billed,
    not replaced) and READY again, with an empty prefix cache.

Spot capacity (``spot.share``)
    That share of the live replicas is spot, billed at ``1 - discount`` of the price
    (:mod:`.billing`). Each spot replica is preempted after an exponential time at
    ``preemptions_per_h`` (stream ``pools.NAME.spot``). At the notice it stops taking
    work (DRAINING) and the fleet starts a replacement, so the target is kept; after
    ``notice_s`` it disappears, and whatever it still holds is re-queued at the head or
    fails with reason ``NAME:preempted`` (``on_preempt``). What completed during the
    notice is not lost.

Events: one timeout per cold start, per crash, per restart, per preemption notice and
per reclaim; none when these are off. Statistics count what happens after the warm-up.
"""

from __future__ import annotations

import math
from typing import Any

from sim import checks
from sim.components.pool.replica import (
    DOWN,
    DRAINING,
    PROVISIONING,
    READY,
    RELEASED,
    Replica,
    Seq,
)

LOSS_REASONS = {"crash": "crash", "preemption": "preempted"}


class Fleet:
    """The replicas of one pool and their life cycle (see module)."""

    def __init__(
        self,
        pool: Any,
        *,
        replicas: int,
        provision_s: float,
        autoscale: Any,
        spot: Any,
        crash: Any,
    ) -> None:
        self.pool = pool
        self.env = pool.env
        self.billing = pool.billing
        self.name = pool.name
        self.provision_s = checks.non_negative("provision_s", provision_s)
        self.autoscale = autoscale
        self.spot = spot
        self.crash_cfg = crash
        self._warmup_s = pool.ctx.warmup_s
        initial = checks.integer("replicas", replicas, 1)
        if autoscale.enabled:
            if autoscale.min_replicas > autoscale.max_replicas:
                checks.both(
                    "autoscale.min_replicas",
                    autoscale.min_replicas,
                    "autoscale.max_replicas",
                    autoscale.max_replicas,
                    "need min_replicas <= max_replicas",
                )
            initial = min(max(initial, autoscale.min_replicas), autoscale.max_replicas)
        self.target = initial
        self.replicas: list[Replica] = []  # every replica not released, oldest first
        self._index = 0
        self._n_live = 0  # provisioning, ready or down: what the target counts
        self._n_spot_live = 0
        self._serving = 0  # ready or draining: what can be busy (the autoscaler's utilization)
        self._serving_since = 0.0
        self._serving_area = 0.0
        ctx = pool.ctx
        self._crash_rng = ctx.rng.stream(f"pools.{self.name}.crash") if crash.mtbf_h else None
        self._spot_rng = (
            ctx.rng.stream(f"pools.{self.name}.spot")
            if spot.share > 0 and spot.preemptions_per_h > 0
            else None
        )
        # statistics (after the warm-up)
        self.scale_ups = 0
        self.scale_downs = 0
        self.started = 0  # replicas provisioned during the run (scale-ups, replacements)
        self.cold_start_s = 0.0  # replica-seconds spent provisioning
        self.crashes = 0
        self.preemptions = 0
        self.requeued = {"crash": 0, "preemption": 0}
        self.failed = {"crash": 0, "preemption": 0}
        self.peak = 0
        # (time, what, replica index) of every life-cycle event: provision, ready, drain,
        # release, crash, restart, notice (the first replicas are ready at 0 unlogged)
        self.events: list[tuple[float, str, int]] = []

        n_spot = self._spot_quota(initial)
        first = [self._spawn(i >= initial - n_spot, READY, 0.0) for i in range(initial)]
        self._set_serving(len(first))
        pool.join_initial(first)

    # -- counts ---------------------------------------------------------------------------
    @property
    def live(self) -> int:
        """Replicas the target counts: provisioning, ready or down."""
        return self._n_live

    def serving_s(self, now: float) -> float:
        """Replica-seconds spent ready or draining, from time 0 to ``now``."""
        return self._serving_area + self._serving * (now - self._serving_since)

    def _set_serving(self, delta: int) -> None:
        now = self.env.now
        self._serving_area += self._serving * (now - self._serving_since)
        self._serving_since = now
        self._serving += delta

    def _spot_quota(self, target: int) -> int:
        return math.floor(self.spot.share * target + 0.5)

    def _counts(self) -> bool:
        return self.env.now >= self._warmup_s

    # -- creation and release --------------------------------------------------------------
    def _spawn(self, spot: bool, state: int, t: float) -> Replica:
        r = self.pool.new_replica(self._index, spot, state, t)
        self._index += 1
        self.billing.provision(spot, t)
        self.replicas.append(r)
        self._n_live += 1
        self._n_spot_live += spot
        self.peak = max(self.peak, self.billing.provisioned())
        return r

    def start(self) -> None:
        """Arm the crash and preemption timers of the first replicas."""
        for r in self.replicas:
            self._arm_preemption(r)
            if r.state == READY:
                self._arm_crash(r)

    def _provision(self) -> Replica:
        """Ask for one more replica: billed now, READY after the cold start."""
        spot = self._n_spot_live < self._spot_quota(self.target)
        r = self._spawn(spot, PROVISIONING, self.env.now)
        self.events.append((self.env.now, "provision", r.index))
        if self._counts():
            self.started += 1
        timer = self.env.timeout(self.provision_s)
        timer.callbacks.append(lambda _e, r=r, life=r.life: self._on_ready(r, life))
        self._arm_preemption(r)
        return r

    def _on_ready(self, r: Replica, life: int) -> None:
        if life != r.life or r.state != PROVISIONING:
            return
        if self._counts():
            self.cold_start_s += self.env.now - max(r.born_at, self._warmup_s)
        r.state = READY
        self.events.append((self.env.now, "ready", r.index))
        self._set_serving(+1)
        self._arm_crash(r)
        self.pool.join(r)

    def _release(self, r: Replica) -> None:
        if r.state in (READY, DRAINING):
            self._set_serving(-1)
        if r.state == PROVISIONING and self._counts():  # a cancelled cold start
            self.cold_start_s += self.env.now - max(r.born_at, self._warmup_s)
        r.state = RELEASED
        self.events.append((self.env.now, "release", r.index))
        r.life += 1
        self.replicas.remove(r)
        self.billing.release(r.spot, r.born_at, self.env.now)

    def _unlive(self, r: Replica) -> None:
        """``r`` no longer counts toward the target."""
        self._n_live -= 1
        self._n_spot_live -= r.spot

    # -- the target -------------------------------------------------------------------------
    def set_target(self, n: int) -> None:
        """Keep ``n`` replicas live: provision the missing ones, drain the extra ones."""
        n = checks.integer("target", n, 0)
        if n == self.target and n == self._n_live:
            return
        if self._counts():
            if n > self.target:
                self.scale_ups += 1
            elif n < self.target:
                self.scale_downs += 1
        self.target = n
        while self._n_live < n:
            self._provision()
        if self._n_live > n:
            for r in self._victims(self._n_live - n):
                self._drain(r)

    def _victims(self, k: int) -> list[Replica]:
        """The ``k`` live replicas cheapest to lose (cold starts, down, idle, least loaded)."""
        order = {PROVISIONING: 0, DOWN: 1, READY: 2}
        pool = self.pool
        live = [r for r in self.replicas if r.state in order and not r.deadline]
        live.sort(key=lambda r: (order[r.state], pool.outstanding(r), -r.born_at))
        return live[:k]

    def _drain(self, r: Replica) -> None:
        self.events.append((self.env.now, "drain", r.index))
        self._unlive(r)
        if r.state in (PROVISIONING, DOWN):
            self._release(r)
            return
        r.state = DRAINING  # still serving: it finishes what it holds
        self.pool.leave(r)
        if self.pool.is_empty(r):
            self._release(r)

    def emptied(self, r: Replica) -> None:
        """The pool's hook: the DRAINING replica ``r`` just finished its last request."""
        if r.state == DRAINING and self.pool.is_empty(r):
            self._release(r)

    def wake(self) -> None:
        """A request waits and no replica is live (scaled to zero): start one now."""
        if self._n_live == 0:
            self.set_target(max(self.target, 1))
            if self.pool.autoscaler is not None:
                self.pool.autoscaler.recommend(self.target)

    # -- losing requests ---------------------------------------------------------------------
    def _lose(self, seqs: list[Seq], cause: str, policy: str) -> None:
        warm = self._warmup_s
        n = sum(1 for s in seqs if s.req.arrived_at >= warm)
        if policy == "requeue":
            self.requeued[cause] += n
            self.pool.requeue(seqs)
        else:
            self.failed[cause] += n
            self.pool.fail(seqs, f"{self.name}:{LOSS_REASONS[cause]}")

    # -- crashes --------------------------------------------------------------------------
    def _arm_crash(self, r: Replica) -> None:
        if self._crash_rng is None:
            return
        delay = self._crash_rng.exponential(self.crash_cfg.mtbf_h * 3600.0)
        timer = self.env.timeout(delay)
        timer.callbacks.append(lambda _e, r=r, life=r.life: self._on_crash(r, life))

    def _on_crash(self, r: Replica, life: int) -> None:
        if life == r.life:
            self.crash(r)

    def crash(self, r: Replica) -> None:
        """``r`` crashes now (fault injection): its requests are lost, it restarts."""
        if r.state not in (READY, DRAINING):
            return
        self.events.append((self.env.now, "crash", r.index))
        if self._counts():
            self.crashes += 1
        was_ready = r.state == READY
        if was_ready:
            self.pool.leave(r)
        seqs = self.pool.evict(r)
        r.life += 1  # its crash timer is spent
        if was_ready:
            r.state = DOWN
            self._set_serving(-1)
            timer = self.env.timeout(self.crash_cfg.restart_s)
            timer.callbacks.append(lambda _e, r=r, life=r.life: self._on_restart(r, life))
        else:
            self._release(r)
        self._lose(seqs, "crash", self.crash_cfg.on_crash)

    def _on_restart(self, r: Replica, life: int) -> None:
        if life != r.life or r.state != DOWN:
            return
        r.state = READY
        self.events.append((self.env.now, "restart", r.index))
        self._set_serving(+1)
        self._arm_crash(r)
        self.pool.join(r)

    # -- spot preemptions ----------------------------------------------------------------
    def _arm_preemption(self, r: Replica) -> None:
        if self._spot_rng is None or not r.spot:
            return
        delay = self._spot_rng.exponential(3600.0 / self.spot.preemptions_per_h)
        timer = self.env.timeout(delay)
        timer.callbacks.append(lambda _e, r=r: self.preempt(r))

    def preempt(self, r: Replica) -> None:
        """A preemption notice for ``r`` now (fault injection too): it goes after ``notice_s``."""
        if r.state == RELEASED or r.deadline:
            return
        self.events.append((self.env.now, "notice", r.index))
        if self._counts():
            self.preemptions += 1
        r.deadline = True
        if r.state != DRAINING:  # it counted toward the target: replace it
            self._unlive(r)
            while self._n_live < self.target:
                self._provision()
        if r.state in (PROVISIONING, DOWN):
            self._release(r)
            return
        if r.state == READY:
            r.state = DRAINING
            self.pool.leave(r)
            if self.pool.is_empty(r):
                self._release(r)
                return
        timer = self.env.timeout(self.spot.notice_s)
        timer.callbacks.append(lambda _e, r=r, life=r.life: self._on_reclaim(r, life))

    def _on_reclaim(self, r: Replica, life: int) -> None:
        if life != r.life or r.state == RELEASED:
            return
        seqs = self.pool.evict(r)
        self._release(r)
        self._lose(seqs, "preemption", self.spot.on_preempt)

    # -- reports ---------------------------------------------------------------------------
    @property
    def dynamic(self) -> bool:
        """Whether the number of replicas can change (autoscaling, spot, crashes)."""
        return bool(self.autoscale.enabled or self.spot.share > 0 or self.crash_cfg.mtbf_h)

    def report(self) -> dict[str, Any] | None:
        """The fleet over the measured window; None for a fixed fleet that cannot change."""
        if not self.dynamic:
            return None
        b = self.billing
        measured = self.pool.ctx.measured_s
        provisioned_s = sum(b.replica_s.values())  # from the bills of the measured window
        return {
            "autoscaler": bool(self.autoscale.enabled),
            "target_at_end": self.target,
            "scale_ups": self.scale_ups,
            "scale_downs": self.scale_downs,
            "replicas_started": self.started,
            "peak_replicas": self.peak,
            "mean_replicas": float(provisioned_s / measured) if measured > 0 else None,
            "replica_hours": float(b.billed_replica_s() / 3600.0),
            "spot_replica_hours": float((b.replica_s[True] + b.surplus_s[True]) / 3600.0),
            "busy_replica_hours": float(sum(b.busy_s_billed.values()) / 3600.0),
            "cold_start_s": float(self.cold_start_s),
        }

    def resilience(self) -> dict[str, Any] | None:
        """Crashes, preemptions and the requests each re-queued or failed (after the warm-up)."""
        injected = self.crashes or self.preemptions
        if not (self.spot.share > 0 or self.crash_cfg.mtbf_h or injected):
            return None
        return {
            "crashes": self.crashes,
            "preemptions": self.preemptions,
            "requeued_by_crash": self.requeued["crash"],
            "failed_by_crash": self.failed["crash"],
            "requeued_by_preemption": self.requeued["preemption"],
            "failed_by_preemption": self.failed["preemption"],
        }
