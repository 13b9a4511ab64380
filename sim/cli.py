"""Command line: ``python -m sim scenario=NAME [key=value ...]`` through Hydra.

The scenarios in ``scenarios/`` are registered as the config group ``scenario``; the
catalogs in ``configs/`` (hardware, models, api_models) are merged under their own
keys; the typed schema (:mod:`sim.config`) checks every key and type.

Errors: Hydra is asked to raise instead of printing (``HYDRA_FULL_ERROR``), and
:func:`main` says each known error in one line (:mod:`sim.hydra_errors`): exit 2 for
a configuration error, 130 for Ctrl-C. A user who sets ``HYDRA_FULL_ERROR=1`` gets the
traceback. In a sweep a failing job prints its line, records ``error.json`` and the
others go on (:mod:`sim.runfolder` reports the failures at the end).
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from pathlib import Path

from sim.paths import configs_dir, scenarios_dir

log = logging.getLogger("sim")

EXIT_CONFIG = 2
EXIT_INTERRUPTED = 130


def _register() -> None:
    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf

    from sim.config import register_configs

    register_configs()
    cs = ConfigStore.instance()
    for p in sorted(scenarios_dir().glob("*.yaml")):
        cs.store(group="scenario", name=p.stem, node=OmegaConf.load(p), package="_global_")


def _interrupted_line(exc: BaseException) -> str:
    at = getattr(exc, "at_s", None)
    where = f"at simulated t={at:,.1f} s" if at is not None else "before the simulation started"
    return f"interrupted {where}; no results written"


def _task(cfg) -> float | None:  # type: ignore[no-untyped-def]
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from sim.hydra_errors import explain
    from sim.outputs import format_summary, write_run
    from sim.run import run
    from sim.runfolder import discard_rejected, write_error

    hc = HydraConfig.get()
    out_dir = Path(hc.runtime.output_dir)
    sweep = hc.mode == RunMode.MULTIRUN
    label = f"job {hc.job.num} ({' '.join(hc.overrides.task)}): " if sweep else ""
    if sweep and resumed(out_dir):
        print(f"{label}finished in an earlier attempt of this sweep; kept", file=sys.stderr)
        return None
    try:
        result = run(cfg)
        written = write_run(result, out_dir, plots=cfg.plots)
    except KeyboardInterrupt as exc:
        print(f"{label}{_interrupted_line(exc)}", file=sys.stderr)
        if not sweep:
            discard_rejected(out_dir)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:
        line = explain(exc, list(hc.overrides.task))
        if not sweep:
            if line is None or traceback_wanted():
                raise
            print(line, file=sys.stderr)
            discard_rejected(out_dir)
            sys.exit(EXIT_CONFIG)
        if line is None:  # a bug: keep the traceback beside the job, one line on screen
            (out_dir / "traceback.txt").write_text(traceback.format_exc())
            line = f"internal error: {type(exc).__name__}: {exc} (traceback in {out_dir})"
        print(f"{label}{line}", file=sys.stderr)
        write_error(out_dir, line, list(hc.overrides.task))
        return None
    print(format_summary(result.summary, result.run_info))
    print(f"\nwrote {', '.join(p.name for p in written)} to {out_dir}")
    return result.summary["cost_usd"]["total"]


def resumed(out_dir: Path) -> bool:
    """A sweep job whose folder already holds its result (a resumed sweep): skip it.

    A job that failed before is tried again: its ``error.json`` is removed first.
    """
    from sim.runfolder import ERROR, SUMMARY

    if (out_dir / SUMMARY).exists():
        return True
    (out_dir / ERROR).unlink(missing_ok=True)
    return False


TRACEBACK_ENV = "AICOSTSIM_TRACEBACK"  # set when the user asked for tracebacks


def traceback_wanted() -> bool:
    """The user asked for tracebacks (HYDRA_FULL_ERROR=1 before :func:`main` set it)."""
    return os.environ.get(TRACEBACK_ENV) == "1"


def main() -> None:
    """Entry point of ``python -m sim`` and the ``aicostsim`` script."""
    argv = sys.argv[1:]
    if any(a in ("--help", "-h") for a in argv):
        from sim.helptext import help_text

        print(help_text())
        return
    import hydra

    from sim.hydra_errors import explain

    _register()
    if os.environ.get("HYDRA_FULL_ERROR") == "1":
        os.environ[TRACEBACK_ENV] = "1"
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra raises; we print one line (see module)
    app = hydra.main(version_base="1.3", config_path=str(configs_dir()), config_name="config")(
        _task
    )
    from sim.runfolder import active_sweep, finish_sweep

    try:
        app()
    except KeyboardInterrupt as exc:
        sweep = active_sweep()
        if sweep is not None:  # jobs on a cluster may still run: say how to pick them up
            print(
                f"sweep interrupted; jobs already submitted to a cluster keep running "
                f"(squeue); run the same command with hydra.sweep.dir={sweep} to keep what "
                "finished and run the rest",
                file=sys.stderr,
            )
        else:
            print(_interrupted_line(exc), file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:
        line = explain(exc, argv)
        sweep = active_sweep()
        if sweep is not None and line is None and not traceback_wanted():
            # the launcher lost jobs (SLURM killed them): say what finished and what did not
            print(f"sweep: the launcher stopped: {type(exc).__name__}: {exc}", file=sys.stderr)
            finish_sweep(sweep)
            sys.exit(1)
        if line is None or traceback_wanted():
            raise
        print(line, file=sys.stderr)
        sys.exit(EXIT_CONFIG)


if __name__ == "__main__":
    main()
