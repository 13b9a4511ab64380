"""Calibration and validation of the GPU step-time model against published measurements.

* :mod:`.cases` -- the measurements (``benchmarks/gpu_data/cases.yaml``): one published
  figure each, its setup, its source, and whether it is in the calibration set (fitted
  to) or the validation set (never fitted to);
* :mod:`.measure` -- what the simulator gives for a case, measured the way the source
  measured it, by running an :class:`~sim.components.pool.InferencePool`: saturated
  throughput at steady state, an offline batch, one request alone;
* :mod:`.fit` -- per hardware x precision, the efficiencies and per-iteration overhead
  that best match the calibration set (``benchmarks/calibrate_gpu.py`` prints them for
  ``configs/hardware``; ``benchmarks/validate_gpu.py`` prints the table).
"""

from sim.calibration.cases import Case, load_cases
from sim.calibration.measure import simulate_case

__all__ = ["Case", "load_cases", "simulate_case"]
