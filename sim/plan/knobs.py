"""The planner's knobs (``plan.*`` on the command line): a typed dataclass and its checks.

``python -m sim.plan scenario=NAME [plan.KEY=VALUE ...] [scenario overrides ...]``:
arguments that start with ``plan.`` are the planner's, parsed like Hydra values
(``plan.hardware=[a,b]``, ``plan.target_s=2``), checked with :mod:`sim.checks` (one line
naming the key, exit 2); every other ``KEY=VALUE`` is an override of the scenario.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from sim import checks
from sim.checks import ConfigError, knob
from sim.plan.estimate import TARGETS


@dataclass
class PlanConfig:
    """What to size, for which target, over which search space."""

    # the pool to size (pools.NAME); null: the first pool on the scenario's path
    pool: str | None = None
    target: str = knob("p95_latency_s", choices=tuple(TARGETS))
    # assumption: a completion shown within ~2 s is still useful to a developer who paused
    # (GitHub reports a mean under 0.2 s for Copilot, QCon SF 2024; see docs/planning.md)
    target_s: float = knob(2.0, gt=0)
    hardware: list[str] | None = None  # catalog names; null: the pool's own
    max_batch_size: list[int] | None = knob(None, ge=1, integer=True, none_ok=True)
    max_replicas: int = knob(512, ge=1, le=100_000, integer=True)  # the search's upper bound
    confirm: int = knob(6, ge=1, le=50, integer=True)  # simulations per hardware x batch
    horizon_s: float | None = knob(None, gt=0, none_ok=True)  # confirmation runs' horizon
    clock_start_h: float | None = knob(None, ge=0, lt=168, none_ok=True)  # ... and start
    window_s: float = knob(300.0, gt=0)  # the estimate's load windows
    compare_path: list[str] | None = None  # also run the scenario with this path, once
    out: str | None = None  # folder for plan.csv and plan.json


KNOB_HELP = {
    "pool": "the pool to size (pools.NAME); default: the first pool on the path",
    "target": "what must stay under plan.target_s: " + ", ".join(TARGETS),
    "target_s": "the target, seconds (default 2.0)",
    "hardware": "hardware to try, e.g. [a100_80gb_sxm_2023,h100_sxm_80gb_2023]; default: the pool's",
    "max_batch_size": "batch sizes to try, e.g. [32,64,128]; default: the pool's",
    "max_replicas": "the most replicas considered (default 512)",
    "confirm": "simulations at most per hardware x batch (default 6)",
    "horizon_s": "the confirmation runs' horizon (default: the scenario's); the target is "
    "measured over it",
    "clock_start_h": "their start in the week, hours after Monday 00:00 (default: the scenario's)",
    "window_s": "width of the load windows of the quick estimate (default 300)",
    "compare_path": "also run the scenario once with this path, e.g. [api], and print it beside",
    "out": "folder for plan.csv and plan.json (default outputs/plan/SCENARIO/TIME)",
}


def split_args(argv: list[str]) -> tuple[str | None, list[str], list[str]]:
    """(scenario, plan.* arguments, scenario overrides) of the command line."""
    scenario = None
    plan: list[str] = []
    overrides: list[str] = []
    for arg in argv:
        if arg.startswith("scenario="):
            scenario = arg.split("=", 1)[1]
        elif arg.startswith("plan."):
            plan.append(arg)
        else:
            overrides.append(arg)
    return scenario, plan, overrides


def parse(args: list[str]) -> PlanConfig:
    """The typed :class:`PlanConfig` of ``plan.KEY=VALUE`` arguments (ConfigError if bad)."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    values: dict[str, Any] = {}
    for arg in args:
        if "=" not in arg:
            checks.fail(arg, None, "needs a value: plan.KEY=VALUE")
        key, raw = arg.split("=", 1)
        try:
            parsed = OmegaConf.to_container(OmegaConf.from_dotlist([f"v={raw}"]))["v"]  # type: ignore[index]
        except OmegaConfBaseException:
            parsed = raw
        values[key[len("plan.") :]] = parsed
    names = [f.name for f in dataclasses.fields(PlanConfig)]
    defaults = {n: getattr(PlanConfig(), n) for n in names}
    for key in values:
        if key not in names:
            raise ConfigError(
                f"plan.{key}={checks.show(values[key])} is not a known key"
                f"{checks.did_you_mean(key, names)} (plan has: {', '.join(names)})",
                key=f"plan.{key}",
            )
    merged = {**defaults, **values}
    for f in dataclasses.fields(PlanConfig):
        rule = f.metadata.get(checks.RULE)
        if rule is not None and f.name in merged:
            rule.check(f"plan.{f.name}", merged[f.name])
    for key in ("hardware", "compare_path", "max_batch_size"):
        v = merged[key]
        if v is not None and (not isinstance(v, list) or not v):
            checks.fail(f"plan.{key}", v, "must be a non-empty list, e.g. [a,b]")
    for key in ("pool", "out"):
        v = merged[key]
        if v is not None and not isinstance(v, str):
            checks.fail(f"plan.{key}", v, "must be a name")
    merged["target_s"] = float(merged["target_s"])
    return PlanConfig(**merged)


def check_against(plan: PlanConfig, cfg: Any) -> str:
    """Check the knobs that name parts of the scenario; returns the pool's name."""
    pools = list(cfg.pools)
    pool = plan.pool
    if pool is None:
        on_path = [n for n in cfg.path if n in cfg.pools]
        if not on_path:
            raise ConfigError(
                f"plan.pool=null: scenario {cfg.name!r} has no pool on its path "
                f"(path={checks.show(list(cfg.path))}); name one with plan.pool=NAME"
                + (f" (pools: {', '.join(pools)})" if pools else " (it has no pools)"),
                key="plan.pool",
            )
        pool = on_path[0]
    if pool not in cfg.pools:
        checks.fail(
            "plan.pool",
            pool,
            f"names no pool of scenario {cfg.name!r}{checks.did_you_mean(pool, pools)}; "
            f"pools: {', '.join(pools) or 'none'}",
        )
    for i, hw in enumerate(plan.hardware or ()):
        checks.lookup(f"plan.hardware[{i}]", hw, cfg.hardware, "hardware")
    from sim.build import check_name, declared

    for i, name in enumerate(plan.compare_path or ()):
        check_name(f"plan.compare_path[{i}]", name, list(declared(cfg)))
    return pool


def dimensions(
    plan: PlanConfig, pool: str, pc: Any, extra: dict[str, list[Any]] | None = None
) -> list[tuple[str, list[Any]]]:
    """The search's discrete dimensions as (dotted key, values); replicas is searched apart.

    ``extra`` adds any other key (``pools.NAME.devices_per_replica: [1, 2]``): the
    estimate reads the candidate's pool config, whatever the dimensions set.
    """
    key = f"pools.{pool}"
    return [
        (f"{key}.hardware", list(plan.hardware or [pc.hardware])),
        (f"{key}.max_batch_size", [int(b) for b in (plan.max_batch_size or [pc.max_batch_size])]),
        *(extra or {}).items(),
    ]
