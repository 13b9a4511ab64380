"""Compose a scenario's config without the CLI (tests, benchmarks, notebooks, sweeps).

from sim.compose import compose, run_scenario
cfg = compose("copilot_like", ["workload.users=100", "horizon_s=86400"])
result = run_scenario("demo", ["seed=3"])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sim.paths import configs_dir


def compose(scenario: str, overrides: Sequence[str] = ()) -> Any:
    """The composed, typed config of ``scenario`` with Hydra-style ``overrides``."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from sim.cli import _register

    _register()
    if GlobalHydra.instance().is_initialized():
        GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(configs_dir()), version_base="1.3"):
        return hydra_compose(config_name="config", overrides=[f"scenario={scenario}", *overrides])


def run_scenario(scenario: str, overrides: Sequence[str] = ()) -> Any:
    """Compose and run ``scenario``; returns the :class:`sim.run.RunResult`."""
    from sim.run import run

    return run(compose(scenario, overrides))
