"""``python -m sim.plan scenario=NAME [plan.KEY=VALUE ...] [KEY=VALUE ...]``: size a pool for an SLO.

Finds the cheapest hardware × batch size × replica count of one pool that meets a
latency target, ruling most candidates out with a quick queueing estimate and
confirming the best by simulation (:mod:`sim.plan.search`). Prints the candidates it
considered with cost and latency, the answer, and how many simulations it ran; writes
``plan.csv`` and ``plan.json`` to ``plan.out``. Errors are one line naming the key
(``configuration error: plan.target='p42' ...``), exit 2.
"""

from __future__ import annotations

import argparse
import copy
import csv
import io
import math
import sys
from pathlib import Path
from typing import Any, NoReturn

from sim.plan.knobs import KNOB_HELP, PlanConfig, check_against, dimensions, parse, split_args
from sim.plan.search import Planner, PlanResult, Row, _secs

EXIT_CONFIG = 2
EXIT_INTERRUPTED = 130

EXAMPLES = (
    "python -m sim.plan scenario=copilot_like workload.users=100 plan.target_s=4",
    "python -m sim.plan scenario=copilot_like workload.users=1000 "
    "'plan.hardware=[a100_80gb_sxm_2023,h100_sxm_80gb_2023]' plan.horizon_s=86400 "
    "'plan.compare_path=[api]'",
)


def parser() -> argparse.ArgumentParser:
    knobs = "\n".join(f"  plan.{k:<15} {v}" for k, v in KNOB_HELP.items())
    examples = "\n".join(f"  {e}" for e in EXAMPLES)
    p = argparse.ArgumentParser(
        prog="python -m sim.plan",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Size a pool for a latency target: the cheapest hardware x batch size x replicas\n"
            "that meets it. A quick queueing estimate on the roofline service time rules out\n"
            "most candidates; the best few are confirmed by simulation (same seed), until the\n"
            "answer meets the target and one replica fewer does not."
        ),
        epilog=(
            f"planner knobs (plan.KEY=VALUE):\n{knobs}\n\n"
            "every other KEY=VALUE overrides the scenario, as with python -m sim "
            "(workload.users=1000, horizon_s=86400 ...)\n\n"
            f"examples:\n{examples}\n\nmore: docs/planning.md"
        ),
    )
    p.add_argument("args", nargs="*", metavar="KEY=VALUE",
                   help="scenario=NAME (required), plan.* knobs, scenario overrides")  # fmt: skip
    return p


def _fail(line: str) -> NoReturn:
    print(line if line.startswith("configuration error") else f"configuration error: {line}",
          file=sys.stderr)  # fmt: skip
    raise SystemExit(EXIT_CONFIG)


