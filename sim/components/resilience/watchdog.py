"""Per-attempt timeouts with one timer at a time, not one per attempt.

Mechanism
    The obvious way to bound an attempt is ``yield attempt | env.timeout(timeout_s)``:
    a timer and a condition event per attempt, although nearly every attempt ends long
    before its timer. Here the caller waits on the attempt alone (``yield attempt``) and
    a :class:`Watchdog` holds the deadlines. Every attempt of one component has the
    same ``timeout_s``, so deadlines arrive in the order attempts start: a FIFO queue
    is already sorted by deadline. One background process sleeps until the deadline at
    the head of the queue, drops the attempts that have ended, and interrupts the
    caller of an attempt still running at its deadline (``Process.interrupt``, the
    SimPy way to stop waiting: the caller's wait is withdrawn from the attempt, which
    keeps running). With attempts shorter than ``timeout_s`` the watchdog wakes about
    once per ``timeout_s``, so a bounded attempt costs one process instead of four
    events.

    An interrupt is delivered only while the caller still waits on that attempt: the
    watchdog interrupts only attempts that have not ended, and an attempt that ends at
    the same instant is scheduled after the (urgent) interruption. The interrupt's
    cause is the watchdog itself, so an interrupt sent by anything else is re-raised.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator
from typing import Any

import simpy

from sim import checks


class Watchdog:
    """Deadlines of running attempts, in start order; interrupts callers at the deadline."""

    def __init__(self, env: simpy.Environment, timeout_s: float) -> None:
        self._env = env
        self.timeout_s = checks.positive("timeout_s", timeout_s)
        self._queue: deque[tuple[float, simpy.Process, simpy.Process]] = deque()
        self._awake = False
        self.wakeups = 0

    def wait(self, attempt: simpy.Process) -> Generator[simpy.Event, Any, bool]:
        """Wait for ``attempt`` at most ``timeout_s``; True if the caller gave up on it."""
        env = self._env
        waiter = env.active_process
        if waiter is None:  # pragma: no cover - a stage always runs inside a process
            raise RuntimeError("Watchdog.wait must run inside a SimPy process")
        self._queue.append((env.now + self.timeout_s, attempt, waiter))
        if not self._awake:
            self._awake = True
            env.process(self._watch())
        try:
            yield attempt
        except simpy.Interrupt as exc:
            if exc.cause is not self:
                raise
            return True
        return False

    def _watch(self) -> Generator[simpy.Event, Any, None]:
        env, queue = self._env, self._queue
        while queue:
            deadline, attempt, waiter = queue[0]
            if attempt.triggered:  # ended in time: nothing to do
                queue.popleft()
            elif env.now < deadline:
                self.wakeups += 1
                yield env.timeout(deadline - env.now)
            else:
                queue.popleft()
                waiter.interrupt(self)
        self._awake = False
