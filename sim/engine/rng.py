"""Named random streams derived from one seed.

Each component asks for a stream by a stable name (``"workload.arrivals"``,
``"pool.gpu"``). The stream's seed is the run seed plus a hash of the name, so adding,
removing or reordering components never changes the draws of another component, and
the same seed always gives the same numbers.
"""

from __future__ import annotations

import hashlib

import numpy as np

from sim import checks


def _name_key(name: str) -> tuple[int, int]:
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest()
    word = int.from_bytes(digest, "little")
    return (word & 0xFFFFFFFF, word >> 32)


class RngStreams:
    """Factory of independent ``np.random.Generator`` streams keyed by name."""

    def __init__(self, seed: int) -> None:
        checks.integer("seed", seed, 0)
        self.seed = int(seed)
        self._issued: set[str] = set()

    def stream(self, name: str) -> np.random.Generator:
        """Return the generator for ``name``; each name may be issued once per run."""
        if name in self._issued:
            raise ValueError(f"random stream {name!r} was already issued; names must be unique")
        self._issued.add(name)
        seq = np.random.SeedSequence(entropy=self.seed, spawn_key=_name_key(name))
        return np.random.Generator(np.random.PCG64(seq))
