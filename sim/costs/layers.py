"""The eight cost layers every cent is charged to (inference ... human_oversight); the ledger's only keys."""

from __future__ import annotations

LAYERS: tuple[str, ...] = (
    "inference",  # every interaction is a recurring compute charge
    "infrastructure",  # provisioned capacity: idle headroom, availability, load balancing
    "data_pipeline",  # ingestion, validation, enrichment, storage
    "context_retrieval",  # vector/database lookups and the extra tokens they add
    "monitoring",  # logging, evaluation, drift detection
    "iteration",  # retraining, testing, redeployment
    "latency_optimization",  # caches and their upkeep
    "human_oversight",  # review, correction, fallback handling: people's time
)

LAYER_INDEX: dict[str, int] = {name: i for i, name in enumerate(LAYERS)}


def check_layer(layer: str) -> int:
    """Index of ``layer``; a clear error for anything else."""
    try:
        return LAYER_INDEX[layer]
    except KeyError:
        raise ValueError(f"unknown cost layer {layer!r}; allowed: {', '.join(LAYERS)}") from None
