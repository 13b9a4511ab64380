"""Resilience on model calls: timeouts, retries with backoff and a budget, a fallback chain.

Unit tests drive the stage with a SimPy env and a handful of requests whose latencies
are deterministic (zero spread), so attempts, fallbacks and times are counted exactly;
the end-to-end tests check conservation of requests and dollars with everything on.
"""

from __future__ import annotations

import json
import math
from collections.abc import Generator
from typing import Any

import numpy as np
import pytest
import simpy
from omegaconf import OmegaConf, open_dict

from sim.build import build
from sim.checks import ConfigError
from sim.components.api_provider import ApiProvider
from sim.components.outages import OutageSchedule
from sim.components.request import Request, Status
from sim.components.resilience import (
    Backoff,
    ResilienceConfig,
    ResilientCall,
    RetryBudget,
    attempt_copy,
    failure_class,
    resilience_lines,
)
from sim.components.stage import Stage, SubPath
from sim.compose import compose, run_scenario
from sim.engine.context import SimContext
from sim.run import run

SEEDS = [0, 1, 2, 3]


# --- helpers ----------------------------------------------------------------------------
def api(ctx: SimContext, name: str, *, down: list | None = None, **kw: Any) -> ApiProvider:
    """A provider whose calls take exactly 0.5 s + output / 100 tok/s (1.5 s for 100)."""
    args: dict[str, Any] = dict(
        usd_per_mtok_input=1.0,
        usd_per_mtok_output=2.0,
        usd_per_mtok_cached_input=None,
        ttft_median_s=0.5,
        ttft_sigma=0.0,
        tokens_per_s_median=100.0,
        tokens_per_s_sigma=0.0,
        rpm_limit=None,
        tpm_limit=None,
        on_limit="queue",
        max_queue_s=60.0,
        error_prob=0.0,
        rng=ctx.rng.stream(f"apis.{name}"),
        outages=OutageSchedule(down) if down else None,
        outage_error_after_s=0.1,
    )
    args.update(kw)
    return ApiProvider(name, ctx, **args)


def wrap(ctx: SimContext, chain: list[tuple[str, Any]], **kw: Any) -> ResilientCall:
    jitter = kw.pop("jitter", "none")
    base, cap = kw.pop("backoff_base_s", 0.5), kw.pop("backoff_max_s", 8.0)
    args: dict[str, Any] = dict(
        timeout_s=None,
        max_attempts=3,
        retry_on=("error", "timeout", "outage", "429"),
        degraded=False,
        budget=None,
    )
    args.update(kw)
    backoff = Backoff(base, cap, jitter, ctx.rng.stream("resilience.answer.jitter"))
    return ResilientCall("answer", ctx, chain, backoff=backoff, **args)


def drive(
    ctx: SimContext, stage: Any, reqs: list[Request], until: float | None = None
) -> dict[int, float]:
    """One process per request, started at its ``arrived_at``; returns when each ended."""
    ended: dict[int, float] = {}

    def one(req: Request) -> Generator[simpy.Event, Any, None]:
        if req.arrived_at:
            yield ctx.env.timeout(req.arrived_at)
        yield from stage.handle(req)
        ended[req.id] = ctx.env.now

    for r in reqs:
        ctx.env.process(one(r))
    ctx.env.run(until=until)
    return ended


def requests(times: list[float], prompt: int = 1000, output: int = 100) -> list[Request]:
    return [Request(i, t, prompt, output) for i, t in enumerate(times)]


def keep_entries(ctx: SimContext) -> list:
    ctx.ledger.entries = []
    return ctx.ledger.entries


# --- the stage --------------------------------------------------------------------------
def test_is_a_stage_and_reasons_give_classes() -> None:
    ctx = SimContext(seed=0, horizon_s=10.0)
    assert isinstance(wrap(ctx, [("llm", api(ctx, "llm"))]), Stage)
    assert failure_class("llm:429") == "429"
    assert failure_class("llm:queue_timeout") == "queue_timeout"
    assert failure_class("too_long") == "too_long"


