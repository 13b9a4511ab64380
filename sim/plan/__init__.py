"""Sizing for an SLO: the cheapest configuration of a pool that meets a latency target.

``python -m sim.plan scenario=NAME plan.target=p95_latency_s plan.target_s=2`` searches
hardware × batch size × replicas of one pool (:mod:`sim.plan.knobs`): a quick queueing
estimate on the roofline service time (:mod:`sim.plan.estimate`) rules out most
candidates, simulations confirm the best few (:mod:`sim.plan.search`), and the command
line (:mod:`sim.plan.cli`) prints and writes what it found.
"""

from sim.plan.knobs import PlanConfig

__all__ = ["PlanConfig"]
