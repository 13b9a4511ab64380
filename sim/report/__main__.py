"""``python -m sim.report SWEEP_DIR``: the sweep report (see :mod:`sim.report.cli`)."""

from sim.report.cli import main

main()