def test_an_attempt_copies_every_field_but_the_outcome() -> None:
    req = Request(7, 3.0, 1200, 80, user=5)
    req.cached_prompt_tokens, req.route, req.query, req.difficulty = 256, "large", 42, 0.7
    req.blocks, req.ok, req.first_token_at = (1, 2, 3), False, 3.5
    req.fail("llm:error")
    a = attempt_copy(req)
    kept = [f for f in Request.__slots__ if f not in ("status", "reason", "done_at")]
    assert all(getattr(a, f) == getattr(req, f) for f in kept)
    assert (a.status, a.reason) == (Status.IN_FLIGHT, None) and math.isnan(a.done_at)
    a.prompt_tokens = 1700
    assert req.prompt_tokens == 1200  # a copy, not the request


def test_a_working_primary_costs_one_attempt_and_no_event() -> None:
    ctx = SimContext(seed=0, horizon_s=1e4)
    llm = api(ctx, "llm")
    reqs = requests([0.0, 5.0])
    ended = drive(ctx, wrap(ctx, [("llm", llm)]), reqs)
    assert ended == {0: pytest.approx(1.5), 1: pytest.approx(6.5)}  # as llm alone
    assert [r.first_token_at for r in reqs] == [pytest.approx(0.5), pytest.approx(5.5)]
    assert all(r.status == Status.IN_FLIGHT for r in reqs)


@pytest.mark.parametrize("budget", [None, (0.0, 10.0, 0.0)])
def test_outage_of_the_primary_retries_then_falls_back(budget: Any) -> None:
    """Down with behaviour error: every request makes exactly max_attempts attempts on the
    primary (1 with a budget that allows no retry) and falls back to the backup."""
    ctx = SimContext(seed=0, horizon_s=1e5)
    entries = keep_entries(ctx)
    llm = api(ctx, "llm", down=[(0.0, 1e4)])
    backup = api(ctx, "backup")
    call = wrap(ctx, [("llm", llm), ("backup", backup)], max_attempts=3, budget=budget)
    n = 5
    reqs = requests([60.0 * i for i in range(n)])
    ended = drive(ctx, call, reqs)
    tries = 3 if budget is None else 1
    rep = call.resilience()
    primary, second = rep["chain"]["llm"], rep["chain"]["backup"]
    assert primary["attempts"] == n * tries and primary["retries"] == n * (tries - 1)
    assert primary["failures"] == {"outage": n * tries}
    assert primary["budget_denied"] == (0 if budget is None else n)
    assert second["fallbacks"] == n == second["attempts"] == second["succeeded"]
    assert rep["fallbacks"] == n and rep["answered"] == n and rep["failed"] == 0
    assert llm.outage_failures == n * tries
    # 0.1 s per failed try, backoff 0.5 s then 1 s (no jitter), then 1.5 s on the backup
    waits = [0.1, 0.5, 0.1, 1.0, 0.1][: 2 * tries - 1]
    for r in reqs:
        assert r.status == Status.IN_FLIGHT and r.ok
        assert ended[r.id] - r.arrived_at == pytest.approx(sum(waits) + 1.5)
    # only the backup billed, once per request
    assert {c for _, _, c, _ in entries} == {"backup"} and len(entries) == n
    assert resilience_lines({"resilience": {"answer": rep}}) == [
        f"resilience answer: {n * (tries + 1)} attempts · {n * (tries - 1)} retries"
        + ("" if budget is None else f" · {n} retries over budget")
        + f" · {n} fell back to backup"
    ]


def test_hang_with_a_timeout_abandons_after_exactly_timeout_s() -> None:
    """A hanging primary: each attempt times out after exactly timeout_s; the abandoned
    calls fail when the outage ends and are not billed; the request is not touched."""
    ctx = SimContext(seed=0, horizon_s=1e5)
    entries = keep_entries(ctx)
    llm = api(ctx, "llm", down=[(0.0, 1000.0)], outage_behaviour="hang")
    backup = api(ctx, "backup")
    call = wrap(ctx, [("llm", llm), ("backup", backup)], timeout_s=5.0, max_attempts=2)
    req = requests([0.0])[0]
    ended = drive(ctx, call, [req])
    # 5 s, backoff 0.5 s, 5 s, then the backup's 1.5 s (first token 0.5 s in)
    assert ended[0] == pytest.approx(12.0)
    assert req.first_token_at == pytest.approx(11.0)
    assert (req.status, req.reason, req.ok) == (Status.IN_FLIGHT, None, True)
    rep = call.resilience()["chain"]["llm"]
    assert rep["timeouts"] == 2 and rep["abandoned"] == 2 and rep["failures"] == {"timeout": 2}
    assert llm.outage_failures == 2  # both abandoned calls failed at t = 1000 s ...
    assert ctx.env.now == pytest.approx(1000.0)
    assert {c for _, _, c, _ in entries} == {"backup"}  # ... unbilled
    assert rep["abandoned_billed_usd"] == 0.0


