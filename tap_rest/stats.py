"""Run statistics: what each stream did, shared by every thread, for the summary."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass
class StreamStats:
    """What one stream did in a run."""

    records: int = 0
    requests: int = 0
    retries: int = 0
    skipped: int = 0
    started: float | None = None
    ended: float | None = None

    @property
    def seconds(self) -> float:
        """Return the wall time from the stream's first request to its last record."""
        if self.started is None:
            return 0.0
        return (self.ended or time.monotonic()) - self.started


@dataclass
class RunStats:
    """Counts for the run summary, shared by every stream and thread."""

    streams: dict[str, StreamStats] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, stream: str, **counts: int) -> None:
        """Add to a stream's counters."""
        with self.lock:
            stats = self.streams.setdefault(stream, StreamStats())
            now = time.monotonic()
            stats.started = stats.started or now
            stats.ended = now
            for name, value in counts.items():
                setattr(stats, name, getattr(stats, name) + value)

    def reset(self) -> None:
        """Forget every count (what discovery sampled is no part of the run)."""
        with self.lock:
            self.streams.clear()

    def lines(self) -> list[str]:
        """Return one summary line per stream."""
        return [
            f"{name}: {s.records} records, {s.requests} requests, {s.retries} retries, "
            f"{s.skipped} skipped errors, {s.seconds:.1f} s"
            for name, s in self.streams.items()
        ]
