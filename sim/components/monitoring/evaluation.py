"""Evaluation of the answers a monitor sees: an LLM judge on a sample, and human raters.

A share ``eval_share`` of responses is judged by an LLM judge (``judge_model``, a key of
``api_models``): it reads the request's prompt + output + ``rubric_tokens`` and writes
``judge_output_tokens``, at the judge's list prices. The judge sees whether the answer
is acceptable (``req.ok``) but errs with probability ``judge_error`` (symmetric). Its
verdicts feed the drift detector (:mod:`sim.components.monitoring.drift`).
``human_eval_share`` of responses may also be rated by people at ``human_usd_per_item``
(exact ratings; reported, not used for detection). Both are charged to layer
``monitoring`` when they happen; evaluation runs offline, so it costs the request no
time.

Draws: one uniform per response for the judge's sample, one more per judged response
when the judge can err, one per response for the human sample when it is on — each
from its own stream, so turning one on never changes the others' draws.
"""

from __future__ import annotations

import numpy as np

from sim import checks
from sim.kernels.blocks import BlockDraws


class LlmJudge:
    """Picks the responses to judge, prices a verdict, and gives it (with its errors)."""

    def __init__(
        self,
        *,
        eval_share: float,
        usd_per_mtok_input: float,
        usd_per_mtok_output: float,
        rubric_tokens: int,
        output_tokens: int,
        error: float,
        sample_rng: np.random.Generator,
        error_rng: np.random.Generator,
    ) -> None:
        self.eval_share = checks.probability("eval_share", eval_share)
        self.usd_in = checks.non_negative("judge_usd_per_mtok_input", usd_per_mtok_input)
        self.usd_out = checks.non_negative("judge_usd_per_mtok_output", usd_per_mtok_output)
        self.rubric_tokens = checks.integer("rubric_tokens", rubric_tokens, 0)
        self.output_tokens = checks.integer("judge_output_tokens", output_tokens, 0)
        self.error = checks.number("judge_error", error, ge=0, lt=0.5)
        self._u_sample = BlockDraws(sample_rng.random)
        self._u_error = BlockDraws(error_rng.random)

    def sampled(self) -> bool:
        """Whether this response is judged (one uniform draw)."""
        return self._u_sample.next() < self.eval_share

    def price(self, tokens: int) -> tuple[int, float]:
        """``(prompt_tokens, usd)`` of judging a response of ``tokens`` tokens."""
        prompt = tokens + self.rubric_tokens
        return prompt, (prompt * self.usd_in + self.output_tokens * self.usd_out) * 1e-6

    def calls_bad(self, ok: bool) -> bool:
        """The verdict on an answer that is (``ok``) or is not acceptable: True = bad."""
        bad = not ok
        if self.error > 0.0 and self._u_error.next() < self.error:
            bad = not bad  # the judge errs
        return bad


class HumanRaters:
    """Exact ratings of a sample of responses by people, at a price per item."""

    def __init__(self, *, share: float, usd_per_item: float, rng: np.random.Generator) -> None:
        self.share = checks.probability("human_eval_share", share)
        self.usd_per_item = checks.non_negative("human_usd_per_item", usd_per_item)
        self._u = BlockDraws(rng.random)

    def sampled(self) -> bool:
        """Whether people rate this response (no draw when nobody does)."""
        return self.share > 0.0 and self._u.next() < self.share
