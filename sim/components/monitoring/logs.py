"""What a monitor logs, and what keeping it costs (layer ``monitoring``).

Every response that reaches the monitor is logged: ``(prompt + output tokens) ×
bytes_per_token + metadata_bytes`` bytes (1 GB = 10⁹ bytes). Ingestion is billed per GB
ingested (``ingest_usd_per_gb``); each byte is then **stored for ``retention_days``** and
billed per GB-month for the time it is stored (``storage_usd_per_gb_month``), by
:class:`RetainedVolume` at each bucket edge: the bytes ingested in a bucket are placed at
their mean ingest time and expire ``retention_days`` later. The total is exact (each
byte is billed for exactly its retention, or until the horizon); the split between
buckets is exact when the retention is a whole number of buckets, else off by less than
one bucket.

Per response: two additions (the bytes, and bytes × time); per bucket: one record.
"""

from __future__ import annotations

from collections import deque

from sim import checks

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


class RequestLog:
    """The monitor's log: bytes per response, then ingestion and retention billed by bucket."""

    def __init__(
        self,
        *,
        bytes_per_token: float,
        metadata_bytes: float,
        ingest_usd_per_gb: float,
        storage_usd_per_gb_month: float,
        retention_days: float,
    ) -> None:
        self.bytes_per_token = checks.non_negative("bytes_per_token", bytes_per_token)
        self.metadata_bytes = checks.non_negative("metadata_bytes", metadata_bytes)
        self.ingest_usd_per_gb = checks.non_negative("ingest_usd_per_gb", ingest_usd_per_gb)
        self.storage_usd_per_gb_month = checks.non_negative(
            "storage_usd_per_gb_month", storage_usd_per_gb_month
        )
        self.retention_days = checks.positive("retention_days", retention_days)
        self._volume = RetainedVolume(self.retention_days * SECONDS_PER_DAY)
        self._written = 0.0  # bytes logged since the last bill
        self._moment = 0.0  # their sum of bytes x log time

    def write(self, tokens: int, t: float) -> float:
        """Log one response of ``tokens`` tokens at ``t``; its size in bytes."""
        nbytes = tokens * self.bytes_per_token + self.metadata_bytes
        self._written += nbytes
        self._moment += nbytes * t
        return nbytes

    def close(self, start_s: float, end_s: float) -> tuple[float, float]:
        """``(ingest_usd, storage_usd)`` of ``[start_s, end_s)``: what was logged in it, and
        the byte-seconds kept during it."""
        written = self._written
        ingest = written / BYTES_PER_GB * self.ingest_usd_per_gb
        byte_s = self._volume.close(start_s, end_s, written, self._moment)
        self._written = self._moment = 0.0
        storage = byte_s / BYTES_PER_GB / SECONDS_PER_MONTH * self.storage_usd_per_gb_month
        return ingest, storage

    @property
    def stored_gb(self) -> float:
        """GB kept now (what the last bill filed, plus what was logged since)."""
        return (self._volume.stored_bytes + self._written) / BYTES_PER_GB
