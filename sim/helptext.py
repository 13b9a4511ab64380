"""``python -m sim --help``: what a user can run, choose and change, with examples that run.

The text is built from what ships: scenario names and descriptions from ``scenarios/``,
catalog entries from ``configs/`` and the knobs' rules from the typed schema, so it
cannot drift from the code. Every example in :data:`EXAMPLES` is run by the tests.
"""

from __future__ import annotations

import textwrap
from typing import Any

from sim.paths import configs_dir, scenarios_dir

# (command, what it shows); each runs as written in well under a minute.
EXAMPLES: tuple[tuple[str, str], ...] = (
    ("python -m sim scenario=demo", "the prototype: five testers, one hosted model, a week"),
    (
        "python -m sim scenario=copilot_like workload.users=100 horizon_s=86400",
        "one weekday of a code assistant for 100 developers on self-hosted GPUs",
    ),
    (
        "python -m sim scenario=copilot_like 'path=[api]' apis.api.model=gpt_4o_mini "
        "horizon_s=86400",
        "the same requests sent to a hosted API instead",
    ),
    (
        "python -m sim scenario=copilot_like pools.gpu.hardware=h100_sxm_80gb_2023 "
        "workload.users=2000 horizon_s=86400",
        "other hardware from the catalog",
    ),
    (
        "python -m sim scenario=demo workload.arrival=trace workload.trace.speedup=4 "
        "horizon_s=3600",
        "replay the shipped Azure code trace four times faster",
    ),
    (
        "python -m sim scenario=demo levers.cache=exact",
        "the prototype behind a response cache: what it saves and what its node costs",
    ),
    (
        "python -m sim --multirun scenario=copilot_like workload.users=10,100,1000 "
        "horizon_s=86400 plots=false",
        "a small sweep: one job per user count, in multirun/<time>/",
    ),
    (
        "python -m sim scenario=copilot_like levers.autoscale=off",
        "the fixed fleet instead of the autoscaler: what the idle nights cost",
    ),
    (
        "python -m sim scenario=production 'apis.llm.outages.windows_h=[[34,36]]'",
        "the primary provider down on Tuesday morning; the fallback answers",
    ),
    (
        "python -m sim.plan scenario=copilot_like plan.target_s=4 plan.horizon_s=86400",
        "the cheapest fixed fleet whose p95 latency meets 4 s (python -m sim.plan --help)",
    ),
    ("python -m sim scenario=copilot_like --cfg job", "print the composed config, run nothing"),
)

KNOBS: tuple[tuple[str, str], ...] = (
    ("seed=INT", "random seed; the same seed gives an identical summary.json"),
    ("horizon_s=SECONDS", "simulated time (604800 = one week)"),
    ("warmup_s=SECONDS", "left out of statistics and costs; < horizon_s"),
    ("bucket_s=SECONDS", "ledger and time-series bucket; 0 = about horizon / 200"),
    ("workload.users=INT", "users of a sessions workload: the demo-to-production knob"),
    ("workload.clock_start_h=H", "where t=0 falls in the week, hours after Monday 00:00"),
    ("workload.arrival=KIND", "poisson | diurnal | mmpp | sessions | trace"),
    ("workload.rate_rps=RATE", "mean arrival rate of poisson and diurnal, requests/s"),
    ("workload.tokens.kind=KIND", "lognormal | trace | fixed"),
    ("path=[NAME,...]", "the components a request passes through, in order"),
    ("pools.NAME.replicas=INT", "self-hosted replicas (also .hardware=KEY, .model=KEY)"),
    ("apis.NAME.model=KEY", "hosted model, priced from api_models"),
    ("levers.cache=off|exact", "the same switches in every scenario (also levers.context,"),
    ("", "levers.routing, levers.review, levers.autoscale, levers.fallback);"),
    ("", "a scenario says which values it offers"),
    ("pools.NAME.autoscale.*", "autoscaler: .enabled, .min_replicas, .max_replicas, .target;"),
    ("", "also pools.NAME.balancer, .spot.*, .crash.*, .provision_s"),
    ("pools.NAME.scheduler=KIND", "continuous | chunked | static (also .max_batched_tokens);"),
    ("", ".devices_per_replica (tensor parallel), .precision, .kv_precision"),
    ("apis.NAME.outages.*", "provider outages: .windows_h=[[A,B]] (hours of the run), .mtbf_h"),
    ("resilience.NAME.*", "retries and fallbacks: .chain, .timeout_s, .max_attempts"),
    ("progress=BOOL plots=BOOL", "progress bar (default: on a terminal); PNG plots"),
)


