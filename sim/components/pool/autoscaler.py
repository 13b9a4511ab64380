"""Autoscaler: the Kubernetes Horizontal Pod Autoscaler's rule, applied to a pool's replicas.

Every ``interval_s`` (one timeout per interval; none when autoscaling is off) it reads
one metric per ready replica and recommends, as the HPA does
(kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale, "Algorithm
details")::

    desired = ceil(ready × metric / target)      clamped to [min_replicas, max_replicas]

and no change while ``metric / target`` is within ``tolerance`` of 1. The metric:

* ``utilization`` — busy replica-seconds over ready-or-draining replica-seconds since the
  last evaluation (a replica is busy while it holds a request, whatever its batch: the
  way a GPU-utilization metric sees a server with continuous batching);
* ``queue`` — requests waiting in the pool now, per ready replica;
* ``concurrency`` — requests waiting or in service now, per ready replica (Knative's
  default scaling metric).

Only ready replicas are measured and multiplied, so replicas still in their cold start
do not make the autoscaler ask again for what is already coming (the HPA is as
conservative with pods that are not ready).

Scale up at once: the fleet provisions the missing replicas, ready ``provision_s``
later. Scale down like the HPA's stabilization window (``behavior.scaleDown.
stabilizationWindowSeconds``, default 300 s): to the *highest* recommendation of the
last ``cooldown_s``, so a scale-down comes at least ``cooldown_s`` after the last
scale-up was recommended and after the load fell. ``step`` caps how many replicas one
evaluation adds or removes. With ``min_replicas: 0`` the pool scales to zero; the next
request starts a replica at once (:meth:`~.lifecycle.Fleet.wake`, as KEDA's or Knative's
activator does — the HPA alone cannot scale from zero) and waits for its cold start.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from sim import checks


class Autoscaler:
    """Moves a pool's fleet target every ``interval_s`` (see module)."""

    def __init__(self, pool: Any, cfg: Any) -> None:
        if cfg.metric == "utilization" and cfg.target > 1:
            checks.both(
                "autoscale.target",
                cfg.target,
                "autoscale.metric",
                cfg.metric,
                "need a target <= 1 (a busy share of replica-time)",
            )
        self.pool = pool
        self.fleet = pool.fleet
        self.env = pool.env
        self.cfg = cfg
        self._recs: deque[tuple[float, int]] = deque()  # (time, recommendation)
        self._last_busy = 0.0
        self._last_serving = 0.0
        self.evaluations = 0
        self.changes: list[tuple[float, int, int]] = []  # (time, old target, new target)

    def start(self) -> None:
        """Evaluate every ``interval_s`` from now on."""
        self._last_busy = self.pool.busy_replica_s()
        self._last_serving = self.fleet.serving_s(self.env.now)
        self._schedule()

    def _schedule(self) -> None:
        timer = self.env.timeout(self.cfg.interval_s)
        timer.callbacks.append(self._tick)

    def _tick(self, _event: Any) -> None:
        self.evaluate()
        self._schedule()

    def recommend(self, n: int) -> None:
        """Remember a recommendation (the stabilization window keeps the last ``cooldown_s``)."""
        self._recs.append((self.env.now, n))

    def metric(self) -> float | None:
        """The metric per ready replica now (None when nothing is ready to measure)."""
        pool, cfg = self.pool, self.cfg
        if cfg.metric == "utilization":
            now = self.env.now
            busy, serving = pool.busy_replica_s(), self.fleet.serving_s(now)
            d_busy, d_serving = busy - self._last_busy, serving - self._last_serving
            self._last_busy, self._last_serving = busy, serving
            return d_busy / d_serving if d_serving > 0 and pool.ready else None
        if not pool.ready:
            return None
        waiting = pool.queue_len + (pool.running if cfg.metric == "concurrency" else 0)
        return waiting / pool.ready

    def desired(self, value: float) -> int:
        """The HPA's recommendation for a metric value, clamped to [min, max]."""
        cfg = self.cfg
        ratio = value / cfg.target
        if abs(ratio - 1.0) <= cfg.tolerance:
            n = self.fleet.target
        else:
            n = math.ceil(self.pool.ready * ratio - 1e-9)
        return min(max(n, cfg.min_replicas), cfg.max_replicas)

    def evaluate(self) -> None:
        """One evaluation: recommend, then scale up at once or down after the window."""
        self.evaluations += 1
        cfg, fleet, now = self.cfg, self.fleet, self.env.now
        value = self.metric()
        if value is None:
            return  # nothing ready: a cold start is under way, or nothing is asked
        want = self.desired(value)
        self.recommend(want)
        recs = self._recs
        while recs and recs[0][0] < now - cfg.cooldown_s:
            recs.popleft()
        current = fleet.target
        if want > current:
            new = want if cfg.step is None else min(want, current + cfg.step)
        else:
            stable = max(n for _, n in recs)  # the highest recommendation of the window
            if stable >= current:
                return
            new = stable if cfg.step is None else max(stable, current - cfg.step)
        self.changes.append((now, current, new))
        fleet.set_target(new)
