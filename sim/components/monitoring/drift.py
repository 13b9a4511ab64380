"""Drift of the answers' quality, and its detection by a Bernoulli CUSUM on the verdicts.

Drift (:class:`QualityDrift`)
    Answer quality degrades over time: gradually (``drift_per_day``: the probability that
    an otherwise acceptable answer becomes unacceptable grows by this much per day from
    ``drift_start_days``) and/or in steps (``drift_step_days`` with ``drift_step_drop``).
    Losses combine as independent causes: ``loss = 1 − (1 − gradual) × Π (1 − drop)``.
    The monitor applies it: with probability ``loss(t)`` an acceptable answer is set
    unacceptable. :meth:`QualityDrift.restore` puts a model trained on data up to
    ``at_s`` in production (for a ``share`` of traffic first: a canary): drift older than
    ``at_s`` is gone for the requests it serves; later drift still applies.

Detection (:class:`BernoulliCusum`)
    A Bernoulli CUSUM on the judge's verdicts (Page, "Continuous inspection schemes",
    Biometrika 41, 1954; for a proportion inspected one item at a time: Reynolds &
    Stoumbos, J. Quality Technology 31(1), 1999). The baseline rate ``p0`` of answers the
    judge calls unacceptable is estimated from the first ``baseline_evals`` verdicts
    (or given as ``baseline_acceptable_share``); the chart is tuned to a drop of
    ``detect_shift`` in the true acceptable share, i.e. ``p1 = p0 + detect_shift ×
    (1 − 2 judge_error)`` as the judge sees it. Each verdict adds its log-likelihood ratio
    ``ln(p1/p0)`` (unacceptable) or ``ln((1−p1)/(1−p0))`` (acceptable) to ``S = max(0, S
    + ·)``; ``S >= cusum_h`` raises an alarm and the chart restarts from zero, as a CUSUM
    does after a signal (drift that persists raises further alarms). Detection delay is
    counted in verdicts, so a lower ``eval_share`` detects later. A restore resets the
    chart too.

Cost: the loss is O(1) per response (the product of the steps is cached between steps);
a verdict is one addition.
"""

from __future__ import annotations

import math

from sim import checks

SECONDS_PER_DAY = 86400.0


class QualityDrift:
    """The probability that an otherwise acceptable answer is spoiled, by time and model."""

    def __init__(
        self,
        *,
        per_day: float,
        start_days: float,
        steps: list[tuple[float, float]] | None,
    ) -> None:
        self.per_day = checks.non_negative("drift_per_day", per_day)
        self.start_s = checks.non_negative("drift_start_days", start_days)
        self.start_s *= SECONDS_PER_DAY
        ordered = sorted(steps or [])
        for i, (at, drop) in enumerate(ordered):
            checks.non_negative(f"drift_steps[{i}].days", at)
            checks.probability(f"drift_steps[{i}].drop", drop)
        self.steps = [(at * SECONDS_PER_DAY, drop) for at, drop in ordered if drop > 0]
        self.drifting = self.per_day > 0.0 or bool(self.steps)
        # the model in production was trained on data up to origin; a canary serves
        # canary of requests with a model trained up to canary_origin
        self.origin = -math.inf  # the first model knows of no drift, even at t = 0
        self.canary = 0.0
        self.canary_origin = 0.0
        self.restored_at = -math.inf  # last full restore (an episode starts no earlier)
        self._step_cache = (math.nan, 1.0, -math.inf)  # (origin, kept, valid until)

    def _kept_by_steps(self, origin: float, t: float) -> float:
        """Π (1 − drop) of the steps after ``origin`` up to ``t`` (cached between steps)."""
        cached_origin, kept, until = self._step_cache
        if cached_origin == origin and t < until:
            return kept
        kept, until = 1.0, math.inf
        for at, drop in self.steps:
            if at <= origin:
                continue
            if at <= t:
                kept *= 1.0 - drop
            else:
                until = at
                break
        self._step_cache = (origin, kept, until)
        return kept

    def _loss_since(self, origin: float, t: float) -> float:
        gradual = 0.0
        if self.per_day > 0.0:
            start = max(origin, self.start_s)
            if t > start:
                gradual = min(1.0, self.per_day * (t - start) / SECONDS_PER_DAY)
        kept = self._kept_by_steps(origin, t) if self.steps else 1.0
        return 1.0 - (1.0 - gradual) * kept

    def loss(self, t: float) -> float:
        """Probability that an otherwise acceptable answer at ``t`` is spoiled."""
        if not self.drifting:
            return 0.0
        loss = self._loss_since(self.origin, t)
        if self.canary > 0.0:
            new = self._loss_since(self.canary_origin, t)
            self._step_cache = (math.nan, 1.0, -math.inf)  # two origins: do not cache
            loss = (1.0 - self.canary) * loss + self.canary * new
        return loss

    def began(self, t: float) -> float | None:
        """When drift first applied to the model in production (None if not by ``t``)."""
        if not self.drifting:
            return None
        starts = []
        if self.per_day > 0.0:
            starts.append(max(self.origin, self.start_s))
        for at, _ in self.steps:
            if at > self.origin:
                starts.append(at)
                break
        began = max(min(starts), self.restored_at) if starts else math.inf
        return began if began <= t else None

    def restore(self, origin: float, share: float, now: float) -> None:
        """A model trained on data up to ``origin`` serves ``share`` of requests from ``now``
        (``share < 1``: a canary beside the model in production)."""
        if share < 1.0:
            self.canary_origin, self.canary = origin, share
            return
        self.origin, self.canary, self.restored_at = origin, 0.0, now
        self._step_cache = (math.nan, 1.0, -math.inf)


