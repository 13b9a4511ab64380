"""Cost layers and the ledger every component charges."""

from sim.costs.layers import LAYERS
from sim.costs.ledger import Ledger

__all__ = ["LAYERS", "Ledger"]