def _scenarios() -> list[tuple[str, str]]:
    from omegaconf import OmegaConf

    out = []
    for p in sorted(scenarios_dir().glob("*.yaml")):
        cfg = OmegaConf.load(p)
        out.append((p.stem, str(cfg.get("description", ""))))
    return out


def _figures(group: str, spec: Any) -> str:
    """The one or two figures a user picks an entry by."""
    try:
        if group == "hardware":
            cal = spec.get("calibration") or {}
            fitted = ""
            if cal:
                moved = any(
                    str(c.get("source", "")).startswith("transferred") for c in cal.values()
                )
                how = "transferred" if moved else "calibrated"
                fitted = f", step times {how} {'/'.join(sorted(cal.keys()))}"
            return f"${float(spec.usd_per_hour):.2f}/h, {float(spec.memory_gb):g} GB{fitted} · "
        if group == "models":
            return f"{float(spec.params_b):g}B params · "
        if group == "api_models":
            return (
                f"${float(spec.usd_per_mtok_input):g} / ${float(spec.usd_per_mtok_output):g}"
                " per 1M in/out tokens · "
            )
    except (AttributeError, TypeError, ValueError):
        pass
    return ""


def catalog_entries(group: str) -> list[tuple[str, str]]:
    """``(name, figures and description)`` of every entry of a catalog group."""
    from omegaconf import OmegaConf

    entries = []
    for p in sorted((configs_dir() / group).glob("*.yaml")):
        for name, spec in OmegaConf.load(p).items():
            text = _figures(group, spec) + (str(spec.get("description", "")) if spec else "")
            entries.append((str(name), text))
    return entries


def _rows(rows: list[tuple[str, str]], width: int) -> list[str]:
    lines = []
    for name, text in rows:
        short = textwrap.shorten(text, 96 - width, placeholder="…") if text else ""
        lines.append(f"  {name:<{width}} {short}".rstrip())
    return lines


def help_text() -> str:
    """The whole ``--help`` page."""
    lines = [
        "aicostsim — what a production AI system costs, layer by layer, and how fast it answers.",
        "",
        "Usage",
        "  python -m sim scenario=NAME [key=value ...]          one run -> outputs/NAME/<time>/",
        "  python -m sim --multirun scenario=NAME key=a,b,c     a sweep, one job per value",
        "  python -m sim scenario=NAME --cfg job                 show the composed config",
        "",
        "Scenarios (scenario=NAME)",
        *_rows(_scenarios(), 14),
        "",
        "Main knobs (any key of the composed config can be set; all are checked before a run)",
        *_rows(list(KNOBS), 26),
        "",
    ]
    for group, how in (
        ("hardware", "pools.NAME.hardware=KEY"),
        ("models", "pools.NAME.model=KEY"),
        ("api_models", "apis.NAME.model=KEY"),
    ):
        rows = catalog_entries(group)
        lines.append(f"Catalog {group} ({how}); sources in configs/{group}/")
        lines += _rows(rows, max(len(n) for n, _ in rows) if rows else 10)
        lines.append("")
    lines.append("Examples")
    for cmd, what in EXAMPLES:
        lines += [f"  {cmd}", f"      {what}"]
    lines += [
        "",
        "Outputs: summary.json (figures + resolved config), ledger.csv, timeseries.csv,",
        "cost_by_layer.png, latency.png, load.png, run_info.json. A folder that holds a",
        "finished run is never written again.",
        "",
        "A value that cannot be simulated prints one line 'configuration error: KEY=VALUE ...'",
        "and exits 2 (HYDRA_FULL_ERROR=1 shows a traceback). Hydra's own flags: --hydra-help.",
    ]
    return "\n".join(lines)
