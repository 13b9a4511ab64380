"""Property-based: random *valid* knob values never break request or dollar conservation.

Each example composes a scenario with Hydra-style override strings (as a user would type
them), runs a short horizon and checks, whatever the knobs:

* requests: ``arrived == completed + failed + dropped + in_flight``, every count >= 0,
  the failure reasons add up to ``failed + dropped``, one latency sample per completion;
* dollars: total == sum of layers == sum over components == sum of the measured ledger
  rows; nothing negative or NaN;
* a self-hosted pool bills every provisioned second: its inference + infrastructure
  equal replicas x devices x price per device-hour x measured hours;
* latency statistics are null or positive, utilizations null or in [0, 1].

Knob values span each field's range as declared with ``knob(...)`` in :mod:`sim.config`
(bounds included), except where a value only makes a run slow (traffic is kept to a few
thousand requests per run) and below :data:`MIN_DURATION_S` / :data:`MIN_RATE_RPS`, where
known bugs are pinned instead (``SUB_RESOLUTION``). A combination the simulator refuses
with a one-line ``ConfigError`` is discarded. Examples are derandomized, so a CI failure
reproduces locally; a failing example prints its overrides (``note``) and reruns with
:func:`sim.compose.run_scenario`. A run that runs away (a hang, memory without bound)
fails after :data:`RUN_LIMIT_S` seconds or :data:`RUN_LIMIT_BYTES` more memory instead of
freezing the machine. ``pytest --hypothesis-show-statistics`` shows how many examples saw
arrivals, failures, drops and requests left in flight.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import (
    HealthCheck,
    currently_in_test_context,
    event,
    given,
    note,
    reject,
    settings,
)
from hypothesis import strategies as st
from omegaconf import OmegaConf

from sim.checks import ConfigError
from sim.compose import run_scenario
from sim.costs.layers import LAYERS
from sim.paths import configs_dir

SETTINGS = dict(
    deadline=None,  # run time varies with the knobs; bounded_run() stops runaways
    derandomize=True,  # the same examples everywhere: a CI failure reproduces locally
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
RUN_LIMIT_S = 6.0  # a short run takes under a second (the first ~1.5 s: imports, JIT)
RUN_LIMIT_BYTES = 512 << 20  # memory (RSS) one run may add; a short run adds < 200 MiB

API_MODELS = sorted(OmegaConf.load(configs_dir() / "api_models" / "default.yaml"))
# 80 GB devices: each model below fits one of them, with KV room, at kv_memory_fraction >= 0.6
BIG_GPUS = [
    "a100_80gb_sxm_2023",
    "a100_80gb_sxm",
    "h100_sxm_80gb_2023",
    "h100_sxm_80gb",
    "h100_sxm_80gb_capacity_block_2024",
]
POOL_MODELS = ["starcoder_15b", "codellama_7b", "codellama_13b", "mistral_7b", "tinyllama_1_1b"]


# -- override strings ------------------------------------------------------------------
def value(v: Any) -> str:
    """A Python value as a Hydra override value."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(value(x) for x in v) + "]"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def overrides(knobs: dict[str, Any]) -> list[str]:
    return [f"{k}={value(v)}" for k, v in knobs.items()]


def floats(lo: float, hi: float, **kw: Any) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, **kw)


def positive(hi: float) -> st.SearchStrategy[float]:
    """Any finite float in (0, hi]: the rule ``gt=0``, subnormals included."""
    return floats(0.0, hi, exclude_min=True)


# Durations and rates below these are valid per the schema but below the resolution of
# simulated time (floats near t ~ 1e5 s are ~1e-11 s apart): they break runs in ways pinned
# in test_sub_resolution_values_are_refused_or_simulated, so the generated examples stay
# above them until the simulator refuses or handles such values (then drop the floors).
MIN_DURATION_S = 1e-6
MIN_RATE_RPS = 1e-6


def duration(lo_s: float, hi_s: float) -> st.SearchStrategy[float]:
    """A duration in (0, hi_s], at least ``lo_s`` and :data:`MIN_DURATION_S`."""
    return floats(max(lo_s, MIN_DURATION_S), hi_s)


def rate(hi: float) -> st.SearchStrategy[float]:
    """A rate in (0, hi], at least :data:`MIN_RATE_RPS` (per second or per user-day);
    half the time in the top decade, so that most runs see traffic."""
    return st.one_of(floats(min(MIN_RATE_RPS, hi), hi), floats(hi / 10, hi))