# -- output ------------------------------------------------------------------------------------
def _usd(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"${x:,.0f}" if x >= 100 else f"${x:,.2f}"


def _short(key: str, pool: str) -> str:
    prefix = f"pools.{pool}."
    return key[len(prefix) :] if key.startswith(prefix) else key


def row_dict(row: Row, res: PlanResult) -> dict[str, Any]:
    """One candidate as a flat record (plan.csv, plan.json)."""
    sim = row.sim
    monthly = None if row.pool_monthly_usd is None else row.pool_monthly_usd + res.other_monthly_usd
    return {
        **{_short(k, res.pool): v for k, v in row.settings.items()},
        "replicas": row.replicas,
        "monthly_usd": monthly,
        "cost_per_user_month_usd": monthly / res.users if res.users and monthly else None,
        f"estimated_{res.target}": _num(row.estimate_s),
        f"simulated_{res.target}": _num(sim.value_s) if sim else None,
        "simulated_p95_latency_s": sim.p95_latency_s if sim else None,
        "simulated_p95_ttft_s": sim.p95_ttft_s if sim else None,
        "utilization": sim.utilization if sim else None,
        "meets": row.meets,
        "status": row.status,
        "note": row.note,
    }


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def table(res: PlanResult) -> str:
    """The candidates considered, one line each."""
    keys = [_short(k, res.pool) for k in (res.rows[0].settings if res.rows else {})]
    widths = [max(len(k), *(len(str(r.settings[f"pools.{res.pool}.{k}"])) for r in res.rows
                            if f"pools.{res.pool}.{k}" in r.settings)) for k in keys]  # fmt: skip
    stat = res.target.replace("_s", "")
    head = "  ".join(f"{k:<{w}}" for k, w in zip(keys, widths))
    head += f"  {'replicas':>8}  {'$/month':>10}  {'est. ' + stat:>20}  {'simulated':>10}  meets"
    lines = [head, "-" * len(head)]
    for r in res.rows:
        cells = "  ".join(f"{str(v):<{w}}" for v, w in zip(r.settings.values(), widths))
        if r.sim is not None:
            tail = f"{_secs(r.sim.value_s):>10}  {'yes' if r.sim.meets else 'no'}"
        else:
            note = r.note.split("; use at least")[0] if r.note != "answer" else ""
            tail = f"{r.status}: {note}" if note else r.status
        mark = "   <- answer" if r.note == "answer" else ""
        if r.replicas is None:
            reps, monthly = "any" if r.estimate_s is not None else "—", "—"
        else:
            reps, monthly = str(r.replicas), _usd(r.pool_monthly_usd + res.other_monthly_usd)  # type: ignore[operator]
        lines.append(f"{cells}  {reps:>8}  {monthly:>10}  {_secs(r.estimate_s):>20}  {tail}{mark}")
    return "\n".join(lines)


def report(res: PlanResult) -> str:
    """The whole printout: header, table, answer, comparison and the search's effort."""
    prof = res.profile
    who = f" · {res.users:,} users" if res.users else ""
    cells = f" · one of {res.cells:,} cells" if res.cells > 1 else ""
    out = [
        f"aicostsim plan · scenario {res.scenario} · pool {res.pool} · target "
        f"{res.target} <= {_secs(res.target_s)}",
        f"measured over {res.measured_over}{who}{cells} · {prof.arrivals:,} requests, "
        f"busiest {prof.window_s / 60:g}-minute window {prof.peak_rps:,.2f} req/s",
        "",
        table(res),
        "",
    ]
    a = res.answer
    if a is not None and a.sim is not None:
        settings = ", ".join(f"{_short(k, res.pool)} {v}" for k, v in a.settings.items())
        monthly = (a.pool_monthly_usd or 0.0) + res.other_monthly_usd
        per_user = f" (${monthly / res.users:,.2f} per user-month)" if res.users else ""
        line = (a.replicas or 1) - 1
        below = (
            f"; {line} replica{'s' if line != 1 else ''} simulated: "
            f"{_secs(res_line_value(res, a, line))}"
            if line >= 1 and res_line_value(res, a, line) is not None
            else ("" if line < 1 else f"; {line} not simulated (plan.confirm reached)")
        )
        out.append(
            f"answer: {a.replicas} replica{'s' if a.replicas != 1 else ''} ({settings}): "
            f"{_usd(monthly)} per month{per_user}; simulated {res.target} "
            f"{_secs(a.sim.value_s)}{below}"
        )
    else:
        out.append(
            f"answer: none of the candidates meets {res.target} <= {_secs(res.target_s)} "
            "(see the table)" + _what_next(res)
        )
    if res.compare is not None:
        c = res.compare
        per_user = (f" (${c['cost_per_user_month_usd']:,.2f} per user-month)"
                    if c["cost_per_user_month_usd"] is not None else "")  # fmt: skip
        out.append(
            f"compare: path=[{','.join(c['path'])}]: {_usd(c['monthly_usd'])} per month{per_user}; "
            f"{res.target} {_secs(c['value_s'])} ({'meets' if c['meets'] else 'misses'})"
        )
    n = res.counts
    out.append(
        f"{res.simulations} simulation{'s' if res.simulations != 1 else ''}, "
        f"{n['ruled out by the estimate']:,} candidates ruled out by the estimate, "
        f"{n['ruled out by cost']:,} by cost, {n['implied by a simulation']:,} implied by a "
        f"simulation"
        + (f", {n['left open']:,} left open" if n["left open"] else "")
        + f" (of {res.candidates:,} candidates); {res.wall_s:.0f} s"
    )
    for note in res.notes:
        out.append(f"note: {note}")
    return "\n".join(out)


def _what_next(res: PlanResult) -> str:
    """What to try when nothing met: other hardware, a target above the floors, more replicas."""
    floors = [ln.floor_s for ln in res.lines if ln.floor_s is not None]
    tried = {str(ln.settings.get(f"pools.{res.pool}.hardware")) for ln in res.lines}
    if floors and min(floors) > res.target_s:  # the service time alone misses it
        from sim.compose import compose

        others = [h for h in compose(res.scenario).hardware if h not in tried]
        hint = (
            f"; faster hardware (plan.hardware=[...]; the catalog also has {', '.join(others)})"
            if others
            else ""
        )
        return (
            f": even an idle replica's {res.target} is {_secs(min(floors))}: try a target "
            f"above it (plan.target_s=...){hint}"
        )
    return ": try more replicas (plan.max_replicas=...), other hardware or a looser target"


def res_line_value(res: PlanResult, answer: Row, replicas: int) -> float | None:
    for line in res.lines:
        if line.settings == answer.settings and replicas in line.sims:
            return line.sims[replicas].value_s
    return None


def write(res: PlanResult, plan: PlanConfig, overrides: list[str], out: Path) -> list[Path]:
    """``plan.csv`` (the table) and ``plan.json`` (everything), written atomically."""
    from sim.outputs import atomic_write_text

    records = [row_dict(r, res) for r in res.rows]
    buf = io.StringIO()
    if records:
        w = csv.DictWriter(buf, fieldnames=list(records[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(records)
    atomic_write_text(out / "plan.csv", buf.getvalue())
    doc = {
        "scenario": res.scenario,
        "overrides": overrides,
        "plan": {k: getattr(plan, k) for k in KNOB_HELP},
        "pool": res.pool,
        "target": res.target,
        "target_s": res.target_s,
        "measured_over": res.measured_over,
        "users": res.users,
        "cells": res.cells,
        "load": {
            "requests": res.profile.arrivals,
            "window_s": res.profile.window_s,
            "peak_rps": res.profile.peak_rps,
            "mean_rps": res.profile.mean_rps,
        },  # fmt: skip
        "answer": row_dict(res.answer, res) if res.answer is not None else None,
        "other_monthly_usd": res.other_monthly_usd,
        "compare": res.compare,
        "simulations": res.simulations,
        "candidates": res.candidates,
        "counts": res.counts,
        "wall_s": res.wall_s,
        "rows": records,
        "notes": res.notes,
    }
    from sim.outputs import summary_json

    atomic_write_text(out / "plan.json", summary_json(doc))
    return [out / "plan.csv", out / "plan.json"]


# -- the command -------------------------------------------------------------------------------
def plan_scenario(
    scenario: str, plan: PlanConfig, overrides: list[str], log: Any = None
) -> tuple[PlanResult, Planner]:
    """Compose ``scenario`` with ``overrides`` and run the planner (the command line's work)."""
    from sim.compose import compose

    return plan_config(compose(scenario, overrides), plan, log)


def plan_config(cfg: Any, plan: PlanConfig, log: Any = None) -> tuple[PlanResult, Planner]:
    """Run the planner on a composed config (tests build configs of their own)."""
    from omegaconf import OmegaConf

    from sim.build import check

    cfg = copy.deepcopy(cfg) if OmegaConf.is_config(cfg) else OmegaConf.create(cfg)
    cfg.progress = False
    cfg.plots = False
    if plan.horizon_s is not None:
        cfg.horizon_s = float(plan.horizon_s)
    if plan.clock_start_h is not None:
        cfg.workload.clock_start_h = float(plan.clock_start_h)
    check(cfg)
    from sim.levers import apply_levers

    cfg = apply_levers(cfg)  # once, here: the candidates' settings are written over it
    for lever in cfg.levers:
        cfg.levers[lever] = None
    pool = check_against(plan, cfg)
    fixed_fleet = bool(OmegaConf.select(cfg, f"pools.{pool}.autoscale.enabled", default=False))
    if fixed_fleet:  # the planner sizes a fixed fleet: the pool's autoscaler sits out
        cfg.pools[pool].autoscale.enabled = False
    short = plan.horizon_s is not None or plan.clock_start_h is not None
    planner = Planner(
        cfg, plan, pool, dimensions(plan, pool, cfg.pools[pool]), log=log, short_window=short
    )
    result = planner.run()
    if plan.compare_path:
        result.compare = planner.compare(list(plan.compare_path))
    if short and (result.other_monthly_usd or result.compare is not None):
        result.notes.append(
            "usage-billed monthly costs (the comparison, costs beside the pool) are the "
            "confirmation window's cost per request x the long-run requests of a month"
        )
    if fixed_fleet:
        result.notes.append(
            f"pools.{pool} autoscales in the scenario; the planner sized a fixed fleet "
            "(its autoscaler off in every run): compare with the autoscaled run itself"
        )
    scheduler = OmegaConf.select(cfg, f"pools.{pool}.scheduler", default="continuous")
    if scheduler != "continuous":
        result.notes.append(
            f"pools.{pool}.scheduler={scheduler}: the queueing estimate assumes prefill-first "
            "continuous batching (a bound that still holds for an idle replica: neither "
            "chunks nor whole batches make one request faster); the simulations, which run "
            f"the {scheduler} scheduler, decide the answer"
        )
    if pool not in cfg.path:
        result.notes.append(
            f"pool {pool!r} is not on the top-level path {list(cfg.path)}: the estimate "
            "assumed every request reaches it (the simulations did not)"
        )
    return result, planner


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in argv):
        parser().print_help()
        return
    from sim.checks import ConfigError
    from sim.paths import scenario_names

    scenario, plan_args, overrides = split_args(argv)
    try:
        bad = next((a for a in overrides if "=" not in a), None)
        if bad is not None:
            raise ConfigError(f"{bad!r} is not KEY=VALUE (see python -m sim.plan --help)")
        names = scenario_names()
        if scenario is None:
            raise ConfigError(f"scenario is missing: scenario=NAME; scenarios: {', '.join(names)}")
        if scenario not in names:
            from sim.checks import did_you_mean

            raise ConfigError(
                f"scenario={scenario!r} is not a scenario{did_you_mean(scenario, names)}; "
                f"scenarios: {', '.join(names)}"
            )
        plan = parse(plan_args)
        result, _ = plan_scenario(scenario, plan, overrides)
    except KeyboardInterrupt:
        print("interrupted; no plan written", file=sys.stderr)
        raise SystemExit(EXIT_INTERRUPTED) from None
    except Exception as exc:  # noqa: BLE001 - a known error is one line
        from sim.hydra_errors import explain

        line = explain(exc, [f"scenario={scenario}", *overrides])
        if line is None:
            raise
        _fail(line)
    print(report(result))
    from sim.runfolder import ensure_writable, run_id

    out = Path(plan.out) if plan.out else Path("outputs") / "plan" / result.scenario / run_id()
    try:
        ensure_writable(out, "plan.out")
    except ConfigError as exc:
        _fail(str(exc))
    written = write(result, plan, overrides, out)
    print(f"\nwrote {', '.join(p.name for p in written)} to {out}")