def test_a_timed_out_api_call_is_billed_when_the_provider_completes_it() -> None:
    ctx = SimContext(seed=0, horizon_s=1e5)
    entries = keep_entries(ctx)
    slow = api(ctx, "llm", tokens_per_s_median=10.0)  # 0.5 + 200 / 10 = 20.5 s
    backup = api(ctx, "backup")
    call = wrap(ctx, [("llm", slow), ("backup", backup)], timeout_s=5.0, max_attempts=1)
    req = requests([0.0], output=200)[0]
    ended = drive(ctx, call, [req])
    assert ended[0] == pytest.approx(5.0 + 2.5)  # the backup answered after the timeout
    assert req.first_token_at == pytest.approx(5.5)  # not the abandoned call's 0.5 s
    assert (req.status, req.ok, req.reason) == (Status.IN_FLIGHT, True, None)
    billed = {c: (t, usd) for t, _, c, usd in entries}
    cost = slow.cost_usd(1000, 200)
    assert billed["llm"] == (pytest.approx(20.5), pytest.approx(cost))  # billed on completion
    assert billed["backup"][1] == pytest.approx(backup.cost_usd(1000, 200))
    rep = call.resilience()
    assert rep["abandoned_billed_usd"] == pytest.approx(cost)
    assert ctx.ledger.total() == pytest.approx(cost + backup.cost_usd(1000, 200))


def test_the_watchdog_wakes_about_once_per_timeout_not_once_per_attempt() -> None:
    ctx = SimContext(seed=0, horizon_s=1e5)
    call = wrap(ctx, [("llm", api(ctx, "llm"))], timeout_s=60.0)
    n = 1200
    reqs = requests([float(i) for i in range(n)])
    ended = drive(ctx, call, reqs)
    assert all(ended[r.id] - r.arrived_at == pytest.approx(1.5) for r in reqs)
    assert 0 < call._watchdog.wakeups <= n / 60 + 3  # type: ignore[union-attr]
    assert call.resilience()["timeouts"] == 0


def test_an_interrupt_from_elsewhere_is_not_a_timeout() -> None:
    ctx = SimContext(seed=0, horizon_s=1e5)
    call = wrap(ctx, [("llm", api(ctx, "llm"))], timeout_s=60.0)
    req = requests([0.0])[0]
    seen: list[Any] = []

    def one() -> Generator[simpy.Event, Any, None]:
        try:
            yield from call.handle(req)
        except simpy.Interrupt as exc:
            seen.append(exc.cause)

    proc = ctx.env.process(one())

    def other() -> Generator[simpy.Event, Any, None]:
        yield ctx.env.timeout(1.0)
        proc.interrupt("crash")

    ctx.env.process(other())
    ctx.env.run()
    assert seen == ["crash"] and call.resilience()["timeouts"] == 0


class _Adds:
    """A stage that adds context tokens and takes a route (as retrieval and a router do)."""

    name = "adds"

    def handle(self, req: Request) -> Generator[simpy.Event, Any, None]:
        req.prompt_tokens += 500
        req.route = "x"
        return
        yield


def test_attempts_run_on_a_copy_of_the_request() -> None:
    """A failed attempt of a sub-path leaves nothing behind; a good one is copied back."""
    ctx = SimContext(seed=0, horizon_s=1e5)
    flaky = api(ctx, "llm", down=[(0.0, 1.0)])
    sub = SubPath([_Adds(), flaky])
    call = wrap(ctx, [("adds+llm", sub)], max_attempts=5, backoff_base_s=0.5)
    req = requests([0.0])[0]
    drive(ctx, call, [req])
    # fails at 0.1, retries at 0.6 (fails at 0.7), retries at 1.7: up
    assert call.resilience()["chain"]["adds+llm"]["attempts"] == 3
    assert req.prompt_tokens == 1500 and req.route == "x"  # added once, not three times
    assert req.first_token_at == pytest.approx(2.2)