# -- strategies ------------------------------------------------------------------------
@st.composite
def run_knobs(draw: Any, max_horizon_s: float = 7200.0) -> dict[str, Any]:
    """seed, horizon, warm-up and bucket width (warmup_s < horizon_s)."""
    horizon = draw(
        st.one_of(
            st.integers(60, int(max_horizon_s)),
            floats(60.0, max_horizon_s),
            floats(max_horizon_s / 2, max_horizon_s),  # long enough for traffic
        )
    )
    warmup = draw(st.one_of(st.just(0), floats(0.0, float(horizon), exclude_max=True)))
    bucket = draw(st.one_of(st.just(0), floats(horizon / 300.0, 2.0 * horizon)))
    return {
        "seed": draw(st.integers(0, 2**31)),
        "horizon_s": horizon,
        "warmup_s": warmup,
        "bucket_s": bucket,
        "progress": False,
        "plots": False,
    }


@st.composite
def token_knobs(draw: Any, kinds: tuple[str, ...] = ("lognormal", "fixed", "trace")) -> dict:
    kind = draw(st.sampled_from(kinds))
    k: dict[str, Any] = {"workload.tokens.kind": kind}
    if kind == "trace":
        return k
    for side, hi in (("prompt", 20000.0), ("output", 2000.0)):
        if kind == "fixed":  # rounded to a whole number, which must be >= 1
            k[f"workload.tokens.{side}_median"] = draw(floats(1.0, hi))
            continue
        lo_n, hi_n = sorted(draw(st.lists(st.integers(1, 40000), min_size=2, max_size=2)))
        # no upper bound in the rules: now and then far beyond any real request
        k[f"workload.tokens.{side}_median"] = draw(st.one_of(positive(hi), floats(hi, 1e300)))
        k[f"workload.tokens.{side}_sigma"] = draw(st.one_of(floats(0.0, 3.0), floats(3.0, 1e300)))
        k[f"workload.tokens.{side}_min"] = lo_n
        k[f"workload.tokens.{side}_max"] = hi_n
    return k


@st.composite
def session_knobs(draw: Any, max_users: int, max_per_day: float, short_s: float = 0.0) -> dict:
    """The session model; workdays and active periods of at least ``short_s``."""
    s = "workload.sessions."
    start_h = draw(floats(0.0, 24.0, exclude_max=True))
    hours = draw(duration(short_s, 86400.0)) / 3600.0
    if draw(st.booleans()):  # during someone's working day (Monday..Friday): requests
        day = draw(st.integers(0, 4))
        clock_h = min(day * 24 + start_h + draw(floats(0.0, min(hours, 4.0))), 167.0)
    else:  # any time of the week, often a quiet night or weekend
        clock_h = draw(floats(0.0, 168.0, exclude_max=True))
    return {
        "workload.arrival": "sessions",
        "workload.users": draw(st.one_of(st.integers(1, max_users), st.just(max_users))),
        "workload.clock_start_h": clock_h,
        s + "requests_per_user_day": draw(rate(max_per_day)),
        s + "workday_start_h": start_h,
        s + "workday_hours": hours,
        s + "start_jitter_h": draw(st.one_of(floats(0.0, 24.0), floats(0.0, 1.5))),
        s + "weekend_factor": draw(floats(0.0, 1.0)),
        s + "active_period_s": draw(duration(short_s, 7200.0)),
        s + "idle_period_s": draw(floats(0.0, 7200.0)),
        s + "timezone_spread_h": draw(st.one_of(floats(0.0, 24.0), st.just(0.0))),
    }


@st.composite
def api_knobs(draw: Any, name: str = "llm") -> dict:
    a = f"apis.{name}."
    return {
        a + "model": draw(st.sampled_from(API_MODELS)),
        a + "error_prob": draw(floats(0.0, 0.9)),
        a + "rpm_limit": draw(st.one_of(st.none(), st.integers(1, 600), floats(1.0, 600.0))),
        # below the median request (prompt + output) a TPM limit is refused: mostly above
        a + "tpm_limit": draw(
            st.one_of(st.none(), floats(100.0, 200_000.0), floats(30_000.0, 200_000.0))
        ),
        a + "on_limit": draw(st.sampled_from(["queue", "reject"])),
        a + "max_queue_s": draw(floats(0.0, 120.0)),
    }


@st.composite
def demo_sessions(draw: Any) -> list[str]:
    """The hosted-API prototype, users working in sessions."""
    k = draw(run_knobs())
    k |= draw(session_knobs(max_users=30, max_per_day=500.0))
    k |= draw(token_knobs())
    k |= draw(api_knobs())
    return overrides(k)


