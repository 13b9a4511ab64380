"""What the pipeline keeps, and its storage bill: raw documents and index records.

New documents add their raw text (object storage, ``raw_usd_per_gb_month``) from the
moment they arrive, and their index records (``index_usd_per_gb_month``) from the
moment they become visible; a document that replaces another adds nothing. Storage is
billed as the integral of GB over time: :meth:`StoredVolume.grow` brings the integral
up to date before each change, and the pipeline's bucket bill takes what accrued.
The store bills the index it started with; this counts only what the pipeline adds.
"""

from __future__ import annotations

from sim import checks

SECONDS_PER_MONTH = 30.4375 * 86400.0


class StoredVolume:
    """GB of raw text and of index records, and what holding them has cost so far."""

    def __init__(
        self, *, raw_usd_per_gb_month: float, index_usd_per_gb_month: float, warmup_s: float
    ) -> None:
        self.raw_usd_per_gb_month = checks.non_negative(
            "raw_usd_per_gb_month", raw_usd_per_gb_month
        )
        self.index_usd_per_gb_month = checks.non_negative(
            "index_usd_per_gb_month", index_usd_per_gb_month
        )
        self._warmup_s = warmup_s
        self.raw_gb = 0.0
        self.index_gb = 0.0
        self._accrued_t = 0.0
        self._accrued_usd = 0.0
        self.gb_s = 0.0  # GB-seconds stored after the warm-up

    def grow(self, t: float, raw_gb: float, index_gb: float) -> None:
        """Add GB at ``t`` (after charging what was held until then)."""
        self.accrue(t)
        self.raw_gb += raw_gb
        self.index_gb += index_gb

    def accrue(self, t: float) -> None:
        """Storage cost of the GB held from the last change to ``t``."""
        dt = t - self._accrued_t
        if dt > 0:
            usd_per_month = (
                self.raw_gb * self.raw_usd_per_gb_month
                + self.index_gb * self.index_usd_per_gb_month
            )
            self._accrued_usd += usd_per_month * dt / SECONDS_PER_MONTH
            if t > self._warmup_s:
                self.gb_s += (self.raw_gb + self.index_gb) * (
                    t - max(self._accrued_t, self._warmup_s)
                )
            self._accrued_t = t

    def take_usd(self, t: float) -> float:
        """What holding the GB cost up to ``t`` since the last call."""
        self.accrue(t)
        usd, self._accrued_usd = self._accrued_usd, 0.0
        return usd

    @property
    def total_gb(self) -> float:
        return self.raw_gb + self.index_gb