@pytest.mark.parametrize("degraded", [True, False])
def test_when_every_element_fails(degraded: bool) -> None:
    ctx = SimContext(seed=0, horizon_s=1e5)
    llm = api(ctx, "llm", down=[(0.0, 1e4)])
    backup = api(ctx, "backup", down=[(0.0, 1e4)])
    call = wrap(ctx, [("llm", llm), ("backup", backup)], max_attempts=2, degraded=degraded)
    req = requests([0.0])[0]
    ended = drive(ctx, call, [req])
    assert ended[0] == pytest.approx(2 * (0.1 + 0.5 + 0.1))
    rep = call.resilience()
    if degraded:  # completes with an answer that is not acceptable
        assert (req.status, req.ok) == (Status.IN_FLIGHT, False)
        assert req.first_token_at == pytest.approx(ended[0])
        assert rep["degraded"] == 1 and rep["failed"] == 0 and call.affects_quality
    else:  # fails with the last reason
        assert (req.status, req.reason) == (Status.FAILED, "backup:outage")
        assert rep["failed"] == 1 and rep["degraded"] == 0 and not call.affects_quality


def test_a_class_not_retried_moves_on_and_a_drop_stays_a_drop() -> None:
    ctx = SimContext(seed=0, horizon_s=1e5)
    # a TPM limit smaller than the call: dropped at once (queue_timeout), never retried
    tiny = api(ctx, "llm", tpm_limit=100.0, on_limit="queue")
    tiny2 = api(ctx, "backup", tpm_limit=100.0, on_limit="queue")
    call = wrap(ctx, [("llm", tiny), ("backup", tiny2)], max_attempts=3)
    req = requests([0.0])[0]
    drive(ctx, call, [req])
    assert (req.status, req.reason) == (Status.DROPPED, "backup:queue_timeout")
    chain = call.resilience()["chain"]
    assert chain["llm"]["attempts"] == 1 and chain["llm"]["failures"] == {"queue_timeout": 1}
    assert chain["backup"]["attempts"] == 1


def test_429s_are_retried_after_the_backoff() -> None:
    ctx = SimContext(seed=0, horizon_s=1e5)
    limited = api(ctx, "llm", rpm_limit=1.0, on_limit="reject")  # one call a minute
    call = wrap(ctx, [("llm", limited)], max_attempts=3, backoff_base_s=40.0, backoff_max_s=40.0)
    reqs = requests([0.0, 0.0])
    ended = drive(ctx, call, reqs)
    # the second is rejected at 0 and at 40 s, admitted at 80 s (the bucket refilled at 60 s)
    assert ended[1] == pytest.approx(81.5)
    assert call.resilience()["chain"]["llm"]["failures"] == {"429": 2}


# --- backoff and budget -----------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_full_jitter_is_uniform_below_the_cap(seed: int) -> None:
    b = Backoff(0.5, 8.0, "full", np.random.default_rng(seed))
    for k in range(7):
        cap = min(8.0, 0.5 * 2**k)
        draws = np.array([b.delay_s(k) for _ in range(4000)])
        assert draws.min() >= 0.0 and draws.max() <= cap
        assert draws.mean() == pytest.approx(cap / 2, rel=0.05)  # uniform: sd cap/sqrt(12)/63
        assert draws.std() == pytest.approx(cap / math.sqrt(12), rel=0.05)


