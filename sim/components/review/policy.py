"""Which answers the reviewers see: the review policy and the model's confidence.

Reviews, by ``policy``: ``all`` every answer; ``sample`` each with probability
``sample_share``; ``selective`` the answers whose model confidence is below
``threshold``; ``none`` no answer. Confidence is a noisy signal of quality (assumption,
documented in :class:`~sim.components.review.config.ReviewConfig`)::

    confidence = (1 - difficulty, or 1 when difficulty is not modelled)
                 - separation * [answer not acceptable] + N(0, noise)

so low-confidence answers are more often the bad ones. A reviewer recognises every bad
answer it reviews (assumption): a reviewed bad answer is **caught**.

Cost: at most one uniform (``sample``) or one normal (``selective``) draw per answer,
from the selection stream only, so the choice never shifts the review times.
"""

from __future__ import annotations

import numpy as np

from sim import checks
from sim.components.request import Request
from sim.kernels.blocks import BlockDraws

POLICIES = ("none", "sample", "selective", "all")  # = sim.config.LEVERS["review"]


class ReviewPolicy:
    """Picks the answers to review: all, a sample, the low-confidence ones, or none."""

    def __init__(
        self,
        policy: str,
        *,
        sample_share: float,
        threshold: float,
        noise: float,
        separation: float,
        rng: np.random.Generator,
    ) -> None:
        self.policy = policy
        self.sample_share = checks.probability("sample_share", sample_share)
        self.threshold = checks.number("threshold", threshold)
        self.noise = checks.non_negative("confidence_noise", noise)
        self.separation = checks.non_negative("confidence_separation", separation)
        self._u = BlockDraws(rng.random)
        self._z = BlockDraws(rng.standard_normal)

    def chosen(self, req: Request) -> bool:
        """Whether the review policy picks this answer."""
        policy = self.policy
        if policy == "all":
            return True
        if policy == "sample":
            return self._u.next() < self.sample_share
        if policy == "selective":
            d = req.difficulty
            confidence = (1.0 - d if d == d else 1.0) + self.noise * self._z.next()
            if not req.ok:
                confidence -= self.separation
            return confidence < self.threshold
        return False
