"""Fit the GPU step-time calibration to the calibration cases; print it for the catalog.

    python benchmarks/calibrate_gpu.py [--cases benchmarks/gpu_data/cases.yaml]

For each hardware x precision with calibration cases (``set: calibration``), fits
prefill and decode efficiencies, the per-iteration and per-sequence overheads, and the
all-reduce latency when there are tensor-parallel cases (:mod:`sim.calibration.fit`).
Prints each group's parameters, its error on its own cases, and the YAML to put under
``hardware.NAME.calibration`` in ``configs/hardware/default.yaml`` (``--write`` puts the numbers there); writes
``benchmarks/results/calibration.json``. Validation cases are never read here:
``benchmarks/validate_gpu.py`` checks the result against them.
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
from sim.calibration.fit import fit_all  # noqa: E402
from sim.outputs import atomic_write_text  # noqa: E402


def yaml_block(fit) -> str:
    p = fit.params
    lines = [
        f"    {fit.group[1]}:",
        f"      prefill_efficiency: {p['prefill_efficiency']:.3f}",
        f"      decode_efficiency: {p['decode_efficiency']:.3f}",
        f"      step_overhead_ms: {p['step_overhead_s'] * 1e3:.3f}",
        f"      seq_overhead_us: {p['seq_overhead_s'] * 1e6:.1f}",
    ]
    if "allreduce_latency_s" in p:
        lines.append(f"      allreduce_latency_us: {p['allreduce_latency_s'] * 1e6:.1f}")
    return "\n".join(lines)


def write_catalog(path: Path, fits) -> None:
    """Replace the fitted numbers under ``NAME: calibration: PRECISION:`` in the catalog.

    Only the numeric lines of each fitted block change; comments, anchors and the
    ``source`` line stay. A precision block the catalog lacks is an error (add it by hand
    once, with its comment).
    """
    lines = path.read_text().splitlines()
    for f in fits:
        hw, precision = f.group
        values = {
            "prefill_efficiency": f"{f.params['prefill_efficiency']:.3f}",
            "decode_efficiency": f"{f.params['decode_efficiency']:.3f}",
            "step_overhead_ms": f"{f.params['step_overhead_s'] * 1e3:.3f}",
            "seq_overhead_us": f"{f.params['seq_overhead_s'] * 1e6:.1f}",
        }
        if "allreduce_latency_s" in f.params:
            values["allreduce_latency_us"] = f"{f.params['allreduce_latency_s'] * 1e6:.1f}"
        try:
            top = lines.index(f"{hw}:")
            cal = next(
                i for i in range(top + 1, len(lines)) if lines[i].startswith("  calibration:")
            )
            block = next(
                i
                for i in range(cal + 1, len(lines))
                if lines[i] == f"    {precision}:" or lines[i].startswith(f"    {precision}: &")
            )
        except (ValueError, StopIteration):
            raise SystemExit(
                f"{path}: no {hw}: calibration: {precision}: block to update"
            ) from None
        i = block + 1
        while i < len(lines) and lines[i].startswith("      "):
            key = lines[i].strip().split(":", 1)[0]
            if key in values:
                lines[i] = f"      {key}: {values[key]}"
            i += 1
    atomic_write_text(path, "\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default=str(HERE / "gpu_data" / "cases.yaml"))
    ap.add_argument("--out", default=str(HERE / "results" / "calibration.json"))
    ap.add_argument(
        "--write",
        action="store_true",
        help="update the fitted numbers in configs/hardware/default.yaml in place",
    )
    args = ap.parse_args(argv)
    cases = load_cases(args.cases)
    t0 = time.perf_counter()
    fits = fit_all(cases)
    took = time.perf_counter() - t0
    report = []
    for f in fits:
        print(
            f"{f.group[0]} {f.group[1]}: {len(f.cases)} calibration cases, "
            f"rms log error {f.rms_log_error:.3f} ({f.evaluations} evaluations)"
        )
        print(f"  {f.group[0]}:\n    calibration:\n{yaml_block(f)}")
        report.append(
            {
                "hardware": f.group[0],
                "precision": f.group[1],
                "cases": [c.id for c in f.cases],
                "params": f.params,
                "rms_log_error": f.rms_log_error,
            }
        )
    print(f"fitted {len(fits)} groups in {took:.1f} s")
    if args.write:
        catalog = HERE.parent / "configs" / "hardware" / "default.yaml"
        write_catalog(catalog, fits)
        print(f"updated {catalog}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