def test_no_jitter_is_exactly_the_capped_exponential() -> None:
    b = Backoff(0.5, 8.0, "none", np.random.default_rng(0))
    assert [b.delay_s(k) for k in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


@pytest.mark.parametrize(("ratio", "floor_per_s", "firsts"), [(0.2, 0.0, 50), (0.1, 0.5, 40)])
def test_budget_allows_ratio_times_first_attempts_plus_the_floor(ratio, floor_per_s, firsts):
    budget = RetryBudget(ratio, 10.0, floor_per_s)
    for _ in range(firsts):
        budget.deposit(0.0)
    allowed = sum(budget.withdraw(1.0) for _ in range(1000))
    assert allowed == math.floor(ratio * firsts + floor_per_s * 10.0 + 1e-9)
    # after the window the deposits and withdrawals have expired: only the floor is left
    assert sum(budget.withdraw(20.0) for _ in range(1000)) == math.floor(floor_per_s * 10.0)


def test_budget_caps_retries_in_a_sliding_window_during_an_outage() -> None:
    """One request a second for 200 s against a dead primary: retries in any 10 s never
    exceed 20 % of the first attempts in it; the rest fall back at once."""
    ctx = SimContext(seed=0, horizon_s=1e5)
    llm = api(ctx, "llm", down=[(0.0, 1e4)])
    backup = api(ctx, "backup")
    retried_at: list[float] = []
    call = wrap(ctx, [("llm", llm), ("backup", backup)], budget=(0.2, 10.0, 0.0))
    budget = call.chain[0].budget
    withdraw = budget.withdraw

    def spy(now: float) -> bool:
        ok = withdraw(now)
        if ok:
            retried_at.append(now)
        return ok

    budget.withdraw = spy  # type: ignore[method-assign]
    n = 200
    drive(ctx, call, requests([float(i) for i in range(n)]))
    rep = call.resilience()["chain"]["llm"]
    firsts = np.arange(n, dtype=float)
    retries = np.array(retried_at)
    for t in np.arange(10.0, n, 0.25):
        in_window = ((retries > t - 10.0) & (retries <= t)).sum()
        assert in_window <= 0.2 * ((firsts > t - 10.0) & (firsts <= t)).sum()
    assert rep["retries"] == len(retried_at) > 0
    assert rep["retries"] <= 0.2 * n + 2  # about a fifth, not 2 x 200
    assert rep["attempts"] == n + rep["retries"]
    assert call.resilience()["chain"]["backup"]["fallbacks"] == n


# --- config and whole runs --------------------------------------------------------------
def _config(overrides: list[str] = (), **res: Any) -> Any:
    """demo at 2 rps for an hour: llm (flaky, rate-limited, down 20 min) and a backup."""
    cfg = compose(
        "demo",
        ["progress=false", "plots=false", "workload.arrival=poisson", "workload.rate_rps=2",
         "horizon_s=3600", "warmup_s=300"],
    )  # fmt: skip
    res.setdefault("chain", ["llm", "backup"])
    with open_dict(cfg):  # as a scenario file declares them
        cfg.apis["backup"] = OmegaConf.merge(cfg.apis["llm"], {"model": "claude_3_5_haiku"})
        cfg.resilience["answer"] = OmegaConf.structured(ResilienceConfig(**res))
    cfg.path = ["answer"]
    return OmegaConf.merge(cfg, OmegaConf.from_dotlist(list(overrides)))


EVERYTHING = [
    "apis.llm.error_prob=0.05",
    "apis.llm.rpm_limit=90",
    "apis.llm.on_limit=reject",
    "apis.llm.outages.windows_h=[[0.5,0.75]]",
    "apis.llm.outages.behaviour=hang",
    "apis.backup.error_prob=0.02",
    "apis.backup.outages.windows_h=[[0.6,0.65]]",
    "apis.backup.outages.mtbf_h=0.5",
    "apis.backup.outages.mttr_h=0.05",
]


def _everything_on(seed: int = 0) -> dict:
    cfg = _config(
        [*EVERYTHING, f"seed={seed}"],
        timeout_s=20.0,
        degraded=True,
        retry_budget=0.2,
        min_retries_per_s=0.5,
    )
    return run(cfg).summary


@pytest.mark.parametrize("seed", [0, 1])
def test_conservation_with_every_mechanism_on(seed: int) -> None:
    s = _everything_on(seed)
    req = s["requests"]
    assert req["arrived"] == req["completed"] + req["failed"] + req["dropped"] + req["in_flight"]
    cost = s["cost_usd"]
    assert cost["total"] == pytest.approx(sum(cost["by_layer"].values()))
    assert cost["total"] == pytest.approx(
        sum(sum(layers.values()) for layers in cost["by_component"].values())
    )
    res = s["resilience"]["answer"]
    assert res["requests"] == req["arrived"]
    assert res["requests"] == res["answered"] + res["degraded"] + res["failed"] + res["in_progress"]
    assert res["in_progress"] == req["in_flight"]
    for el in res["chain"].values():
        assert el["attempts"] == el["succeeded"] + sum(el["failures"].values()) + el["in_progress"]
        assert el["timeouts"] == el["failures"].get("timeout", 0)
    llm, backup = res["chain"]["llm"], res["chain"]["backup"]
    # every mechanism fired: errors, 429s, hung calls cut by the timeout, outages, fallbacks
    assert llm["failures"]["error"] > 0 and llm["failures"]["429"] > 0
    assert llm["timeouts"] > 0 and backup["failures"].get("outage", 0) > 0
    assert backup["fallbacks"] > 0 and llm["budget_denied"] > 0 and res["degraded"] > 0
    assert backup["fallbacks"] == res["fallbacks"]
    # every request the primary did not answer moved to the backup, but those still on
    # the primary at the horizon (in an attempt or a backoff)
    on_primary = req["arrived"] - llm["succeeded"] - backup["fallbacks"]
    assert llm["in_progress"] <= on_primary <= req["in_flight"]
    api = s["resilience"]["llm"]
    assert api["kind"] == "api" and api["downtime_s"] == pytest.approx(900.0)
    assert api["errors"] == llm["failures"]["error"]
    # degraded answers complete but are not acceptable
    assert s["quality"]["acceptable"] <= req["completed"] - res["degraded"]
    lines = resilience_lines(s)
    assert f"resilience answer: {res['attempts']:,} attempts" in "\n".join(lines)
    assert any(line.startswith("resilience llm: ") and "h down" in line for line in lines)


def test_same_seed_same_summary() -> None:
    a, b = _everything_on(3), _everything_on(3)
    a.pop("config"), b.pop("config")
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_fallback_on_keeps_answering_through_an_outage() -> None:
    outage = ["apis.llm.outages.windows_h=[[0.25,0.75]]"]
    off = _config(outage)
    off.path = ["llm"]
    without = run(off).summary
    with_fallback = run(_config(outage)).summary
    assert without["outcomes"].get("llm:outage", 0) > 1000  # 30 min at 2 rps, all failed
    assert with_fallback["requests"]["failed"] < 0.01 * without["outcomes"]["llm:outage"]
    by = with_fallback["cost_usd"]["by_component"]
    assert by["backup"]["inference"] > 0  # the backup was bought for the outage


@pytest.mark.parametrize(
    ("overrides", "res", "needle"),
    [
        ([], {"chain": ["llm", "bakup"]}, "resilience.answer.chain[1]='bakup' names no component"),
        ([], {"chain": []}, "resilience.answer.chain=[] is empty"),
        ([], {"chain": ["llm", []]}, "resilience.answer.chain[1]=[] must be a component name"),
        ([], {"chain": ["llm", "llm"]}, "resilience.answer.chain[1]='llm' is already in"),
        ([], {"chain": ["answer"]}, "resilience.answer.chain[0]='answer' makes a cycle"),
        (["resilience.answer.max_attempts=0"], {}, "resilience.answer.max_attempts=0 must be"),
        (["resilience.answer.timeout_s=-1"], {}, "resilience.answer.timeout_s=-1.0 must be"),
        (["resilience.answer.jitter=half"], {}, "resilience.answer.jitter='half' is not allowed"),
        (
            ["resilience.answer.retry_on=[error,boom]"],
            {},
            "resilience.answer.retry_on[1]='boom' is not allowed",
        ),
        (
            ["apis.llm.outages.windows_h=[[32,30]]"],
            {},
            "apis.llm.outages.windows_h[0]=[32, 30] must end after it starts",
        ),
        (
            ["apis.llm.outages.mtbf_h=10"],
            {},
            "apis.llm.outages.mtbf_h=10.0 and apis.llm.outages.mttr_h=null go together",
        ),
        (
            ["apis.llm.outages.behaviour=down"],
            {},
            "apis.llm.outages.behaviour='down' is not allowed",
        ),
    ],
)
def test_bad_config_is_one_line_naming_the_full_key(overrides, res, needle) -> None:
    with pytest.raises(ConfigError) as err:
        build(_config(overrides, **res))
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_lines_for_an_api_and_another_kind() -> None:
    summary = {
        "resilience": {
            "llm": {"kind": "api", "calls": 12345, "errors": 3, "rejected_429": 0,
                    "queue_timeouts": 0, "outage_failures": 40, "downtime_s": 7200.0},
            "gpu": {"kind": "pool", "crashes": 2, "requeued": 17, "failed": 0},
        }
    }  # fmt: skip
    assert resilience_lines(summary) == [
        "resilience llm: 12,345 calls · 3 errors · 40 failed in outages · 2.00 h down",
        "resilience gpu: 2 crashes · 17 requeued",
    ]
    assert resilience_lines({"resilience": {}}) == []


def test_retry_on_429_from_the_command_line_is_a_class() -> None:
    cfg = _config(["resilience.answer.retry_on=[error,429]"])
    call = build(cfg).components["answer"]
    assert call.retry_on == {"error", "429"}


def test_a_scenario_without_resilience_keeps_its_summary() -> None:
    cfg = compose("demo", ["progress=false", "plots=false", "horizon_s=3600",
                           "apis.llm.error_prob=0"])  # fmt: skip
    assert run(cfg).summary["resilience"] == {}


def test_production_falls_back_as_written_and_lever_off_is_one_plain_attempt() -> None:
    from sim.levers import apply_levers

    base = ["progress=false", "plots=false", "horizon_s=3600"]
    default = build(apply_levers(compose("production", base)))
    call = default.components["answer"]
    assert [el.label for el in call.chain] == ["llm", "backup"]
    assert call.chain[1].stage is default.components["backup"] and call.degraded
    off = build(apply_levers(compose("production", [*base, "levers.fallback=off"])))
    assert [el.label for el in off.components["answer"].chain] == ["llm"]
    assert not off.components["answer"].degraded


def test_lever_fallback_off_costs_and_fails_exactly_like_the_bare_model_call() -> None:
    """One attempt and no degraded answer: the wrapper changes nothing but its report."""
    base = ["progress=false", "plots=false", "horizon_s=7200", "workload.clock_start_h=9",
            "apis.llm.error_prob=0.05"]  # fmt: skip
    off = run_scenario("production", [*base, "levers.fallback=off"]).summary
    bare = run_scenario("production", [*base, "caches.cache.miss=[docs,llm,monitor,qa]"]).summary
    assert off["requests"] == bare["requests"] and off["requests"]["failed"] > 0
    assert off["outcomes"] == bare["outcomes"]
    assert off["cost_usd"] == bare["cost_usd"]
    res = off["resilience"]["answer"]
    assert res["retries"] == 0 and res["fallbacks"] == 0 and res["degraded"] == 0


def test_a_pool_keeps_computing_what_a_timeout_abandoned() -> None:
    """copilot_like's GPU pool behind a 0.3 s timeout, the hosted API as fallback: the
    pool serves every attempt, abandoned or not, and bills the same replica-hours."""
    base = ["progress=false", "plots=false", "horizon_s=1800", "workload.clock_start_h=9"]

    def with_timeout(timeout_s: float | None) -> dict:
        cfg = compose("copilot_like", base)
        with open_dict(cfg):
            cfg.resilience["answer"] = OmegaConf.structured(
                ResilienceConfig(chain=["gpu", "api"], timeout_s=timeout_s, max_attempts=1)
            )
        cfg.path = ["answer"]
        result = run(cfg)
        return result.summary

    s = with_timeout(0.3)
    res = s["resilience"]["answer"]
    gpu = res["chain"]["gpu"]
    assert gpu["timeouts"] > 0 and gpu["abandoned"] == gpu["timeouts"]
    assert res["chain"]["api"]["fallbacks"] == gpu["timeouts"]  # one attempt, then the API
    assert gpu["abandoned_billed_usd"] == 0.0  # a pool bills by time, not per call
    req = s["requests"]
    assert req["arrived"] == req["completed"] + req["failed"] + req["dropped"] + req["in_flight"]
    plain = with_timeout(None)
    # the replicas are billed the same, busy with abandoned attempts or not
    assert s["cost_usd"]["by_component"]["gpu"] == pytest.approx(
        plain["cost_usd"]["by_component"]["gpu"], rel=0.01
    )
    assert s["utilization"]["gpu"]["mean"] >= plain["utilization"]["gpu"]["mean"] * 0.99


def test_a_response_cache_does_not_keep_degraded_answers() -> None:
    """Both providers down all along: every answer is the stand-in, and none is cached."""
    down = "[[0,2]]"
    s = run_scenario(
        "production",
        ["progress=false", "plots=false", "horizon_s=3600", "workload.clock_start_h=9",
         f"apis.llm.outages.windows_h={down}", f"apis.backup.outages.windows_h={down}",
         "resilience.answer.max_attempts=1"],
    ).summary  # fmt: skip
    res = s["resilience"]["answer"]
    assert res["degraded"] > 0 and res["answered"] == 0
    cache = s["components"]["cache"]
    assert cache["entries_at_end"] == 0 and cache["hits"] == 0
    assert s["quality"]["acceptable_share"] < 0.01
