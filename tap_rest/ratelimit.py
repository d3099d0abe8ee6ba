"""The client-side rate limiter, shared by every stream and thread that sends requests."""

from __future__ import annotations

import threading
import time


class RateLimiter:
    """A token bucket (``rate`` requests per second, ``burst`` at once) with server-set pauses.

    One instance is shared by every stream and thread of a run (one per API); ``acquire``
    blocks until the caller may send. ``pause_until`` holds everyone back, e.g. until a
    ``Retry-After`` or a rate limit reset has passed.
    """

    def __init__(self, rate: float | None = None, burst: int = 1) -> None:
        self.rate = float(rate) if rate else None
        self.burst = max(int(burst), 1)
        self._tokens = float(self.burst)
        self._updated = time.monotonic()
        self._paused_until = 0.0
        self._lock = threading.Lock()
        self.waited = 0.0

    def pause_until(self, moment: float) -> None:
        """Let no request go before ``moment`` (a ``time.monotonic()`` value)."""
        with self._lock:
            self._paused_until = max(self._paused_until, moment)

    def pause_for(self, seconds: float) -> None:
        """Let no request go for this many seconds."""
        self.pause_until(time.monotonic() + seconds)

    def acquire(self) -> None:
        """Block until a request may be sent, then take a token."""
        while True:
            with self._lock:
                now = time.monotonic()
                wait = self._paused_until - now
                if wait <= 0 and self.rate:
                    self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
                    self._updated = now
                    if self._tokens >= 1:
                        self._tokens -= 1
                        return
                    wait = (1 - self._tokens) / self.rate
                elif wait <= 0:
                    return
            self.waited += wait
            time.sleep(wait)
