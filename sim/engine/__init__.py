"""The simulation core: SimPy environment, named random streams, ids and time bookkeeping."""

from sim.engine.context import SimContext
from sim.engine.rng import RngStreams

__all__ = ["RngStreams", "SimContext"]
