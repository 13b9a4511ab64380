"""The ``monitors`` kind: logging, LLM-judge evaluation and drift detection after the model.

A monitor is a stage placed on the path after the model call (``path: [llm, monitor]``).
It adds no SimPy event: for each response it updates counters, and for the sampled
ones it makes one arithmetic charge — evaluation runs offline, so it costs the request
no time.

Logging (layer ``monitoring``)
    Every response that reaches the monitor is logged: ``(prompt + output tokens) ×
    bytes_per_token + metadata_bytes`` bytes (1 GB = 10⁹ bytes). Ingestion is billed
    per GB ingested (``ingest_usd_per_gb``); each byte is then **stored for
    ``retention_days``** and billed per GB-month for the time it is stored
    (``storage_usd_per_gb_month``), by :class:`RetainedVolume` at each bucket edge: the
    bytes ingested in a bucket are placed at their mean ingest time and expire
    ``retention_days`` later. The total is exact (each byte is billed for exactly its
    retention, or until the horizon); the split between buckets is exact when the
    retention is a whole number of buckets, else off by less than one bucket.

Evaluation (layer ``monitoring``)
    A share ``eval_share`` of responses is judged by an LLM judge (``judge_model``, a key
    of ``api_models``): it reads the request's prompt + output + ``rubric_tokens`` and
    writes ``judge_output_tokens``, at the judge's list prices. The judge sees whether
    the answer is acceptable (``req.ok``) but errs with probability ``judge_error``
    (symmetric). ``human_eval_share`` of responses may also be rated by people at
    ``human_usd_per_item`` (exact ratings; reported, not used for detection).

Drift (quality)
    Answer quality degrades over time: gradually (``drift_per_day``: the probability that
    an otherwise acceptable answer becomes unacceptable grows by this much per day from
    ``drift_start_days``) and/or in steps (``drift_step_days`` with ``drift_step_drop``).
    Losses combine as independent causes: ``loss = 1 − (1 − gradual) × Π (1 − drop)``.
    The monitor applies it: with probability ``loss(t)`` an acceptable answer is set
    unacceptable. :meth:`DriftMonitor.restore` puts a model trained on data up to
    ``at_s`` in production (for a ``share`` of traffic first: a canary): drift older than
    ``at_s`` is gone for the requests it serves; later drift still applies.

Detection
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
    counted in verdicts, so a lower ``eval_share`` detects later. :meth:`restore` resets
    the chart too. An alarm while no drift is under way is a false alarm.

Episodes: a drift episode starts when drift first applies to the model in production
(a step's time, the start of gradual drift, or — with gradual drift — the moment a
retrained model is fully deployed) and ends at the next full restore; the report gives
each one's start, detection time, delay and restore time.

Python API for other components (the ``retraining`` kind): :meth:`DriftMonitor.on_detect`
(``callback(at_s)`` on every alarm), :meth:`DriftMonitor.restore`,
:meth:`DriftMonitor.drift_loss`.

Statistics (logs and verdicts made after the warm-up, when the ledger counts their
cost) go to ``summary.json`` through :meth:`DriftMonitor.report`.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import simpy

from sim import checks
from sim.checks import knob
from sim.components.kinds import register
from sim.components.request import Request
from sim.engine.context import SimContext
from sim.kernels.blocks import BlockDraws

LAYER = "monitoring"
SECONDS_PER_DAY = 86400.0
SECONDS_PER_MONTH = 30.4375 * SECONDS_PER_DAY
BYTES_PER_GB = 1e9


class RetainedVolume:
    """Bytes kept for a fixed retention after they are written; byte-seconds per bucket.

    :meth:`close` is told what was written in ``[a, b)`` (bytes, and the sum of bytes ×
    write time, which the writer keeps as two running sums), files it as one record at
    its mean write time, expiring ``retention_s`` later, and returns the byte-seconds
    stored during ``[a, b)``. Memory: one record per bucket still retained.
    """

    __slots__ = ("retention_s", "_records", "stored_bytes")

    def __init__(self, retention_s: float) -> None:
        self.retention_s = checks.positive("retention_s", retention_s)
        self._records: deque[tuple[float, float]] = deque()  # (expires_at, bytes), in order
        self.stored_bytes = 0.0  # bytes of the records: what is kept after the last close

    def close(self, a: float, b: float, written: float = 0.0, moment: float = 0.0) -> float:
        """Byte-seconds stored in ``[a, b)``, where ``written`` bytes were written at mean
        time ``moment / written``."""
        stored = self.stored_bytes * (b - a)
        records = self._records
        while records and records[0][0] <= b:  # expire inside [a, b)
            expires, nbytes = records.popleft()
            self.stored_bytes -= nbytes
            stored -= nbytes * (b - max(expires, a))
        if written > 0.0:
            mean_t = moment / written
            expires = mean_t + self.retention_s
            if expires <= b:
                stored += written * self.retention_s
            else:
                stored += written * (b - mean_t)
                records.append((expires, written))
                self.stored_bytes += written
        if not records:
            self.stored_bytes = 0.0  # no rounding residue once nothing is kept
        return max(stored, 0.0)


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
        baseline_evals: int = 500,
        baseline_acceptable_share: float | None = None,
        detect_shift: float = 0.05,
        cusum_h: float = 6.0,
        rng: Any,
    ) -> None:
        self.name = name
        self._env: simpy.Environment = ctx.env
        self._ledger = ctx.ledger
        self._warmup_s = ctx.warmup_s
        self.bytes_per_token = checks.non_negative("bytes_per_token", bytes_per_token)
        self.metadata_bytes = checks.non_negative("metadata_bytes", metadata_bytes)
        self.ingest_usd_per_gb = checks.non_negative("ingest_usd_per_gb", ingest_usd_per_gb)
        self.storage_usd_per_gb_month = checks.non_negative(
            "storage_usd_per_gb_month", storage_usd_per_gb_month
        )
        self.retention_days = checks.positive("retention_days", retention_days)
        self.eval_share = checks.probability("eval_share", eval_share)
        self.judge_in = checks.non_negative("judge_usd_per_mtok_input", judge_usd_per_mtok_input)
        self.judge_out = checks.non_negative("judge_usd_per_mtok_output", judge_usd_per_mtok_output)
        self.rubric_tokens = checks.integer("rubric_tokens", rubric_tokens, 0)
        self.judge_output_tokens = checks.integer("judge_output_tokens", judge_output_tokens, 0)
        self.judge_error = checks.number("judge_error", judge_error, ge=0, lt=0.5)
        self.human_eval_share = checks.probability("human_eval_share", human_eval_share)
        self.human_usd_per_item = checks.non_negative("human_usd_per_item", human_usd_per_item)
        self.drift_per_day = checks.non_negative("drift_per_day", drift_per_day)
        self.drift_start_s = checks.non_negative("drift_start_days", drift_start_days)
        self.drift_start_s *= SECONDS_PER_DAY
        steps = sorted(drift_steps or [])
        for i, (at, drop) in enumerate(steps):
            checks.non_negative(f"drift_steps[{i}].days", at)
            checks.probability(f"drift_steps[{i}].drop", drop)
        self.drift_steps = [(at * SECONDS_PER_DAY, drop) for at, drop in steps if drop > 0]
        self.baseline_evals = checks.integer("baseline_evals", baseline_evals, 1)
        self.baseline_acceptable_share = checks.number(
            "baseline_acceptable_share", baseline_acceptable_share, gt=0, lt=1, none_ok=True
        )
        self.detect_shift = checks.number("detect_shift", detect_shift, gt=0, lt=1)
        self.cusum_h = checks.positive("cusum_h", cusum_h)
        checks.rng("rng", rng)
        self._u_sample = BlockDraws(rng.random)
        self._u_drift = BlockDraws(rng.spawn(1)[0].random)
        self._u_judge = BlockDraws(rng.spawn(1)[0].random)
        self._u_human = BlockDraws(rng.spawn(1)[0].random)

        self.drifting = self.drift_per_day > 0.0 or bool(self.drift_steps)
        self.affects_quality = self.drifting
        self._volume = RetainedVolume(self.retention_days * SECONDS_PER_DAY)
        self._written = 0.0  # bytes logged since the last bill
        self._moment = 0.0  # their sum of bytes x log time
        # the model in production was trained on data up to _origin; a canary serves
        # _canary of requests with a model trained up to _canary_origin
        self._origin = -math.inf  # the first model knows of no drift, even at t = 0
        self._canary = 0.0
        self._canary_origin = 0.0
        self._restored_at = -math.inf  # last full restore (an episode starts no earlier)
        self._step_cache = (math.nan, 1.0, -math.inf)  # (origin, kept, valid until)
        # CUSUM
        self._p0: float | None = None
        self._up = self._down = 0.0  # log-likelihood ratio of a bad / good verdict
        self._n0 = self._k0 = 0  # baseline verdicts, of them unacceptable
        self._s = 0.0
        self._callbacks: list[Callable[[float], None]] = []
        if self.baseline_acceptable_share is not None:
            q, e = self.baseline_acceptable_share, self.judge_error
            self._set_baseline(1.0 - (q * (1.0 - e) + (1.0 - q) * e))
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
        nbytes = tokens * self.bytes_per_token + self.metadata_bytes
        self._written += nbytes
        self._moment += nbytes * t
        if counted:
            self.logged += 1
            self.logged_bytes += nbytes
        if self.drifting and req.ok:
            loss = self.drift_loss(t)
            if loss > 0.0 and self._u_drift.next() < loss:
                req.ok = False  # the drifted model's answer is no longer acceptable
        if self._u_sample.next() < self.eval_share:
            self._judge(req, tokens, t, counted)
        if self.human_eval_share > 0.0 and self._u_human.next() < self.human_eval_share:
            self._ledger.charge(t, LAYER, self.name, self.human_usd_per_item)
            if counted:
                self.human_evals += 1
                self.human_ok += req.ok
                self.human_usd += self.human_usd_per_item
        return
        yield  # a generator that adds no event

    def _judge(self, req: Request, tokens: int, t: float, counted: bool) -> None:
        prompt = tokens + self.rubric_tokens
        usd = (prompt * self.judge_in + self.judge_output_tokens * self.judge_out) * 1e-6
        self._ledger.charge(t, LAYER, self.name, usd)
        bad = not req.ok
        if self.judge_error > 0.0 and self._u_judge.next() < self.judge_error:
            bad = not bad  # the judge errs
        if counted:
            self.evals += 1
            self.judged_ok += not bad
            self.judge_prompt_tokens += prompt
            self.judge_usd += usd
        if self._p0 is None:  # still learning the baseline
            self._n0 += 1
            self._k0 += bad
            if self._n0 >= self.baseline_evals:
                self._set_baseline((self._k0 + 0.5) / (self._n0 + 1.0))
            return
        s = self._s + (self._up if bad else self._down)
        self._s = s if s > 0.0 else 0.0
        if s >= self.cusum_h:
            self._s = 0.0  # the chart restarts after a signal
            self._alarm(t)

    def _set_baseline(self, p0: float) -> None:
        """Baseline rate of 'unacceptable' verdicts, and the CUSUM steps tuned to a drop."""
        p0 = min(max(p0, 1e-6), 1.0 - 1e-6)
        p1 = min(p0 + self.detect_shift * (1.0 - 2.0 * self.judge_error), 1.0 - 1e-9)
        self._p0, self.p1 = p0, p1
        self._up = math.log(p1 / p0)
        self._down = math.log((1.0 - p1) / (1.0 - p0))

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

    # -- drift ----------------------------------------------------------------------------
    def _kept_by_steps(self, origin: float, t: float) -> float:
        """Π (1 − drop) of the steps after ``origin`` up to ``t`` (cached between steps)."""
        cached_origin, kept, until = self._step_cache
        if cached_origin == origin and t < until:
            return kept
        kept, until = 1.0, math.inf
        for at, drop in self.drift_steps:
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
        if self.drift_per_day > 0.0:
            start = max(origin, self.drift_start_s)
            if t > start:
                gradual = min(1.0, self.drift_per_day * (t - start) / SECONDS_PER_DAY)
        kept = self._kept_by_steps(origin, t) if self.drift_steps else 1.0
        return 1.0 - (1.0 - gradual) * kept

    def drift_loss(self, t: float | None = None) -> float:
        """Probability that an otherwise acceptable answer at ``t`` (default: now) is spoiled."""
        if not self.drifting:
            return 0.0
        t = self._env.now if t is None else t
        loss = self._loss_since(self._origin, t)
        if self._canary > 0.0:
            new = self._loss_since(self._canary_origin, t)
            self._step_cache = (math.nan, 1.0, -math.inf)  # two origins: do not cache
            loss = (1.0 - self._canary) * loss + self._canary * new
        return loss

    def _drift_began(self, t: float) -> float | None:
        """When drift first applied to the model in production (None if not by ``t``)."""
        if not self.drifting:
            return None
        starts = []
        if self.drift_per_day > 0.0:
            starts.append(max(self._origin, self.drift_start_s))
        for at, _ in self.drift_steps:
            if at > self._origin:
                starts.append(at)
                break
        began = max(min(starts), self._restored_at) if starts else math.inf
        return began if began <= t else None

    def _current_episode(self, t: float) -> dict[str, Any] | None:
        if self._episode is None:
            began = self._drift_began(t)
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
            self._canary_origin, self._canary = origin, share
            return
        episode = self._current_episode(now)
        if episode is not None:
            episode["restored_s"] = now
        self._episode = None
        self._origin, self._canary, self._restored_at = origin, 0.0, now
        self._step_cache = (math.nan, 1.0, -math.inf)
        self._s = 0.0
        self.restores += 1

    # -- billing, gauges, report ----------------------------------------------------------
    def bill(self, start_s: float, end_s: float) -> None:
        """Ingestion of what was logged in ``[start_s, end_s)`` and storage of what is kept."""
        written = self._written
        ingest = written / BYTES_PER_GB * self.ingest_usd_per_gb
        byte_s = self._volume.close(start_s, end_s, written, self._moment)
        self._written = self._moment = 0.0
        storage = byte_s / BYTES_PER_GB / SECONDS_PER_MONTH * self.storage_usd_per_gb_month
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
        e = self.judge_error
        episodes = [dict(ep) for ep in self.episodes]
        return {
            "kind": "monitor",
            "logged_requests": self.logged,
            "logged_gb": self.logged_bytes / BYTES_PER_GB,
            "stored_gb_at_end": (self._volume.stored_bytes + self._written) / BYTES_PER_GB,
            "retention_days": self.retention_days,
            "ingest_usd": self.ingest_usd,
            "storage_usd": self.storage_usd,
            "eval_share": self.eval_share,
            "evals": self.evals,
            "judge_prompt_tokens": self.judge_prompt_tokens,
            "judge_output_tokens": self.evals * self.judge_output_tokens,
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
                "h": self.cusum_h,
                "baseline_judged_unacceptable": self._p0,
                "tuned_judged_unacceptable": self.p1 if self._p0 is not None else None,
                "baseline_evals": self.baseline_evals,
            },
            "alarms": self.alarms,
            "false_alarms": self.false_alarms,
            "restores": self.restores,
            "drift_loss_at_end": self.drift_loss(now),
            "episodes": episodes,
        }

    def __repr__(self) -> str:
        return (
            f"DriftMonitor({self.name!r}, eval_share={self.eval_share}, drifting={self.drifting})"
        )


@dataclass
class MonitorConfig:
    """Logging, LLM-judge evaluation and drift of the answers (prices: see the comments)."""

    # Log volume. OpenAI: "1 token ~ 4 characters of English text" (help.openai.com,
    # "What are tokens and how to count them?"); 1 byte per character (UTF-8, ASCII).
    bytes_per_token: float = knob(4.0, ge=0)
    # Assumption: a JSON envelope per request (ids, timestamps, model, token counts,
    # latency, route, status) of about 1 kB.
    metadata_bytes: int = knob(1000, ge=0, integer=True)
    # AWS CloudWatch Logs, Standard class, us-east-1: ingestion $0.50 per GB, storage
    # $0.03 per GB-month (c3x.dev "CloudWatch Logs cost optimization", prices as of
    # June 2026; hykell.com CloudWatch Logs pricing guide; read 2026-11 via stored copies).
    ingest_usd_per_gb: float = knob(0.50, ge=0)
    storage_usd_per_gb_month: float = knob(0.03, ge=0)
    retention_days: float = knob(30.0, gt=0, le=36500)  # assumption: a 30-day retention policy
    # Evaluation. Assumption: 5 % of responses judged.
    eval_share: float = knob(0.05, ge=0, le=1)
    judge_model: str = "gpt_4o_mini"  # a key of api_models: its list prices
    rubric_tokens: int = knob(400, ge=0, integer=True)  # assumption: judge instructions
    judge_output_tokens: int = knob(100, ge=0, integer=True)  # assumption: verdict + reason
    # Share of verdicts that are wrong (symmetric). Strong LLM judges agree with human
    # raters on ~80-85 % of judgements (Zheng et al., "Judging LLM-as-a-judge with
    # MT-Bench and Chatbot Arena", NeurIPS 2023, arXiv:2306.05685); assumption: 0.15.
    judge_error: float = knob(0.15, ge=0, lt=0.5)
    human_eval_share: float = knob(0.0, ge=0, le=1)
    # Assumption: 2 minutes of a rater at $30/h per item.
    human_usd_per_item: float = knob(1.0, ge=0)
    # Drift (none by default): gradual loss per day, and steps (days, drop) in pairs.
    drift_per_day: float = knob(0.0, ge=0)
    drift_start_days: float = knob(0.0, ge=0)
    drift_step_days: list[float] = knob(factory=list, ge=0)
    drift_step_drop: list[float] = knob(factory=list, ge=0, le=1)
    # Detection: Bernoulli CUSUM (Page 1954; Reynolds & Stoumbos 1999). Assumptions:
    # the baseline from the first 500 verdicts (null share: estimate it), tuned to a
    # 5-point drop in the acceptable share, threshold 6 log-likelihood units. With a
    # known baseline of 15 % "unacceptable" verdicts that is ~120,000 verdicts between
    # false alarms and ~1,070 verdicts to detect a 5-point drop (~120 for 30 points),
    # simulated for this module; an estimated baseline makes false alarms earlier
    # (Jones, Champ & Rigdon, Technometrics 46(2), 2004).
    baseline_evals: int = knob(500, ge=1, integer=True)
    baseline_acceptable_share: float | None = knob(None, gt=0, lt=1, none_ok=True)
    detect_shift: float = knob(0.05, gt=0, lt=1)
    cusum_h: float = knob(6.0, gt=0)


@register("monitors", MonitorConfig)
def build_monitor(b: Any, name: str, c: Any) -> DriftMonitor:
    """A monitor after the model: logs, LLM-judge samples, drift and its detection."""
    key = f"monitors.{name}"
    judge = checks.lookup(f"{key}.judge_model", c.judge_model, b.cfg.api_models, "api_models")
    days, drops = list(c.drift_step_days), list(c.drift_step_drop)
    if len(days) != len(drops):
        checks.both(
            f"{key}.drift_step_days",
            days,
            f"{key}.drift_step_drop",
            drops,
            "need the same number of values (one drop per step)",
        )
    return DriftMonitor(
        name,
        b.ctx,
        bytes_per_token=c.bytes_per_token,
        metadata_bytes=c.metadata_bytes,
        ingest_usd_per_gb=c.ingest_usd_per_gb,
        storage_usd_per_gb_month=c.storage_usd_per_gb_month,
        retention_days=c.retention_days,
        eval_share=c.eval_share,
        judge_usd_per_mtok_input=judge.usd_per_mtok_input,
        judge_usd_per_mtok_output=judge.usd_per_mtok_output,
        rubric_tokens=int(c.rubric_tokens),
        judge_output_tokens=int(c.judge_output_tokens),
        judge_error=c.judge_error,
        human_eval_share=c.human_eval_share,
        human_usd_per_item=c.human_usd_per_item,
        drift_per_day=c.drift_per_day,
        drift_start_days=c.drift_start_days,
        drift_steps=list(zip(days, drops)),
        baseline_evals=int(c.baseline_evals),
        baseline_acceptable_share=c.baseline_acceptable_share,
        detect_shift=c.detect_shift,
        cusum_h=c.cusum_h,
        rng=b.ctx.rng.stream(f"monitors.{name}"),
    )