class BernoulliCusum:
    """A one-sided CUSUM on 'unacceptable' verdicts, its baseline learned or given."""

    def __init__(
        self,
        *,
        baseline_evals: int,
        baseline_acceptable_share: float | None,
        detect_shift: float,
        h: float,
        judge_error: float,
    ) -> None:
        self.baseline_evals = checks.integer("baseline_evals", baseline_evals, 1)
        self.baseline_acceptable_share = checks.number(
            "baseline_acceptable_share", baseline_acceptable_share, gt=0, lt=1, none_ok=True
        )
        self.detect_shift = checks.number("detect_shift", detect_shift, gt=0, lt=1)
        self.h = checks.positive("cusum_h", h)
        self.judge_error = judge_error
        self.p0: float | None = None
        self.p1: float | None = None
        self._up = self._down = 0.0  # log-likelihood ratio of a bad / good verdict
        self._n0 = self._k0 = 0  # baseline verdicts, of them unacceptable
        self.s = 0.0
        if self.baseline_acceptable_share is not None:
            q, e = self.baseline_acceptable_share, judge_error
            self._set_baseline(1.0 - (q * (1.0 - e) + (1.0 - q) * e))

    def _set_baseline(self, p0: float) -> None:
        """Baseline rate of 'unacceptable' verdicts, and the CUSUM steps tuned to a drop."""
        p0 = min(max(p0, 1e-6), 1.0 - 1e-6)
        p1 = min(p0 + self.detect_shift * (1.0 - 2.0 * self.judge_error), 1.0 - 1e-9)
        self.p0, self.p1 = p0, p1
        self._up = math.log(p1 / p0)
        self._down = math.log((1.0 - p1) / (1.0 - p0))

    @property
    def learning(self) -> bool:
        """Still learning the baseline (no alarm possible yet)."""
        return self.p0 is None

    @property
    def baseline_seen(self) -> int:
        """Verdicts counted towards the baseline so far."""
        return self._n0

    def observe(self, bad: bool) -> bool:
        """Add one verdict; True when it raises an alarm (the chart then restarts)."""
        if self.p0 is None:  # still learning the baseline
            self._n0 += 1
            self._k0 += bad
            if self._n0 >= self.baseline_evals:
                self._set_baseline((self._k0 + 0.5) / (self._n0 + 1.0))
            return False
        s = self.s + (self._up if bad else self._down)
        self.s = s if s > 0.0 else 0.0
        if s >= self.h:
            self.s = 0.0  # the chart restarts after a signal
            return True
        return False

    def reset(self) -> None:
        """Restart the chart from zero against the same baseline."""
        self.s = 0.0
