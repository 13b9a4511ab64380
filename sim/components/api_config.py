"""The ``apis`` kind: a hosted model's typed config (``apis.NAME``) and its builder.

:class:`ApiConfig` is what a scenario writes under ``apis.NAME``; :func:`build_api`
prices it from ``api_models`` and turns it into an
:class:`~sim.components.api_provider.ApiProvider` (the mechanism), with its outage
schedule (:mod:`sim.components.outages`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from omegaconf import MISSING

from sim import checks
from sim.checks import knob
from sim.components.api_provider import ON_LIMIT, ApiProvider
from sim.components.kinds import register
from sim.components.outages import OutageSchedule, OutagesConfig, outage_schedule
from sim.components.prefix import PrefixCache
from sim.engine.context import SimContext
from sim.workload.prefix import prefix_block_tokens


def api_provider_from_config(
    name: str,
    ctx: SimContext,
    spec: Any,
    api: Any,
    rng: np.random.Generator,
    block_tokens: int = 128,
    outages: OutageSchedule | None = None,
) -> ApiProvider:
    """Build an :class:`ApiProvider` from an ``ApiModelSpec``-like ``spec`` (prices,
    latency) and an ``ApiConfig``-like ``api`` (limits, errors); only attributes are read."""
    oc = getattr(api, "outages", None)
    return ApiProvider(
        name,
        ctx,
        usd_per_mtok_input=spec.usd_per_mtok_input,
        usd_per_mtok_output=spec.usd_per_mtok_output,
        usd_per_mtok_cached_input=spec.usd_per_mtok_cached_input,
        ttft_median_s=spec.ttft_median_s,
        ttft_sigma=spec.ttft_sigma,
        tokens_per_s_median=spec.tokens_per_s_median,
        tokens_per_s_sigma=spec.tokens_per_s_sigma,
        rpm_limit=api.rpm_limit,
        tpm_limit=api.tpm_limit,
        on_limit=api.on_limit,
        max_queue_s=api.max_queue_s,
        error_prob=api.error_prob,
        rng=rng,
        skill=getattr(api, "skill", 1.0),
        prompt_cache=(
            PrefixCache(ttl_s=api.prompt_cache_ttl_s)
            if getattr(api, "prompt_caching", False)
            else None
        ),
        prompt_cache_min_tokens=getattr(api, "prompt_cache_min_tokens", 1024),
        prefix_block_tokens=block_tokens,
        outages=outages,
        outage_behaviour=oc.behaviour if oc is not None else "error",
        outage_error_after_s=oc.error_after_s if oc is not None else 0.1,
    )


@dataclass
class ApiConfig:
    """A hosted model behind a provider's API."""

    model: str = MISSING  # key of api_models
    rpm_limit: float | None = knob(None, ge=1, none_ok=True)  # requests per minute
    tpm_limit: float | None = knob(None, ge=1, none_ok=True)  # prompt + output tokens/min
    on_limit: str = knob("queue", choices=ON_LIMIT)  # queue: wait | reject: fail with 429
    max_queue_s: float = knob(60.0, ge=0)  # queued longer than this: dropped
    error_prob: float = knob(0.0, ge=0, lt=1)  # chance a call fails (5xx)
    # Hardest request (difficulty in [0, 1], workload.difficulty) it answers acceptably;
    # 1: every one. An assumption to set per scenario and model.
    skill: float = knob(1.0, ge=0, le=1)
    # Prompt caching, automatic at OpenAI for prompts of 1,024 tokens or more: a prefix
    # seen recently is billed at the model's cached-input price. "Cached prefixes
    # generally remain active for 5 to 10 minutes of inactivity" (platform.openai.com/
    # docs/guides/prompt-caching, read 2026-11); Anthropic's default cache lives 5 min.
    prompt_caching: bool = False
    prompt_cache_ttl_s: float = knob(300.0, gt=0)  # idle time before a prefix is forgotten
    prompt_cache_min_tokens: int = knob(1024, ge=0, integer=True)  # shorter: never cached
    # Provider outages (scheduled windows and/or random MTBF/MTTR); calls while down fail
    # with reason NAME:outage and are not billed (sim/components/outages.py).
    outages: OutagesConfig = field(default_factory=OutagesConfig)


@register("apis", ApiConfig)
def build_api(b: Any, name: str, ac: Any) -> ApiProvider:
    """A hosted model behind a provider's API, priced from api_models."""
    spec = checks.lookup(f"apis.{name}.model", ac.model, b.cfg.api_models, "api_models")
    rng = b.ctx.rng.stream(f"apis.{name}")
    outages = outage_schedule(f"apis.{name}.outages", ac.outages, b.ctx)
    return api_provider_from_config(
        name, b.ctx, spec, ac, rng, prefix_block_tokens(b.cfg), outages=outages
    )
