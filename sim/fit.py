"""Does a typical request fit? Checked after the build, on the components the path uses.

A self-hosted replica must hold a request's prompt + output tokens in its KV cache; a
hosted API with a tokens-per-minute limit can never admit a request larger than one
minute's worth. :func:`kv_notes` samples the sizes the run will see (the trace's own, or
the token sampler's from a stream of its own, ``preflight.tokens``): a component smaller
than the median request is refused with a :class:`~sim.checks.ConfigError` naming the
knob; one that cannot hold a noticeable share of requests gets a note in the summary.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.checks import ConfigError, show

KV_NOTE_SHARE = 0.001  # note when more than 0.1 % of requests cannot fit a replica


def token_pairs(built: Any, cfg: Any, n: int = 20_000) -> tuple[np.ndarray, np.ndarray]:
    """A sample of (prompt, output) sizes the run will see, drawn from a stream of its own."""
    from sim.build import build_tokens
    from sim.workload.trace import TraceArrivals, load_azure_trace

    inner = getattr(built.arrivals, "inner", built.arrivals)
    if isinstance(inner, TraceArrivals):  # replayed requests keep the trace's sizes
        _, prompt, output = load_azure_trace(inner.path)
        return prompt, output
    return build_tokens(cfg, built.ctx, stream="preflight.tokens").sample(n)


def kv_notes(built: Any, cfg: Any) -> list[str]:
    """Refuse components that cannot serve a typical request; note rarer misfits.

    A self-hosted replica must hold a request's prompt + output tokens in its KV cache;
    a hosted API with a tokens-per-minute limit can never admit a request larger than
    one minute's worth. Such requests fail (``too_long``) or are dropped.
    """
    limits = []  # (key, what the limit is, tokens, what happens)
    for name in dict.fromkeys(cfg.path):
        if name in cfg.pools and cfg.pools[name].latency == "roofline":
            pc = cfg.pools[name]
            limits.append(
                (
                    f"pools.{name}.model",
                    f"pools.{name}.model={pc.model!r} on {pc.devices_per_replica} x "
                    f"{pc.hardware!r}: a replica's KV cache",
                    built.components[name].kv_capacity_tokens,
                    "fail as 'too_long'",
                    f"use more pools.{name}.devices_per_replica, a device with more memory, "
                    "a lower precision or a smaller model",
                )
            )
        elif name in cfg.apis and cfg.apis[name].tpm_limit is not None:
            tpm = cfg.apis[name].tpm_limit
            limits.append(
                (
                    f"apis.{name}.tpm_limit",
                    f"apis.{name}.tpm_limit={show(tpm)}: one minute's worth of tokens",
                    int(tpm),
                    "never be admitted (dropped or rejected)",
                    f"raise apis.{name}.tpm_limit",
                )
            )
    notes: list[str] = []
    if not limits:
        return notes
    prompt, output = token_pairs(built, cfg)
    size = np.asarray(prompt, dtype=np.int64) + np.asarray(output, dtype=np.int64)
    median = float(np.median(size))
    for key, what, cap, fate, advice in limits:
        share = float(np.mean(size > cap))
        if median > cap:
            raise ConfigError(
                f"{what} holds {cap:,} tokens, less than the median request ({median:,.0f} "
                f"prompt + output tokens), so {share:.0%} of requests would {fate}; {advice}",
                key=key,
            )
        if share > KV_NOTE_SHARE:
            notes.append(
                f"{what} holds {cap:,} tokens: {share:.1%} of requests (prompt + output "
                f"tokens) are larger and will {fate}"
            )
    return notes
