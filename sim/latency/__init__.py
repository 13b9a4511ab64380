"""Execution-time predictors: how long one iteration of an inference replica takes.

A latency model answers two questions for the pool's scheduler and knows nothing
about queues or batching policy (the Vidur split between *what a batch costs* and
*what gets batched*):

* ``prefill_s(prompt_tokens)`` — one prefill iteration admitting these requests
  together (one prompt length per request);
* ``decode_step_s(batch_size, kv_tokens)`` — one decode iteration producing one token
  for each of ``batch_size`` sequences that hold ``kv_tokens`` of KV cache in total;
* ``kv_capacity_tokens`` — KV-cache tokens that fit in one replica.

:class:`RooflineLatency` derives these from a model's shape and a device's peak
FLOP/s and memory bandwidth; :class:`ServiceTimeLatency` draws one service time per
request (CPU instances, rules, small models, and the M/M/c reduction).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from sim.latency.roofline import RooflineLatency, roofline_from_config
from sim.latency.service import ServiceTimeLatency


@runtime_checkable
class LatencyModel(Protocol):
    """The execution-time contract used by :class:`sim.components.pool.InferencePool`."""

    kv_capacity_tokens: int

    def prefill_s(self, prompt_tokens: Sequence[int]) -> float:
        """Seconds of one prefill iteration admitting requests with these prompt lengths."""
        ...

    def decode_step_s(self, batch_size: int, kv_tokens: int) -> float:
        """Seconds of one decode iteration (one token per sequence)."""
        ...


__all__ = ["LatencyModel", "RooflineLatency", "ServiceTimeLatency", "roofline_from_config"]
