"""``python -m sim.report SWEEP_DIR``: read a sweep, write report.csv and plots, summarise.

Exit status: 0 when at least one run was reported (failed, incomplete or unreadable
jobs are listed, not fatal); 1 when jobs were found but none finished; 2 with one line
``configuration error: ...`` when the folder does not exist, holds no job, cannot be
written, or an option is wrong.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from sim.checks import ConfigError
from sim.report import compare, quality
from sim.report.stats import MeanJob, configurations, has_replicates, points, report_mean_csv
from sim.report.style import short_number
from sim.report.sweep import FAILED, INCOMPLETE, UNREADABLE, Job, Sweep, load_sweep
from sim.report.table import Layout, choose_layout, ordered, report_csv, requests_per_day

EXIT_CONFIG = 2
EXIT_NOTHING_FINISHED = 1
CSV_NAME = "report.csv"
MEAN_CSV_NAME = "report_mean.csv"
MAX_TABLE_ROWS = 30

DESCRIPTION = """\
Report a sweep: one row per finished run in SWEEP_DIR/report.csv and three plots of
cost and latency against usage, drawn into SWEEP_DIR; with seeds swept, the mean and
95 % confidence interval of each configuration; with serving choices swept, their
break-even; with a lever swept, cost against quality.

A job is any folder under SWEEP_DIR (any depth) holding .hydra/overrides.yaml,
summary.json or error.json. Swept keys come from SWEEP_DIR/multirun.yaml and from
override values that differ between jobs (folder names are never parsed). Failed,
incomplete and unreadable jobs are listed, not fatal.
"""

EPILOG = """\
files written to SWEEP_DIR:
  report.csv                     job, each swept key, requests (arrived, completed,
                                 failed, dropped), throughput_rps, requests_per_day
                                 (measured; _asked and cells when the run had a usage
                                 level), users, total/monthly cost, per request, per 1k,
                                 per user-month, latency p50/p95/p99, ttft p50/p95,
                                 quality_acceptable_share, monthly_usd.LAYER x 8
  cost_vs_usage.png              monthly cost vs requests/day, log-log, stacked by layer
  cost_per_request_vs_usage.png  cost per request (and per user-month) vs requests/day
  latency_vs_usage.png           latency p50/p95/p99 (and TTFT) vs requests/day
  report_mean.csv                with seed swept (seed=0,1,2): one row per configuration
                                 (every swept key but seed), n, seeds, NAME_mean and
                                 NAME_ci95 (half-width of a Student-t 95 % interval)
                                 per key figure; the plots then draw means with a band
  break_even.png                 with a usage key and a serving choice swept
                                 ('path=[gpu],[api]', or any one other key): monthly
                                 cost per choice vs requests/day, log-log, crossings
                                 marked (and printed: "break-even: ...")
  cost_vs_quality.png            with levers.* swept and a quality model in the runs:
                                 cost per 1k requests vs acceptable answers (%)

usage is requests per day at the measured rate (arrived x 86400 / measured_s). The
swept number that sets it (usage.requests_per_day, workload.users, workload.rate_rps,
...) orders and labels the points; every other swept key draws its own line. Without a
spread in usage (one run, a sweep of levers alone) the plots show one bar per run.

exit status: 0 at least one run reported · 1 no job finished · 2 configuration error

example:
  python -m sim --multirun scenario=demo horizon_s=3600 workload.clock_start_h=9 \\
      workload.users=5,50,500,5000 levers.cache=off,exact plots=false \\
      hydra.sweep.dir=multirun/demo_users
  python -m sim.report multirun/demo_users
  python -m sim --multirun +sweep=usage_ladder scenario=demo seed=0,1,2    # CI bands
  python -m sim --multirun +sweep=usage_ladder scenario=copilot_like 'path=[gpu],[api]'
"""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a wrong argument in the project's one-line style."""

    def error(self, message: str) -> NoReturn:
        _config_error(f"{message}; usage: python -m sim.report SWEEP_DIR (see --help)")


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m sim.report",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("sweep_dir", metavar="SWEEP_DIR", help="a sweep folder (multirun/<id>)")
    p.add_argument(
        "--no-plots", action="store_true", help="write report.csv (and report_mean.csv) only"
    )
    p.add_argument(
        "--usage",
        metavar="KEY",
        help="the swept key that sets usage (default: found, e.g. workload.users)",
    )
    return p


