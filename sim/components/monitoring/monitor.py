"""The monitor as a stage: per response it logs, spoils with the drift, judges a sample.

A monitor is a stage placed on the path after the model call (``path: [llm, monitor]``).
It adds no SimPy event: for each response it updates counters, and for the sampled
ones it makes one arithmetic charge — evaluation runs offline, so it costs the request
no time. Its parts: the log (:mod:`~sim.components.monitoring.logs`), the judge and
the human raters (:mod:`~sim.components.monitoring.evaluation`), the drift and its
detector (:mod:`~sim.components.monitoring.drift`).

Episodes: a drift episode starts when drift first applies to the model in production
(a step's time, the start of gradual drift, or — with gradual drift — the moment a
retrained model is fully deployed) and ends at the next full restore; the report gives
each one's start, detection time, delay and restore time. An alarm while no drift is
under way is a false alarm.

Python API for other components (the ``retraining`` kind): :meth:`DriftMonitor.on_detect`
(``callback(at_s)`` on every alarm), :meth:`DriftMonitor.restore`,
:meth:`DriftMonitor.drift_loss`.

Statistics (logs and verdicts made after the warm-up, when the ledger counts their
cost) go to ``summary.json`` through :meth:`DriftMonitor.report`. :meth:`DriftMonitor.notes`
warns (``summary.json`` ``notes``) when a drift episode under way at the horizon was
never detected.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from typing import Any

import simpy

from sim import checks
from sim.components.monitoring.drift import SECONDS_PER_DAY, BernoulliCusum, QualityDrift
from sim.components.monitoring.evaluation import HumanRaters, LlmJudge
from sim.components.monitoring.logs import BYTES_PER_GB, RequestLog
from sim.components.request import Request
from sim.engine.context import SimContext
from sim.kernels.blocks import BlockDraws

LAYER = "monitoring"


class DriftMonitor:
    """Logs every response, judges a sample, applies drift and detects it (see module)."""

    def __init__(
        self,
        name: str,
        ctx: SimContext,
        *,
        bytes_per_token: float,
        metadata_bytes: float,
        ingest_usd_per_gb: float,
        storage_usd_per_gb_month: float,
        retention_days: float,
        eval_share: float,
        judge_usd_per_mtok_input: float,
        judge_usd_per_mtok_output: float,
        rubric_tokens: int,
        judge_output_tokens: int,
        judge_error: float,
        human_eval_share: float = 0.0,
        human_usd_per_item: float = 0.0,
        drift_per_day: float = 0.0,
        drift_start_days: float = 0.0,
        drift_steps: list[tuple[float, float]] | None = None,
        baseline_evals: int = 2000,
        baseline_acceptable_share: float | None = None,
        detect_shift: float = 0.05,
        cusum_h: float = 6.0,
        rng: Any,
    ) -> None:
        self.name = name
        self._env: simpy.Environment = ctx.env
        self._ledger = ctx.ledger
        self._warmup_s = ctx.warmup_s
        checks.rng("rng", rng)
        # the judge's sample draws from rng itself; drift, judge errors, human sample
        # from its children, spawned in this order
        r_drift, r_judge, r_human = (rng.spawn(1)[0] for _ in range(3))
        self.log = RequestLog(
            bytes_per_token=bytes_per_token,
            metadata_bytes=metadata_bytes,
            ingest_usd_per_gb=ingest_usd_per_gb,
            storage_usd_per_gb_month=storage_usd_per_gb_month,
            retention_days=retention_days,
        )
        self.judge = LlmJudge(
            eval_share=eval_share,
            usd_per_mtok_input=judge_usd_per_mtok_input,
            usd_per_mtok_output=judge_usd_per_mtok_output,
            rubric_tokens=rubric_tokens,
            output_tokens=judge_output_tokens,
            error=judge_error,
            sample_rng=rng,
            error_rng=r_judge,
        )
        self.raters = HumanRaters(
            share=human_eval_share, usd_per_item=human_usd_per_item, rng=r_human
        )
        self.drift = QualityDrift(
            per_day=drift_per_day, start_days=drift_start_days, steps=drift_steps
        )
        self.chart = BernoulliCusum(
            baseline_evals=baseline_evals,
            baseline_acceptable_share=baseline_acceptable_share,
            detect_shift=detect_shift,
            h=cusum_h,
            judge_error=self.judge.error,
        )
        self._u_drift = BlockDraws(r_drift.random)
        self.eval_share = self.judge.eval_share
        self.drifting = self.drift.drifting
        self.affects_quality = self.drifting
        self._callbacks: list[Callable[[float], None]] = []
        # statistics (after the warm-up)
        self.logged = 0
        self.logged_bytes = 0.0
        self.evals = 0
        self.judged_ok = 0
        self.judge_prompt_tokens = 0
        self.human_evals = 0
        self.human_ok = 0
        self.ingest_usd = self.storage_usd = self.judge_usd = self.human_usd = 0.0
        self.alarms = 0
        self.false_alarms = 0
        self.restores = 0
        self.episodes: list[dict[str, Any]] = []
        self._episode: dict[str, Any] | None = None
        self._gauge = (0, 0)
        ctx.ledger.series(LAYER, name)

    # -- the stage ------------------------------------------------------------------------
    def handle(self, req: Request) -> Generator[simpy.Event, Any, None]:
        """Log the response, spoil it with the drift's probability, judge it if sampled."""
        t = self._env.now
        counted = t >= self._warmup_s
        tokens = req.prompt_tokens + req.output_tokens
        nbytes = self.log.write(tokens, t)
        if counted:
            self.logged += 1
            self.logged_bytes += nbytes
        if self.drifting and req.ok:
            loss = self.drift.loss(t)
            if loss > 0.0 and self._u_drift.next() < loss:
                req.ok = False  # the drifted model's answer is no longer acceptable
        if self.judge.sampled():
            self._judge(req, tokens, t, counted)
        if self.raters.sampled():
            usd = self.raters.usd_per_item
            self._ledger.charge(t, LAYER, self.name, usd)
            if counted:
                self.human_evals += 1
                self.human_ok += req.ok
                self.human_usd += usd
        return
        yield  # a generator that adds no event

    def _judge(self, req: Request, tokens: int, t: float, counted: bool) -> None:
        prompt, usd = self.judge.price(tokens)
        self._ledger.charge(t, LAYER, self.name, usd)
        bad = self.judge.calls_bad(req.ok)
        if counted:
            self.evals += 1
            self.judged_ok += not bad
            self.judge_prompt_tokens += prompt
            self.judge_usd += usd
        if self.chart.observe(bad):
            self._alarm(t)

    def _alarm(self, t: float) -> None:
        self.alarms += t >= self._warmup_s
        episode = self._current_episode(t)
        if episode is None:
            self.false_alarms += t >= self._warmup_s
        elif episode["detected_s"] is None:
            episode["detected_s"] = t
            episode["delay_s"] = t - episode["start_s"]
        for callback in list(self._callbacks):
            callback(t)

    def _current_episode(self, t: float) -> dict[str, Any] | None:
        if self._episode is None:
            began = self.drift.began(t)
            if began is None:
                return None
            self._episode = {
                "start_s": began,
                "detected_s": None,
                "delay_s": None,
                "restored_s": None,
            }
            self.episodes.append(self._episode)
        return self._episode

    # -- the API of other components ------------------------------------------------------
    def drift_loss(self, t: float | None = None) -> float:
        """Probability that an otherwise acceptable answer at ``t`` (default: now) is spoiled."""
        if not self.drifting:
            return 0.0
        return self.drift.loss(self._env.now if t is None else t)

    def on_detect(self, callback: Callable[[float], None]) -> None:
        """Call ``callback(at_s)`` at every alarm (it must not block: start a process)."""
        self._callbacks.append(callback)

    def restore(self, at_s: float | None = None, share: float = 1.0) -> None:
        """A model trained on data up to ``at_s`` (default now) serves ``share`` of requests.

        ``share < 1`` is a canary: the rest keep the model in production. ``share = 1``
        completes the rollout: the drift episode ends and the CUSUM restarts from zero
        against the same baseline.
        """
        now = self._env.now
        origin = now if at_s is None else checks.number("at_s", at_s, ge=0, le=now)
        share = checks.fraction("share", share)
        if share < 1.0:
            self.drift.restore(origin, share, now)
            return
        episode = self._current_episode(now)
        if episode is not None:
            episode["restored_s"] = now
        self._episode = None
        self.drift.restore(origin, 1.0, now)
        self.chart.reset()
        self.restores += 1

    # -- billing, gauges, report, notes ---------------------------------------------------
    def bill(self, start_s: float, end_s: float) -> None:
        """Ingestion of what was logged in ``[start_s, end_s)`` and storage of what is kept."""
        ingest, storage = self.log.close(start_s, end_s)
        self._ledger.charge(start_s, LAYER, self.name, ingest + storage)
        if start_s >= self._warmup_s:
            self.ingest_usd += ingest
            self.storage_usd += storage

    def gauges(self) -> dict[str, float]:
        """Share of the verdicts since the previous call that found the answer acceptable."""
        evals, ok = self.evals - self._gauge[0], self.judged_ok - self._gauge[1]
        self._gauge = (self.evals, self.judged_ok)
        return {"judged_acceptable_share": ok / evals if evals else math.nan}

    def report(self) -> dict[str, Any]:
        """What ``summary.json`` shows of this monitor."""
        now = self._env.now
        self._current_episode(now)  # an episode under way at the horizon
        judged = self.judged_ok / self.evals if self.evals else None
        e = self.judge.error
        episodes = [dict(ep) for ep in self.episodes]
        chart = self.chart
        return {
            "kind": "monitor",
            "logged_requests": self.logged,
            "logged_gb": self.logged_bytes / BYTES_PER_GB,
            "stored_gb_at_end": self.log.stored_gb,
            "retention_days": self.log.retention_days,
            "ingest_usd": self.ingest_usd,
            "storage_usd": self.storage_usd,
            "eval_share": self.eval_share,
            "evals": self.evals,
            "judge_prompt_tokens": self.judge_prompt_tokens,
            "judge_output_tokens": self.evals * self.judge.output_tokens,
            "judge_usd": self.judge_usd,
            "human_evals": self.human_evals,
            "human_usd": self.human_usd,
            "human_acceptable_share": self.human_ok / self.human_evals
            if self.human_evals
            else None,
            "judged_acceptable_share": judged,
            # Rogan-Gladen: the true share behind what an imperfect judge reports
            "acceptable_share_estimate": min(1.0, max(0.0, (judged - e) / (1.0 - 2.0 * e)))
            if judged is not None
            else None,
            "judge_error": e,
            "cusum": {
                "h": chart.h,
                "baseline_judged_unacceptable": chart.p0,
                "tuned_judged_unacceptable": chart.p1 if chart.p0 is not None else None,
                "baseline_evals": chart.baseline_evals,
            },
            "alarms": self.alarms,
            "false_alarms": self.false_alarms,
            "restores": self.restores,
            "drift_loss_at_end": self.drift_loss(now),
            "episodes": episodes,
        }

    def notes(self) -> list[str]:
        """A warning for ``summary.json`` ``notes`` when drift under way was never detected."""
        now = self._env.now
        episode = self._current_episode(now)
        if episode is None or episode["detected_s"] is not None:
            return []
        key = f"monitors.{self.name}"
        start = episode["start_s"]
        loss = self.drift_loss(now)
        chart = self.chart
        share = f"{key}.eval_share (now {self.eval_share:g})"
        if self.eval_share == 0.0:
            why = f"no answer is judged: set {key}.eval_share above 0"
        elif chart.learning:
            why = (
                f"the detector was still learning its baseline ({chart.baseline_seen:,} of "
                f"{chart.baseline_evals:,} verdicts): raise {share} or lower "
                f"{key}.baseline_evals"
            )
        elif loss < chart.detect_shift:
            why = (
                f"the detector is tuned to a larger drop ({key}.detect_shift="
                f"{chart.detect_shift:g}): lower it, or raise {share} to gather evidence "
                "sooner"
            )
        else:
            why = f"raise {share} to detect it sooner"
        return [
            f"{key}: drift that began at day {start / SECONDS_PER_DAY:,.2f} was not detected "
            f"by the horizon (day {now / SECONDS_PER_DAY:,.2f}); by then it spoiled "
            f"{loss:.1%} of otherwise acceptable answers; {why}"
        ]

    def __repr__(self) -> str:
        return (
            f"DriftMonitor({self.name!r}, eval_share={self.eval_share}, drifting={self.drifting})"
        )