@st.composite
def demo_arrivals(draw: Any, kinds: tuple[str, ...]) -> list[str]:
    """The hosted-API prototype fed by one of ``kinds`` (poisson, diurnal, mmpp, trace)."""
    k = draw(run_knobs(max_horizon_s=3600.0))
    horizon = float(k["horizon_s"])
    budget = 3000.0 / horizon  # a mean rate that keeps a run to a few thousand requests
    kind = draw(st.sampled_from(kinds))
    k["workload.arrival"] = kind
    k["workload.clock_start_h"] = draw(floats(0.0, 168.0, exclude_max=True))
    if kind == "poisson":
        k["workload.rate_rps"] = draw(rate(min(5.0, budget)))
    if kind == "diurnal":  # a peak hour may be 24 x 7 times the mean: keep the mean low
        k["workload.rate_rps"] = draw(rate(min(5.0, budget) / 20))
        profile = floats(0.0, 10.0)
        k["workload.diurnal.hourly"] = draw(st.lists(profile, min_size=24, max_size=24).filter(any))
        k["workload.diurnal.weekly"] = draw(st.lists(profile, min_size=7, max_size=7).filter(any))
    if kind == "mmpp":
        n = draw(st.integers(2, 3))
        rates = st.lists(floats(0.0, min(5.0, budget)), min_size=n, max_size=n).filter(any)
        k["workload.mmpp.rates_rps"] = draw(rates)
        # sojourns below ~0.1 s only make a run slow (one step per change of state)
        k["workload.mmpp.mean_sojourn_s"] = draw(
            st.lists(floats(0.1, 3600.0), min_size=n, max_size=n)
        )
    if kind == "trace":  # the shipped code trace: about 2.5 requests/s
        top = min(1.0, budget / 2.5)
        k["workload.trace.speedup"] = draw(st.one_of(positive(top), floats(top / 10, top)))
        k["workload.trace.loop"] = draw(st.booleans())
    k |= draw(token_knobs())
    k |= draw(api_knobs())
    if draw(st.booleans()):
        k["path"] = ["llm", "llm"]  # the same component twice on the path
    return overrides(k)


@st.composite
def copilot(draw: Any) -> list[str]:
    """The self-hosted GPU pool (sometimes with the hosted API on the path as well)."""
    k = draw(run_knobs())
    # the session model's own edge cases are test_demo_sessions' job; here it brings load
    k |= draw(session_knobs(max_users=300, max_per_day=200.0, short_s=60.0))
    if draw(st.booleans()):  # the scenario's sessions (9:00 for 8 h) and trace tokens
        k = {x: v for x, v in k.items() if not x.startswith("workload.sessions.")}
        # mostly around working hours on weekdays, when the pool is busy
        k["workload.clock_start_h"] = draw(
            st.one_of(floats(7.0, 12.0), floats(0.0, 168.0, exclude_max=True))
        )
    else:
        k |= draw(token_knobs())
    p = "pools.gpu."
    if draw(st.booleans()):  # else the scenario's sizing rule ${ceil_div:users,250}
        k[p + "replicas"] = draw(st.integers(1, 4))
    k[p + "max_batch_size"] = draw(st.integers(1, 128))
    k[p + "max_queue"] = draw(st.integers(0, 500))
    k[p + "hardware"] = draw(st.sampled_from(BIG_GPUS))
    k[p + "model"] = draw(st.sampled_from(POOL_MODELS))
    k[p + "devices_per_replica"] = draw(st.integers(1, 2))
    k[p + "precision"] = draw(st.sampled_from(["fp16", "int8"]))
    latency = draw(st.sampled_from(["roofline", "exponential", "lognormal"]))
    k[p + "latency"] = latency
    if latency == "roofline":
        k[p + "kv_memory_fraction"] = draw(floats(0.6, 1.0))
        k[p + "prefill_efficiency"] = draw(floats(0.05, 1.0))
        k[p + "decode_efficiency"] = draw(floats(0.05, 1.0))
        k[p + "step_overhead_s"] = draw(floats(0.0, 0.05))
    else:
        k[p + "service_mean_s"] = draw(duration(0.0, 2.0))
        k[p + "service_cv"] = draw(floats(0.0, 3.0))
    path = draw(st.sampled_from([["gpu"], ["gpu"], ["gpu", "api"], ["api", "gpu"]]))
    k["path"] = path
    if "api" in path:
        k |= draw(api_knobs("api"))
    return overrides(k)


