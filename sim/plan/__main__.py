"""``python -m sim.plan``: see :mod:`sim.plan.cli`."""

from sim.plan.cli import main

main()
