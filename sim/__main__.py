"""``python -m sim scenario=NAME [overrides]``: run a scenario and print its cost summary."""

from sim.cli import main

main()
