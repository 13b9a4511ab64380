"""Check the GPU step-time model against published measurements; print and write the table.

    python benchmarks/validate_gpu.py [--cases benchmarks/gpu_data/cases.yaml]

Simulates every case of ``benchmarks/gpu_data/cases.yaml`` with the calibration in
``configs/hardware/default.yaml`` (each measured the way its source measured it, see
:mod:`sim.calibration.measure`), prints case, published figure, simulated figure and
error, then the median and worst absolute error of each set. The goal for the
validation set -- cases the fit never saw -- is a median within 10 % and none worse
than 25 %; the script exits 1 when it is missed. Writes
``benchmarks/results/validate_gpu.json`` and ``validate_gpu.md`` (the README's table)
and ``docs/images/gpu_validation.png`` (published against simulated).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from sim.calibration import load_cases  # noqa: E402
from sim.calibration.report import evaluate, markdown, plot, summary, text  # noqa: E402
from sim.outputs import atomic_write_text  # noqa: E402

# the model before calibration: one global pair, no overheads (README "GPU step times")
UNCALIBRATED = {
    "prefill_efficiency": 0.5,
    "decode_efficiency": 0.6,
    "step_overhead_s": 0.0,
    "seq_overhead_s": 0.0,
    "allreduce_latency_s": 0.0,
}
GOAL_MEDIAN = 0.10
GOAL_MAX = 0.25


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default=str(HERE / "gpu_data" / "cases.yaml"))
    ap.add_argument("--out", default=str(HERE / "results" / "validate_gpu.json"))
    ap.add_argument(
        "--plot",
        default=str(HERE.parent / "docs" / "images" / "gpu_validation.png"),
        help="published against simulated (PNG); empty: no plot",
    )
    ap.add_argument(
        "--uncalibrated",
        action="store_true",
        help="score the model as it was before calibration (MFU 0.5, MBU 0.6 everywhere, "
        "no overheads, no all-reduce latency); prints the summary only, writes nothing",
    )
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    cases = load_cases(args.cases)
    order = {"validation": 0, "calibration": 1, "reference": 2}
    cases.sort(key=lambda c: (order[c.set], c.hardware, c.precision, c.metric, c.model, c.tp))
    rows = evaluate(cases, UNCALIBRATED if args.uncalibrated else None)
    took = time.perf_counter() - t0
    if args.uncalibrated:
        for which in ("validation", "calibration"):
            s = summary(rows, which)
            print(
                f"uncalibrated, {which}: {s['cases']} cases, median |error| "
                f"{s['median_abs_error']:.1%}, worst {s['max_abs_error']:.1%}"
            )
        return 0
    print(text(rows))
    print()
    sums = [summary(rows, s) for s in ("validation", "calibration", "reference")]
    for s in sums:
        if s["cases"]:
            print(
                f"{s['set']:<11} {s['cases']:>3} cases: median |error| "
                f"{s['median_abs_error']:.1%}, worst {s['max_abs_error']:.1%}"
            )
    val = sums[0]
    ok = bool(val["cases"]) and (
        val["median_abs_error"] <= GOAL_MEDIAN and val["max_abs_error"] <= GOAL_MAX
    )
    print(
        f"goal on validation (median <= {GOAL_MEDIAN:.0%}, worst <= {GOAL_MAX:.0%}): "
        f"{'met' if ok else 'MISSED'}  ({len(rows)} cases simulated in {took:.1f} s)"
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "goal": {"median_abs_error": GOAL_MEDIAN, "max_abs_error": GOAL_MAX, "met": ok},
        "summary": sums,
        "rows": [r.as_dict() for r in rows],
    }
    atomic_write_text(out, json.dumps(report, indent=2) + "\n")
    atomic_write_text(out.with_suffix(".md"), markdown(rows) + "\n")
    if args.plot:
        plot(rows, args.plot)
        print(f"wrote {args.plot}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
