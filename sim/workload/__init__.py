"""Workload: when requests arrive and how big they are.

Arrival processes (:class:`ArrivalProcess`) yield blocks of sorted arrival times;
token samplers (:class:`TokenSampler`) give prompt/output sizes. Constructors take plain
values plus ``rng``/``horizon_s`` keywords; :mod:`sim.build` maps the config onto them.
"""

from sim.workload.base import ArrivalBlock, ArrivalProcess, TokenSampler
from sim.workload.mmpp import MmppArrivals
from sim.workload.poisson import DiurnalArrivals, PoissonArrivals
from sim.workload.sessions import SessionArrivals
from sim.workload.tokens import EmpiricalTokens, FixedTokens, LognormalTokens
from sim.workload.trace import TraceArrivals, load_azure_trace, shipped_traces

__all__ = [
    "ArrivalBlock",
    "ArrivalProcess",
    "DiurnalArrivals",
    "EmpiricalTokens",
    "FixedTokens",
    "LognormalTokens",
    "MmppArrivals",
    "PoissonArrivals",
    "SessionArrivals",
    "TokenSampler",
    "TraceArrivals",
    "load_azure_trace",
    "shipped_traces",
]
