"""Queueing-theory formulas the simulator is validated against.

Notation (all rates per second, times in seconds):

* ``lam`` λ — arrival rate of a Poisson stream;
* ``mu`` μ — service rate of one server (1 / mean service time);
* ``c`` — number of identical servers, one FIFO queue in front of them;
* ``a = λ/μ`` — offered load in Erlangs; ``ρ = a/c`` — utilization of each server.

**Erlang B** (blocking probability of M/M/c/c), by the stable recursion
``B(0) = 1``, ``B(k) = a·B(k−1) / (k + a·B(k−1))``; it never forms ``a^c`` or ``c!``,
so it is exact in floating point for thousands of servers.

**Erlang C** (probability an arrival waits in M/M/c, ρ < 1)::

    C(c, a) = c·B(c, a) / (c − a·(1 − B(c, a)))

**M/M/c** mean wait in queue and mean response time::

    Wq = C(c, a) / (c·μ − λ)          W = Wq + 1/μ

**M/M/1** (c = 1, C = ρ)::

    Wq = ρ / (μ − λ)                  W = 1 / (μ − λ)

**M/G/c** (Allen–Cunneen approximation, exact for c = 1 by Pollaczek–Khinchine)::

    Wq ≈ Wq(M/M/c) · (1 + cs²) / 2    cs = coefficient of variation of service time
"""

from __future__ import annotations

import math

from sim import checks


def _check_rates(lam: float, mu: float, c: int) -> None:
    checks.integer("c", c, 1)
    checks.non_negative("lam", lam)
    checks.positive("mu", mu)


def erlang_b(c: int, offered_load_a: float) -> float:
    """Blocking probability of M/M/c/c with offered load ``a = λ/μ`` Erlangs."""
    checks.integer("c", c, 0)
    a = checks.non_negative("offered_load_a", offered_load_a)
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(c: int, offered_load_a: float) -> float:
    """Probability that an arrival waits in M/M/c: ``c·B / (c − a·(1 − B))``.

    Returns 1.0 when ``a >= c`` (the queue is unstable: everyone waits).
    """
    a = float(offered_load_a)
    checks.integer("c", c, 1)
    if a >= c:
        return 1.0
    b = erlang_b(c, a)
    return c * b / (c - a * (1.0 - b))


def mmc_utilization(lam: float, mu: float, c: int) -> float:
    """Per-server utilization ``ρ = λ / (c·μ)``."""
    _check_rates(lam, mu, c)
    return lam / (c * mu)


def mmc_mean_wait_s(lam: float, mu: float, c: int) -> float:
    """Mean time in queue of M/M/c: ``Wq = C(c, λ/μ) / (c·μ − λ)``; ``inf`` when ρ ≥ 1."""
    _check_rates(lam, mu, c)
    if lam >= c * mu:
        return math.inf
    return erlang_c(c, lam / mu) / (c * mu - lam)


def mmc_mean_response_s(lam: float, mu: float, c: int) -> float:
    """Mean time in system of M/M/c: ``W = Wq + 1/μ``."""
    return mmc_mean_wait_s(lam, mu, c) + 1.0 / mu


def mmc_mean_queue_len(lam: float, mu: float, c: int) -> float:
    """Mean number waiting (Little's law): ``Lq = λ·Wq``."""
    wq = mmc_mean_wait_s(lam, mu, c)
    return lam * wq if math.isfinite(wq) else math.inf


def mm1_mean_wait_s(lam: float, mu: float) -> float:
    """Mean time in queue of M/M/1: ``Wq = ρ / (μ − λ)``; ``inf`` when ρ ≥ 1."""
    _check_rates(lam, mu, 1)
    if lam >= mu:
        return math.inf
    return (lam / mu) / (mu - lam)


def mm1_mean_response_s(lam: float, mu: float) -> float:
    """Mean time in system of M/M/1: ``W = 1 / (μ − λ)``; ``inf`` when ρ ≥ 1."""
    _check_rates(lam, mu, 1)
    if lam >= mu:
        return math.inf
    return 1.0 / (mu - lam)


def mgc_mean_wait_s(lam: float, mu: float, c: int, service_cv: float) -> float:
    """Approximate mean wait of M/G/c (Allen–Cunneen): ``Wq(M/M/c)·(1 + cs²)/2``.

    Exact for c = 1 (Pollaczek–Khinchine) and for exponential service (cs = 1).
    """
    checks.non_negative("service_cv", service_cv)
    return mmc_mean_wait_s(lam, mu, c) * (1.0 + service_cv**2) / 2.0
