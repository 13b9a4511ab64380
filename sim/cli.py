"""Command line: ``python -m sim scenario=NAME [key=value ...]`` through Hydra.

The scenarios in ``scenarios/`` are registered as the config group ``scenario``; the
catalogs in ``configs/`` (hardware, models, api_models) are merged under their own
keys; the typed schema (:mod:`sim.config`) checks every key and type.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from sim.paths import configs_dir, scenarios_dir

log = logging.getLogger("sim")


def _register() -> None:
    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf

    from sim.config import register_configs

    register_configs()
    cs = ConfigStore.instance()
    for p in sorted(scenarios_dir().glob("*.yaml")):
        cs.store(group="scenario", name=p.stem, node=OmegaConf.load(p), package="_global_")


def _task(cfg) -> float | None:  # type: ignore[no-untyped-def]
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from sim.build import ConfigError
    from sim.outputs import format_summary, write_run
    from sim.run import run

    hc = HydraConfig.get()
    out_dir = Path(hc.runtime.output_dir)
    try:
        result = run(cfg)
    except (ConfigError, FileNotFoundError) as exc:
        if hc.mode == RunMode.MULTIRUN:
            raise
        print(f"aicostsim: configuration error: {exc}", file=sys.stderr)
        sys.exit(2)
    written = write_run(result, out_dir, plots=cfg.plots)
    print(format_summary(result.summary, result.run_info))
    print(f"\nwrote {', '.join(p.name for p in written)} to {out_dir}")
    return result.summary["cost_usd"]["total"]


def main() -> None:
    """Entry point of ``python -m sim`` and the ``aicostsim`` script."""
    import hydra

    _register()
    app = hydra.main(version_base="1.3", config_path=str(configs_dir()), config_name="config")(
        _task
    )
    app()


if __name__ == "__main__":
    main()