def _config_error(line: str) -> NoReturn:
    print(f"configuration error: {line}", file=sys.stderr)
    raise SystemExit(EXIT_CONFIG)


# -- terminal summary ------------------------------------------------------------------------
def usd(x: Any) -> str:
    """``$14,961``, ``$5.78``, ``$0.00578``: the rounding of a run's terminal summary."""
    if not isinstance(x, (int, float)):
        return "n/a"
    if x == 0:
        return "$0"
    if abs(x) >= 100:
        return f"${x:,.0f}"
    return f"${x:,.2f}" if abs(x) >= 1 else f"${x:.4g}"


def problems(sweep: Sweep) -> list[str]:
    """One entry per job that did not finish: folder, overrides, then what went wrong."""
    lines = []
    for status, title in (
        (FAILED, "failed"),
        (INCOMPLETE, "incomplete"),
        (UNREADABLE, "unreadable summary"),
    ):
        jobs = sweep.having(status)
        if not jobs:
            continue
        lines.append(f"{title} ({len(jobs)}):")
        for job in jobs:
            lines.append(f"  {job.rel}: {job.override_text() or '(no overrides found)'}")
            lines.append(f"      {job.problem}")
    return lines


def _pm(job: Job, column: str, fmt: Any = usd) -> str:
    """``$1,234``, or ``$1,234 ± $56`` for a mean with a confidence interval."""
    value = (job.summary or {}).get(column)
    hw = job.half_width.get(column) if isinstance(job, MeanJob) else None
    if hw is None:
        return fmt(value)
    return fmt(value) + " ± " + (fmt(hw) if hw >= 1 or fmt is not usd else f"${short_number(hw)}")


def _share(job: Job) -> str:
    q = (job.summary or {}).get("quality")
    if q is None:
        return "—"  # no quality model: nothing in the run can spoil an answer
    hw = job.half_width.get("quality_acceptable_share") if isinstance(job, MeanJob) else None
    share = q.get("acceptable_share")
    text = f"{share:.1%}" if isinstance(share, (int, float)) else "n/a"
    return text + (f" ± {hw:.1%}" if hw is not None else "")


def mean_line(m: MeanJob) -> str:
    """One configuration's means over its seeds, with 95 % CI half-widths."""
    p95 = ((m.summary or {}).get("latency_s") or {}).get("p95")
    hw = m.half_width.get("latency_p95_s")
    latency = "n/a"
    if p95 is not None:
        latency = f"{p95:.3g} s" + (f" ± {hw:.2g} s" if hw is not None else "")
    return (
        f"mean of {len(m.runs)} seeds (± 95 % CI): per month {_pm(m, 'monthly_cost_usd')} · "
        f"per request {_pm(m, 'cost_per_request_usd')} · p95 latency {latency}"
    )


