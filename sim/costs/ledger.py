"""The cost ledger: append-only charges (time, layer, component, USD), aggregated as they come.

Memory does not grow with the number of charges: each charge is added to the bucket
of its (layer, component) series. Buckets start at the end of the warm-up, so the
measured window is a whole number of buckets away from any warm-up charge; every charge
made before ``warmup_s`` goes to a single warm-up bucket that summaries leave out.

The ledger also keeps the running sum and count of every charge, so the invariant
*total = sum of layers = sum of entries* can be checked at any time. With
``keep_entries=True`` (tests) every raw entry is kept too.
"""

from __future__ import annotations

import math
from collections import defaultdict

from sim import checks
from sim.costs.layers import LAYERS, check_layer

WARMUP_BUCKET = -1


class Ledger:
    """Charges by layer, component and time bucket."""

    def __init__(self, warmup_s: float = 0.0, bucket_s: float = 60.0, keep_entries: bool = False):
        checks.positive("bucket_s", bucket_s)
        self.warmup_s = float(warmup_s)
        self.bucket_s = float(bucket_s)
        self._series: dict[tuple[str, str], defaultdict[int, float]] = {}
        self.n_entries = 0
        self.entries_usd = 0.0  # plain running sum of every charge, warm-up included
        self.entries: list[tuple[float, str, str, float]] | None = [] if keep_entries else None

    def bucket_of(self, t: float) -> int:
        """Bucket index of time ``t``; ``-1`` for the warm-up."""
        if t < self.warmup_s:
            return WARMUP_BUCKET
        return int((t - self.warmup_s) // self.bucket_s)

    def bucket_start(self, index: int) -> float:
        return 0.0 if index == WARMUP_BUCKET else self.warmup_s + index * self.bucket_s

    def series(self, layer: str, component: str) -> defaultdict[int, float]:
        """The bucket map of one (layer, component); hot paths may hold on to it."""
        key = (layer, component)
        s = self._series.get(key)
        if s is None:
            check_layer(layer)
            s = self._series[key] = defaultdict(float)
        return s

    def charge(self, t: float, layer: str, component: str, usd: float) -> None:
        """Record that ``component`` cost ``usd`` in ``layer`` at simulated time ``t``."""
        if not (usd >= 0.0 and math.isfinite(usd)):
            raise ValueError(f"charge of {usd!r} USD by {component!r} must be finite and >= 0")
        self.series(layer, component)[self.bucket_of(t)] += usd
        self.n_entries += 1
        self.entries_usd += usd
        if self.entries is not None:
            self.entries.append((t, layer, component, usd))

    # -- reading -----------------------------------------------------------------
    def by_layer(self, include_warmup: bool = False) -> dict[str, float]:
        """USD per layer (all eight keys), warm-up excluded unless asked."""
        out = dict.fromkeys(LAYERS, 0.0)
        for (layer, _), buckets in self._series.items():
            out[layer] += sum(v for b, v in buckets.items() if include_warmup or b != WARMUP_BUCKET)
        return out

    def by_component(self, include_warmup: bool = False) -> dict[str, dict[str, float]]:
        """USD per component and layer."""
        out: dict[str, dict[str, float]] = {}
        for (layer, comp), buckets in self._series.items():
            usd = sum(v for b, v in buckets.items() if include_warmup or b != WARMUP_BUCKET)
            out.setdefault(comp, {})[layer] = out.get(comp, {}).get(layer, 0.0) + usd
        return out

    def total(self, include_warmup: bool = False) -> float:
        return sum(self.by_layer(include_warmup).values())

    def active_layers(self) -> list[str]:
        """Layers some component charged (even zero): the scenario uses them."""
        used = {layer for layer, _ in self._series}
        return [layer for layer in LAYERS if layer in used]

    def rows(self) -> list[tuple[float, float, str, str, float]]:
        """(bucket_start_s, bucket_end_s, layer, component, usd), sorted by time then key."""
        rows = []
        for (layer, comp), buckets in self._series.items():
            for b, usd in buckets.items():
                start = self.bucket_start(b)
                end = self.warmup_s if b == WARMUP_BUCKET else start + self.bucket_s
                rows.append((start, end, layer, comp, usd))
        rows.sort(key=lambda r: (r[0], r[2], r[3]))
        return rows