# -- running one example ---------------------------------------------------------------
class RunawayRun(AssertionError):
    """A short run that did not finish in time: a hang or an endless stream of events."""


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


@contextlib.contextmanager
def bounded_run() -> Iterator[None]:
    """Fail a runaway run after :data:`RUN_LIMIT_S` or :data:`RUN_LIMIT_BYTES` of new memory.

    A timer signal checks both a few times a second and raises :class:`RunawayRun` in the
    run's Python code (an address-space limit instead would make C extensions abort).
    Without POSIX timers, or off the main thread, the run is not bounded.
    """
    if (
        not hasattr(signal, "setitimer")
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return
    t0, rss0 = time.monotonic(), _rss_bytes()

    def _check(signum: int, frame: Any) -> None:
        if time.monotonic() - t0 > RUN_LIMIT_S:
            raise RunawayRun(f"the run took more than {RUN_LIMIT_S:g} s")
        rss = _rss_bytes()
        if rss0 is not None and rss is not None and rss - rss0 > RUN_LIMIT_BYTES:
            raise RunawayRun(f"the run took {(rss - rss0) / 2**30:.1f} GiB more memory")

    old_handler = signal.signal(signal.SIGALRM, _check)
    signal.setitimer(signal.ITIMER_REAL, 0.1, 0.1)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)


# -- properties ------------------------------------------------------------------------
def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def ok_usd(x: Any) -> bool:
    return isinstance(x, float) and math.isfinite(x) and x >= 0.0


def check_run(scenario: str, knobs: list[str], *, refused_ok: bool = True) -> dict[str, Any]:
    """Run ``scenario`` with ``knobs`` and assert every conservation property.

    Every field is within its rule, but a combination may still be refused with a
    one-line :class:`ConfigError` (a TPM limit below the median request, a pool whose KV
    cache cannot hold it); such an example is discarded (``refused_ok``) and counted.
    """
    generated = currently_in_test_context()  # a hypothesis example, not a pinned case
    if generated:
        note(f"run_scenario({scenario!r}, {knobs!r})")
    try:
        with bounded_run():
            result = run_scenario(scenario, knobs)
    except ConfigError as exc:
        if not refused_ok:
            raise
        event(f"refused: {str(exc).split('=')[0]}")
        reject()
    s = result.summary

    req = s["requests"]
    for outcome in ("arrived", "failed", "dropped", "in_flight"):
        if generated:  # coverage, shown by pytest --hypothesis-show-statistics
            event(f"{outcome} > 0" if req[outcome] else f"{outcome} == 0")
    assert all(isinstance(v, int) and v >= 0 for v in req.values()), req
    assert req["arrived"] == req["completed"] + req["failed"] + req["dropped"] + req["in_flight"]
    assert sum(s["outcomes"].values()) == req["failed"] + req["dropped"], (s["outcomes"], req)
    assert s["latency_s"]["n"] == req["completed"]
    if s["ttft_s"] is not None:
        assert s["ttft_s"]["n"] <= req["completed"]

    cost = s["cost_usd"]
    total, by_layer = cost["total"], cost["by_layer"]
    assert list(by_layer) == list(LAYERS)
    assert ok_usd(total), total
    assert all(ok_usd(v) for v in by_layer.values()), by_layer
    assert close(total, sum(by_layer.values()))
    per_comp = [v for c in cost["by_component"].values() for v in c.values()]
    assert all(ok_usd(v) for v in per_comp), cost["by_component"]
    assert close(total, sum(per_comp))
    warmup = s["warmup_s"]
    measured_rows = [r for r in result.ledger_rows if not (warmup > 0 and r[1] <= warmup)]
    assert all(ok_usd(r[4]) for r in result.ledger_rows)
    assert close(total, sum(r[4] for r in measured_rows))
    for layer, row in s["layers"].items():
        assert row["usd"] == by_layer[layer]

    for stats in (s["latency_s"], s["ttft_s"]):
        if stats is None:
            continue
        for key in ("mean", "p50", "p95", "p99", "max"):
            v = stats[key]
            assert v is None or (math.isfinite(v) and v > 0), (key, v)
    for name, u in s["utilization"].items():
        for v in u.values():
            assert v is None or 0.0 <= v <= 1.0 + 1e-9, (name, u)
    return s


