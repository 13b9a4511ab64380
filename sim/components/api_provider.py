"""A hosted model behind a provider's API: per-token prices, sampled latency, rate limits.

The stage answers one request as::

    admission = the later of now and when the rate limits allow it     (rate_limit.py)
    ttft      ~ LogNormal(median=ttft_median_s, sigma=ttft_sigma)
    speed     ~ LogNormal(median=tokens_per_s_median, sigma=tokens_per_s_sigma)
    done      = admission + ttft + output_tokens / speed
    cost_usd  = ((prompt - cached) * usd_per_mtok_input
                 + cached * usd_per_mtok_cached_input
                 + output * usd_per_mtok_output) / 1e6

and charges ``cost_usd`` to the ``inference`` layer at ``done``. ``cached`` is 0 unless
prompt caching is on (``prompt_caching``): then the provider keeps the prompt blocks it
saw (:class:`~sim.components.prefix.PrefixCache`, forgotten after ``prompt_cache_ttl_s``
idle) and ``cached`` is the prompt's longest prefix it still holds, for prompts of at
least ``prompt_cache_min_tokens``. Anthropic's cache-write premium (1.25x) is not
modelled: OpenAI's automatic caching has none. Waiting for admission and
serving are one ``env.timeout``: the provider is not a shared resource in the
simulation (its capacity is the rate limit), so nothing else needs an event.

Outages (``outages``, an :class:`~sim.components.outages.OutageSchedule`): a call that
arrives while the provider is down never reaches a model. With ``behaviour: error`` it
fails after ``error_after_s`` (a quick 5xx or a refused connection); with ``hang`` it
gets no answer until the outage ends and then fails (only a client timeout, see
:mod:`sim.components.resilience`, frees the caller earlier). Either way its reason is
``"<name>:outage"``, it consumes no rate-limit capacity and **is not billed**. A call
already running when an outage starts completes (a simplification). Without outages
the per-request path is unchanged but for one ``is None`` test.

Billing on failure, stated once: errors (5xx), 429s, queue timeouts and outage calls
are not billed; a call the caller abandoned (a client timeout) is billed in full when
the provider completes it, because the provider generated every token.

Random draws come from the one ``rng`` argument in blocks of :data:`BLOCK` values per
quantity, which keeps numpy's per-call overhead off the per-request path.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from sim import checks
from sim.components.outages import OutageGate, OutageSchedule
from sim.components.prefix import PrefixCache, PrefixStats
from sim.components.rate_limit import TokenBucket
from sim.components.request import Request
from sim.engine.context import SimContext
from sim.kernels.blocks import BlockDraws, lognormal_draws

BLOCK = 4096
ON_LIMIT = ("queue", "reject")
LAYER = "inference"


class ApiProvider:
    """A Stage calling a hosted model: lognormal latency, per-token prices, RPM/TPM limits.

    Rate limits (``rpm_limit`` requests/min, ``tpm_limit`` prompt + output tokens/min) are
    token buckets holding one minute's worth. When a request cannot start at once:

    * ``on_limit="queue"``: it waits (FIFO) for admission; if that wait would exceed
      ``max_queue_s`` it is dropped at once with reason ``"<name>:queue_timeout"``.
    * ``on_limit="reject"``: it fails at once with reason ``"<name>:429"``.

    Neither consumes rate-limit capacity nor costs anything. An admitted call fails with
    probability ``error_prob`` after its time to first token (reason ``"<name>:error"``);
    such a failed call consumes rate-limit capacity but is **not charged** (providers
    do not bill requests that return an error). Successful calls set
    ``req.first_token_at`` and charge the ledger on completion.

    Counters: ``calls`` (requests that reached the provider), ``errors``,
    ``rejected_429``, ``queue_timeouts``; :attr:`mean_wait_s` is the mean admission wait
    of admitted calls.
    """

    def __init__(
        self,
        name: str,
        ctx: SimContext,
        *,
        usd_per_mtok_input: float,
        usd_per_mtok_output: float,
        usd_per_mtok_cached_input: float | None,
        ttft_median_s: float,
        ttft_sigma: float,
        tokens_per_s_median: float,
        tokens_per_s_sigma: float,
        rpm_limit: float | None,
        tpm_limit: float | None,
        on_limit: str,
        max_queue_s: float,
        error_prob: float,
        rng: np.random.Generator,
        skill: float = 1.0,
        prompt_cache: PrefixCache | None = None,
        prompt_cache_min_tokens: int = 1024,
        prefix_block_tokens: int = 128,
        outages: OutageSchedule | None = None,
        outage_behaviour: str = "error",
        outage_error_after_s: float = 0.1,
    ) -> None:
        checks.non_negative("usd_per_mtok_input", usd_per_mtok_input)
        checks.non_negative("usd_per_mtok_output", usd_per_mtok_output)
        checks.non_negative("usd_per_mtok_cached_input", usd_per_mtok_cached_input, none_ok=True)
        checks.positive("ttft_median_s", ttft_median_s)
        checks.positive("tokens_per_s_median", tokens_per_s_median)
        checks.non_negative("ttft_sigma", ttft_sigma)
        checks.non_negative("tokens_per_s_sigma", tokens_per_s_sigma)
        checks.positive("rpm_limit", rpm_limit, none_ok=True)
        checks.positive("tpm_limit", tpm_limit, none_ok=True)
        checks.choice("on_limit", on_limit, ON_LIMIT)
        checks.non_negative("max_queue_s", max_queue_s)
        checks.number("error_prob", error_prob, ge=0, le=1)
        checks.rng("rng", rng)
        self.skill = checks.number("skill", skill, ge=0, le=1)
        # answers above its skill are not acceptable: it needs each request's difficulty
        self.needs = ("difficulty",) if self.skill < 1 else ()
        self.affects_quality = self.skill < 1
        # prompt caching: prefixes seen within the cache's TTL are billed as cached input
        self._prompt_cache = prompt_cache
        self.prompt_cache_min_tokens = checks.integer(
            "prompt_cache_min_tokens", prompt_cache_min_tokens, 0
        )
        self.prefix_stats: PrefixStats | None = None
        if prompt_cache is not None:
            self.prefix_stats = PrefixStats(prefix_block_tokens)
            self.needs += ("blocks",)

        # outages: calls while down fail (error) or wait for the end of the outage (hang)
        self._gate = (
            None
            if outages is None
            else OutageGate(outages, outage_behaviour, outage_error_after_s, f"{name}:outage")
        )

        self.name = name
        self._env: simpy.Environment = ctx.env
        self._ledger = ctx.ledger
        self._warmup_s = ctx.warmup_s
        self._horizon_s = ctx.horizon_s
        self.usd_per_mtok_input = float(usd_per_mtok_input)
        self.usd_per_mtok_output = float(usd_per_mtok_output)
        self.usd_per_mtok_cached_input = (
            float(usd_per_mtok_input)
            if usd_per_mtok_cached_input is None
            else float(usd_per_mtok_cached_input)
        )
        self.rpm_limit = rpm_limit
        self.tpm_limit = tpm_limit
        self.on_limit = on_limit
        self.max_queue_s = float(max_queue_s)
        self.error_prob = float(error_prob)
        self.rng = rng
        self._rpm = TokenBucket.per_minute(rpm_limit) if rpm_limit is not None else None
        self._tpm = TokenBucket.per_minute(tpm_limit) if tpm_limit is not None else None
        self._ttft = lognormal_draws(rng, ttft_median_s, ttft_sigma, BLOCK)
        self._tps = lognormal_draws(rng, tokens_per_s_median, tokens_per_s_sigma, BLOCK)
        self._u = BlockDraws(rng.random, BLOCK)
        self._fail_reason = f"{name}:error"
        self._reject_reason = f"{name}:429"
        self._timeout_reason = f"{name}:queue_timeout"

        self.calls = 0
        self.errors = 0
        self.rejected_429 = 0
        self.queue_timeouts = 0
        # the same, for requests that arrived after the warm-up (summary's resilience block)
        self.measured_calls = 0
        self.measured = dict.fromkeys(("errors", "429", "queue_timeouts", "outage"), 0)
        self.admitted = 0
        self.wait_s_total = 0.0
        ctx.ledger.series(LAYER, name)  # the scenario uses the inference layer

    # -- pricing -----------------------------------------------------------------------
    def cost_usd(
        self, prompt_tokens: int, output_tokens: int, cached_prompt_tokens: int = 0
    ) -> float:
        """List price of one successful call (cached tokens capped at the prompt)."""
        cached = min(max(cached_prompt_tokens, 0), prompt_tokens)
        return (
            (prompt_tokens - cached) * self.usd_per_mtok_input
            + cached * self.usd_per_mtok_cached_input
            + output_tokens * self.usd_per_mtok_output
        ) * 1e-6

    @property
    def outage_failures(self) -> int:
        """Calls failed by an outage (all of them, warm-up included)."""
        return self._gate.failures if self._gate is not None else 0

    @property
    def mean_wait_s(self) -> float:
        """Mean wait for rate-limit admission over admitted calls (NaN before any)."""
        return self.wait_s_total / self.admitted if self.admitted else math.nan

    # -- the stage ---------------------------------------------------------------------
    def _admission_wait(self, req: Request, now: float) -> float | None:
        """Wait before ``req`` may start, committed; None if it was rejected or dropped."""
        rpm, tpm = self._rpm, self._tpm
        tokens = req.prompt_tokens + req.output_tokens
        at = now
        if rpm is not None:
            at = max(at, rpm.earliest(now, 1.0))
        if tpm is not None:
            at = max(at, tpm.earliest(now, tokens))
        wait = at - now
        if wait > 0.0:
            if self.on_limit == "reject":
                self.rejected_429 += 1
                self._count(req, "429")
                req.fail(self._reject_reason)
                return None
            if wait > self.max_queue_s:  # also a call larger than the TPM limit (inf)
                self.queue_timeouts += 1
                self._count(req, "queue_timeouts")
                req.drop(self._timeout_reason)
                return None
        if rpm is not None:
            rpm.commit(at, 1.0)
        if tpm is not None:
            tpm.commit(at, tokens)
        return wait

    def handle(self, req: Request) -> Generator[simpy.Event, Any, None]:
        """Wait for admission and serve ``req`` with one timeout; charge on success."""
        env = self._env
        now = env.now
        self.calls += 1
        if req.arrived_at >= self._warmup_s:
            self.measured_calls += 1
        gate = self._gate
        if gate is not None and gate.down(now):
            delay = gate.delay_s(now)
            if delay > 0.0:
                yield env.timeout(delay)
            gate.failures += 1
            self._count(req, "outage")
            req.fail(gate.reason)
            return
        if self._rpm is None and self._tpm is None:
            wait = 0.0
        else:
            w = self._admission_wait(req, now)
            if w is None:
                return
            wait = w
        self.admitted += 1
        self.wait_s_total += wait
        cache = self._prompt_cache
        if cache is not None:  # the provider looks the prompt's prefix up when it starts
            matched = (
                cache.lookup(req.blocks, now + wait)
                if req.prompt_tokens >= self.prompt_cache_min_tokens
                else 0
            )
            self.prefix_stats.record(req, matched)  # type: ignore[union-attr]
        ttft = self._ttft.next()
        if self.error_prob > 0.0 and self._u.next() < self.error_prob:
            yield env.timeout(wait + ttft)
            self.errors += 1
            self._count(req, "errors")
            req.fail(self._fail_reason)
            return
        out = req.output_tokens
        yield env.timeout(wait + ttft + out / self._tps.next())
        req.first_token_at = now + wait + ttft
        self._ledger.charge(
            env.now,
            LAYER,
            self.name,
            self.cost_usd(req.prompt_tokens, out, req.cached_prompt_tokens),
        )
        if req.difficulty > self.skill:  # False for NaN: difficulty not modelled
            req.ok = False

    def _count(self, req: Request, what: str) -> None:
        if req.arrived_at >= self._warmup_s:
            self.measured[what] += 1

    def resilience(self) -> dict[str, Any] | None:
        """Calls and their failures by class (after the warm-up), and the downtime.

        None when nothing resilience-related is configured (errors, a reject-on-limit
        rate limit, outages) and nothing failed: the summary stays as it was."""
        m = self.measured
        failed = m["errors"] + m["429"] + m["queue_timeouts"] + m["outage"]
        configured = (
            self._gate is not None
            or self.error_prob > 0.0
            or (self.on_limit == "reject" and (self._rpm is not None or self._tpm is not None))
        )
        if not configured and not failed:
            return None
        out: dict[str, Any] = {
            "kind": "api",
            "calls": self.measured_calls,
            "errors": m["errors"],
            "rejected_429": m["429"],
            "queue_timeouts": m["queue_timeouts"],
            "outage_failures": m["outage"],
        }
        if self._gate is not None:
            out.update(self._gate.report(self._warmup_s, self._horizon_s))
        return out

    def report(self) -> dict[str, Any] | None:
        """What ``summary.json`` shows of this provider beyond its costs (prompt caching)."""
        if self.prefix_stats is None or self._prompt_cache is None:
            return None
        return {
            "kind": "api",
            "prompt_cache": self.prefix_stats.report(
                ttl_s=self._prompt_cache.ttl_s, min_tokens=self.prompt_cache_min_tokens
            ),
        }

    def __repr__(self) -> str:
        return (
            f"ApiProvider(name={self.name!r}, in={self.usd_per_mtok_input}, "
            f"out={self.usd_per_mtok_output} USD/Mtok, rpm={self.rpm_limit}, tpm={self.tpm_limit})"
        )
