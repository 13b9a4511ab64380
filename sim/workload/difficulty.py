"""How hard each request is: a difficulty in [0, 1] from a Beta distribution.

Routing by complexity needs it: a router predicts it (with an error) and sends easy
requests to rules or a small model, hard ones to a large model. ``Beta(alpha, beta)``
with ``alpha < beta`` puts most requests at the easy end; ``alpha = beta = 1`` is uniform.
Drawn in vectorised blocks from the one ``rng`` argument, only when a component needs it.
"""

from __future__ import annotations

import numpy as np

from sim import checks


class BetaDifficulty:
    """Difficulties ~ Beta(``alpha``, ``beta``)."""

    def __init__(self, alpha: float, beta: float, *, rng: np.random.Generator) -> None:
        self.alpha = checks.positive("alpha", alpha)
        self.beta = checks.positive("beta", beta)
        self.rng = checks.rng("rng", rng)

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    def sample(self, n: int) -> np.ndarray:
        """``n`` difficulties in [0, 1]."""
        return self.rng.beta(self.alpha, self.beta, n)
