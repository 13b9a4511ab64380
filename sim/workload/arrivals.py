"""All arrival processes in one namespace (each lives in its own module)."""

from sim.workload.mmpp import MmppArrivals
from sim.workload.poisson import DiurnalArrivals, PoissonArrivals
from sim.workload.sessions import SessionArrivals
from sim.workload.trace import TraceArrivals

__all__ = [
    "DiurnalArrivals",
    "MmppArrivals",
    "PoissonArrivals",
    "SessionArrivals",
    "TraceArrivals",
]
