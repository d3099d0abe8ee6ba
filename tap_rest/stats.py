"""Run statistics: what each stream did, shared by every thread, for the summary."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass
class StreamStats:
    """What one stream did in a run.

    ``records`` counts the records written, and only the main thread writes them; every other
    counter goes through ``RunStats.add``, which any thread may call.
    """

    records: int = 0
    requests: int = 0
    retries: int = 0
    skipped: int = 0
    #: values a frozen schema dropped (fields it lacks) or let through (types it does not admit)
    dropped: int = 0
    mismatched: int = 0
    #: times the schema was widened to fit a record (and sent again)
    schema_changes: int = 0
    #: the totals the API reported, summed over the partitions that reported one
    reported: int | None = None
    #: the records received in those partitions (what ``reported`` is compared with)
    checked: int = 0
    #: records short of the reported total, summed over the partitions that fell short
    missing: int = 0
    started: float | None = None
    ended: float | None = None

    @property
    def seconds(self) -> float:
        """Return the wall time from the stream's first request to its last one."""
        if self.started is None:
            return 0.0
        return (self.ended or time.monotonic()) - self.started

    def line(self, name: str) -> str:
        """Return the stream's summary line."""
        text = (
            f"{name}: {self.records} records, {self.requests} requests, {self.retries} retries, "
            f"{self.skipped} skipped errors, {self.seconds:.1f} s{self.completeness}"
        )
        extras = [
            f"{self.schema_changes} schema changes" if self.schema_changes else "",
            f"{self.dropped} values dropped (not in the schema)" if self.dropped else "",
            f"{self.mismatched} values of another type" if self.mismatched else "",
        ]
        return "; ".join([text, *filter(None, extras)])

    @property
    def completeness(self) -> str:
        """Return the summary's text for the reported total: ``, 100 of 100 reported``."""
        if self.reported is None:
            return ""
        return f", {self.checked} of {self.reported} reported" + (
            f", {self.missing} missing" if self.missing else ""
        )


@dataclass
class RunStats:
    """Counts for the run summary, shared by every stream and thread."""

    streams: dict[str, StreamStats] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def stream(self, name: str) -> StreamStats:
        """Return a stream's counters (made on first use)."""
        with self.lock:
            return self.streams.setdefault(name, StreamStats())

    def add(self, stream: str, **counts: int) -> None:
        """Add to a stream's counters."""
        with self.lock:
            stats = self.streams.setdefault(stream, StreamStats())
            now = time.monotonic()
            stats.started = stats.started or now
            stats.ended = now
            for name, value in counts.items():
                setattr(stats, name, getattr(stats, name) + value)

    def add_total(self, stream: str, received: int, reported: int) -> None:
        """Add a partition's records received and the total its API reported."""
        with self.lock:
            stats = self.streams.setdefault(stream, StreamStats())
            stats.reported = (stats.reported or 0) + reported
            stats.checked += received
            stats.missing += max(reported - received, 0)

    def reset(self) -> None:
        """Forget every count (what discovery sampled is no part of the run)."""
        with self.lock:
            self.streams.clear()

    def lines(self) -> list[str]:
        """Return one summary line per stream."""
        return [stats.line(name) for name, stats in self.streams.items()]