def provisioned_usd(s: dict[str, Any], pool: str) -> float:
    cfg = s["config"]
    pc = cfg["pools"][pool]
    usd_per_hour = cfg["hardware"][pc["hardware"]]["usd_per_hour"] * pc["devices_per_replica"]
    fleet = (s["components"].get(pool) or {}).get("autoscaling")
    if fleet is None:  # a fixed fleet: every replica for the whole window
        return pc["replicas"] * usd_per_hour * s["measured_s"] / 3600.0
    # a fleet that changed: the replica-hours it billed, spot ones at their discount
    spot = fleet["spot_replica_hours"]
    on_demand = fleet["replica_hours"] - spot
    return (on_demand + spot * (1.0 - pc["spot"]["discount"])) * usd_per_hour


@settings(max_examples=25, **SETTINGS)
@given(demo_sessions())
def test_demo_sessions_conserve_requests_and_dollars(knobs):
    s = check_run("demo", knobs)
    assert s["cost_usd"]["by_layer"]["infrastructure"] == 0.0  # nothing is provisioned


@settings(max_examples=25, **SETTINGS)
@given(demo_arrivals(kinds=("poisson", "diurnal", "mmpp", "trace")))
def test_demo_other_arrivals_conserve_requests_and_dollars(knobs):
    s = check_run("demo", knobs)
    assert s["cost_usd"]["by_layer"]["infrastructure"] == 0.0  # nothing is provisioned


@settings(max_examples=25, **SETTINGS)
@given(copilot())
def test_copilot_pool_bills_every_provisioned_second(knobs):
    s = check_run("copilot_like", knobs)
    gpu = s["cost_usd"]["by_component"]["gpu"]
    provisioned = provisioned_usd(s, "gpu")
    assert close(gpu.get("inference", 0.0) + gpu.get("infrastructure", 0.0), provisioned)
    if s["config"]["path"] == ["gpu"]:
        by_layer = s["cost_usd"]["by_layer"]
        assert close(by_layer["inference"] + by_layer["infrastructure"], provisioned)


# Valid per sim/config.py (each value within its rule); found by the tests above before
# they had the MIN_DURATION_S / MIN_RATE_RPS floors (the diurnal one by probing the same
# knob by hand), then minimised. Each must be refused with a ConfigError or simulated with
# every property intact. Each failed as commented before the fixes (2026-11-28).
SUB_RESOLUTION = {
    # runs away (endless requests at one instant, memory without bound): the session
    # kernel's next request time t + gap rounds back to t once the gap (a 3.6 ns workday,
    # 500 requests) is below the spacing of floats at t = 9 h
    "session-workday-3.6ns": (
        "demo",
        [
            "workload.users=1",
            "workload.clock_start_h=9",
            "workload.sessions.start_jitter_h=0",
            "workload.sessions.workday_hours=1e-15",
            "workload.sessions.requests_per_user_day=500",
            "horizon_s=60",
        ],
    ),
    # ZeroDivisionError in the arrival-kernel step count (sim/volume.py): users * requests_per_user_day / active
    # underflows to a peak rate of 0 and 25_000 / peak divides by it
    "session-requests-subnormal": (
        "demo",
        ["workload.sessions.requests_per_user_day=5e-324", "horizon_s=60"],
    ),
    # runs away (hang, memory without bound): invert_cumulative's floor(s / per_period)
    # overflows int64, arrival times come out near -5.6e24 s and the source creates
    # requests at t=0 forever
    "diurnal-rate-1e-30": (
        "demo",
        ["workload.arrival=diurnal", "workload.rate_rps=1e-30", "horizon_s=60"],
    ),
    # completed requests with latency and TTFT exactly 0: a service time below the float
    # spacing of simulated time vanishes
    "pool-service-time-1e-38": (
        "copilot_like",
        [
            "workload.users=78",
            "workload.clock_start_h=10",
            "horizon_s=60",
            "pools.gpu.latency=exponential",
            "pools.gpu.service_mean_s=1e-38",
            "pools.gpu.service_cv=0",
        ],
    ),
    # ZeroDivisionError inside SimPy: a subnormal mean rate on a one-hour profile
    "diurnal-rate-subnormal": (
        "demo",
        [
            "workload.arrival=diurnal",
            "workload.rate_rps=1.1125369292536007e-308",
            "workload.diurnal.hourly=[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1]",
            "workload.diurnal.weekly=[0,0,0,0,0,0,1]",
            "horizon_s=60",
        ],
    ),
}


@pytest.mark.parametrize("case", list(SUB_RESOLUTION))
def test_sub_resolution_values_are_refused_or_simulated(case):
    scenario, knobs = SUB_RESOLUTION[case]
    try:
        check_run(scenario, [*knobs, "progress=false", "plots=false"], refused_ok=False)
    except ConfigError:
        pass  # refusing a value the simulation cannot resolve is a fix