def table(sweep: Sweep, layout: Layout) -> list[str]:
    """Usage against monthly cost and cost per request, one line per finished run (per
    configuration, mean ± 95 % CI half-width, when the plots pool seeds)."""
    pooled = bool(layout.replicate_key)
    keys = [k for k in sweep.swept if k != layout.usage_key and not (pooled and k == "seed")]
    keys += [layout.usage_key] if layout.usage_key else []
    jobs = ordered(points(sweep, layout), layout)
    per_user = any((j.summary or {}).get("cost_per_user_month_usd") is not None for j in jobs)
    has_quality = any((j.summary or {}).get("quality") is not None for j in jobs)
    head = [*keys, *(["n"] if pooled else []), "requests/day (measured)", "per month"]
    head += ["per request"] + ["per user-month"] * per_user + ["acceptable"] * has_quality
    rows = []
    for job in jobs:
        s = job.summary or {}
        day = requests_per_day(s)
        cells = [job.overrides.get(k, "") for k in keys]
        cells += [str(len(job.runs))] if isinstance(job, MeanJob) else []
        cells += [f"{day:,.0f}" if day is not None else "n/a", _pm(job, "monthly_cost_usd")]
        cells += [_pm(job, "cost_per_request_usd")]
        cells += [_pm(job, "cost_per_user_month_usd")] * per_user
        cells += [_share(job)] * has_quality
        rows.append(cells)
    if not keys:
        head.insert(0, "job")
        for cells, job in zip(rows, jobs):
            cells.insert(0, job.rel)
    shown = rows[:MAX_TABLE_ROWS]
    widths = [max(len(str(c)) for c in col) for col in zip(head, *shown)]
    n_keys = len(keys) or 1

    def fmt(cells: list[str]) -> str:
        return "  ".join(
            str(c).ljust(w) if i < n_keys else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    out = [fmt(head)] + [fmt(r) for r in shown]
    if len(rows) > len(shown):
        out.append(f"... {len(rows) - len(shown)} more rows in {CSV_NAME}")
    return out


def notes(sweep: Sweep) -> list[str]:
    """The runs' notes, each once, with how many runs share it."""
    counts: dict[str, int] = {}
    for job in sweep.finished:
        for note in (job.summary or {}).get("notes") or []:
            counts[note] = counts.get(note, 0) + 1
    n = len(sweep.finished)
    return [f"note ({c} of {n} runs): {text}" for text, c in counts.items()]


def summary_text(sweep: Sweep, layout: Layout, written: list[Path]) -> str:
    n = len(sweep.finished)
    counts = {s: len(sweep.having(s)) for s in (FAILED, INCOMPLETE, UNREADABLE)}
    scen = dict.fromkeys(str((j.summary or {}).get("scenario")) for j in sweep.finished)
    head = f"sweep report · {sweep.root} · scenario {', '.join(scen)}"
    jobs = f"{len(sweep.jobs)} job" + "s" * (len(sweep.jobs) != 1)
    count = (
        f"runs {n} reported of {jobs} · failed {counts[FAILED]} · "
        f"incomplete {counts[INCOMPLETE]} · unreadable {counts[UNREADABLE]}"
    )
    swept = ", ".join(sweep.swept) if sweep.swept else "nothing (no key differs between jobs)"
    lines = [head, count, f"swept: {swept}", f"plots: {layout.reason}", ""]
    lines += table(sweep, layout)
    compared = compare.lines(compare.plan(sweep, layout))
    compared += quality.lines(quality.plan(sweep, layout))
    if has_replicates(sweep) and not layout.replicate_key:  # a sweep of seeds alone
        compared += [mean_line(m) for m in configurations(sweep)]
    lines += ["", *compared] if compared else []
    extra = problems(sweep)
    if extra:
        lines += ["", *extra]
    lines += ["", *notes(sweep)] if notes(sweep) else []
    lines += ["", f"wrote {', '.join(p.name for p in written)} to {sweep.root}"]
    return "\n".join(lines)


def _plots(sweep: Sweep, layout: Layout) -> list[Path]:
    """Draw the plots; a bug in drawing costs the plots (one line), not the report.

    ``HYDRA_FULL_ERROR=1`` shows the traceback instead, as for ``python -m sim``.
    """
    from sim.report.plots import save_plots

    try:
        return save_plots(sweep, layout, sweep.root)
    except OSError:
        raise
    except Exception as exc:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        print(f"plots not drawn: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return []


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m sim.report``."""
    args = parser().parse_args(argv)
    try:
        sweep = load_sweep(Path(args.sweep_dir))
        if args.usage and args.usage not in sweep.swept:
            raise ConfigError(
                f"--usage={args.usage!r} is not a swept key; swept: "
                + (", ".join(sweep.swept) or "none"),
                key="--usage",
            )
    except ConfigError as exc:
        _config_error(str(exc))
    if not sweep.finished:
        print(
            f"sweep report · {sweep.root}: none of {len(sweep.jobs)} jobs finished; "
            "nothing written\n" + "\n".join(problems(sweep))
        )
        raise SystemExit(EXIT_NOTHING_FINISHED)
    layout = choose_layout(sweep, args.usage)
    from sim.outputs import atomic_write_text

    written = [sweep.root / CSV_NAME]
    try:
        atomic_write_text(written[0], report_csv(sweep))
        if has_replicates(sweep):
            written.append(sweep.root / MEAN_CSV_NAME)
            atomic_write_text(written[-1], report_mean_csv(sweep))
        if not args.no_plots:
            written += _plots(sweep, layout)
    except OSError as exc:
        _config_error(
            f"SWEEP_DIR={str(sweep.root)!r} cannot be written ({exc.strerror or exc}); "
            "copy the sweep to a folder you can write"
        )
    try:
        print(summary_text(sweep, layout, written), flush=True)
    except BrokenPipeError:  # `| head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


if __name__ == "__main__":
    main()
