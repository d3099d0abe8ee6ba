"""What a run says while it goes: quiet by default, a progress line every few seconds.

At the default log level a run writes its start, a progress line at least every
``progress_interval`` seconds of work, its warnings and its summary. The SDK's per-request
METRIC lines and its per-partition "Beginning sync" lines (one per parent record) are shown
only at debug level or with ``log_metrics``.
"""

from __future__ import annotations

import logging
import threading
import time
import typing as t

if t.TYPE_CHECKING:
    from tap_rest.stats import RunStats

logger = logging.getLogger("tap-rest")

#: the SDK's lines that say nothing a user acts on: one per parent record, or set-up chatter
_CHATTER = frozenset(
    {
        "Beginning sync of '%s' in %s mode with context keys: %s",
        "Added '%s' as child stream to '%s'",
        "Skipping parse of env var settings...",
        # tap-rest's checkpoints resume any stream, sorted or not.
        "Stream is assumed to be unsorted, progress is not resumable if interrupted",
        # The failure itself follows, in one line naming what and where.
        "An unhandled error occurred while syncing '%s'",
    }
)


def is_chatter(message: object) -> bool:
    """Tell whether a line is chatter to leave out (debug shows it)."""
    return message in _CHATTER and not logging.getLogger().isEnabledFor(logging.DEBUG)


class QuietFilter(logging.Filter):
    """Drops the lines a run would otherwise repeat per parent record, and set-up chatter."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep a record unless it is chatter and debug is off."""
        return not is_chatter(record.msg)


def quiet_logs(*, metrics: bool = False) -> None:
    """Keep per-request and per-partition lines out of the log, unless debugging or asked."""
    debugging = logging.getLogger().isEnabledFor(logging.DEBUG)
    if not (metrics or debugging):
        logging.getLogger("singer_sdk.metrics").setLevel(logging.WARNING)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, QuietFilter) for f in handler.filters):
            handler.addFilter(QuietFilter())


def _count(n: float) -> str:
    return f"{n:,.0f}"


class Progress:
    """A daemon thread that logs what the run has done every ``interval`` seconds."""

    def __init__(self, stats: RunStats, interval: float) -> None:
        self.stats, self.interval = stats, interval
        self._stop = threading.Event()
        self._started = time.monotonic()

    def line(self) -> str:
        """Return ``Progress: posts 1,200 records, ..., 312 requests, 2 retries, 830 records/s``."""
        with self.stats.lock:
            streams = [(name, s.records) for name, s in self.stats.streams.items() if s.records]
            requests = sum(s.requests for s in self.stats.streams.values())
            retries = sum(s.retries for s in self.stats.streams.values())
        records = sum(n for _, n in streams)
        rate = records / max(time.monotonic() - self._started, 1e-9)
        parts = [f"{name} {_count(n)} records" for name, n in streams]
        parts += [f"{_count(requests)} requests", f"{_count(retries)} retries"]
        return f"Progress: {', '.join(parts)}, {_count(rate)} records/s"

    def start(self) -> Progress:
        """Start reporting (nothing when the interval is 0)."""
        if self.interval > 0:
            threading.Thread(target=self._report, name="tap-rest-progress", daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop reporting."""
        self._stop.set()

    def _report(self) -> None:
        while not self._stop.wait(self.interval):
            logger.info("%s", self.line())
