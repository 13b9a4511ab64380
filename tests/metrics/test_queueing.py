"""Queueing formulas against textbook values and identities."""

from __future__ import annotations

import math

import pytest

from sim.metrics.queueing import (
    erlang_b,
    erlang_c,
    mgc_mean_wait_s,
    mm1_mean_response_s,
    mm1_mean_wait_s,
    mmc_mean_queue_len,
    mmc_mean_response_s,
    mmc_mean_wait_s,
    mmc_utilization,
)


def _erlang_c_direct(c: int, a: float) -> float:
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


@pytest.mark.parametrize("c, a", [(1, 0.5), (2, 1.5), (4, 3.2), (10, 8.0), (30, 27.0)])
def test_erlang_c_matches_direct_formula(c, a):
    assert erlang_c(c, a) == pytest.approx(_erlang_c_direct(c, a), rel=1e-10)


def test_known_values():
    assert erlang_b(1, 1.0) == pytest.approx(0.5)
    assert erlang_b(2, 1.0) == pytest.approx(0.2)
    assert erlang_c(1, 0.7) == pytest.approx(0.7)  # M/M/1: P(wait) = rho
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)


def test_stable_for_large_c():
    c = 1000
    p = erlang_c(c, 0.95 * c)
    assert 0.0 < p < 1.0 and math.isfinite(p)
    assert erlang_c(c, 0.5 * c) < 1e-50
    assert erlang_c(c, 1.1 * c) == 1.0


def test_mm1_is_mmc_with_one_server():
    lam, mu = 0.8, 1.0
    assert mmc_mean_wait_s(lam, mu, 1) == pytest.approx(mm1_mean_wait_s(lam, mu))
    assert mm1_mean_wait_s(lam, mu) == pytest.approx(4.0)
    assert mm1_mean_response_s(lam, mu) == pytest.approx(5.0)
    assert mmc_mean_response_s(lam, mu, 1) == pytest.approx(5.0)


def test_mmc_identities():
    lam, mu, c = 3.2, 1.0, 4
    wq = mmc_mean_wait_s(lam, mu, c)
    assert wq == pytest.approx(erlang_c(c, 3.2) / (c * mu - lam))
    assert mmc_mean_queue_len(lam, mu, c) == pytest.approx(lam * wq)
    assert mmc_utilization(lam, mu, c) == pytest.approx(0.8)
    assert mgc_mean_wait_s(lam, mu, c, 1.0) == pytest.approx(wq)
    assert mgc_mean_wait_s(lam, mu, c, 0.0) == pytest.approx(wq / 2)


def test_unstable_queue_waits_forever():
    assert mmc_mean_wait_s(5.0, 1.0, 4) == math.inf
    assert mm1_mean_response_s(1.0, 1.0) == math.inf


@pytest.mark.parametrize(
    "args, match", [((1.0, 0.0, 2), "mu"), ((1.0, 1.0, 0), "c"), ((-1, 1.0, 2), "lam")]
)
def test_bad_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        mmc_mean_wait_s(*args)
