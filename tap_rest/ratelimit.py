"""A client-side rate limiter shared by every request, and the server's rate-limit headers."""

from __future__ import annotations

import re
import threading
import time
import typing as t
from email.utils import parsedate_to_datetime

if t.TYPE_CHECKING:
    import requests

#: a reset value above this is a Unix time, below it a number of seconds (X-RateLimit-Reset
#: is epoch seconds on GitHub and many others, delta seconds in the IETF draft)
_EPOCH_THRESHOLD = 1_000_000_000


def retry_after_seconds(
    response: requests.Response | None, now: float | None = None
) -> float | None:
    """Return the wait a ``Retry-After`` header asks for (delta-seconds or HTTP-date), if any."""
    if response is None:
        return None
    value = (response.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def rate_limit_wait(headers: t.Mapping[str, str], now: float | None = None) -> float | None:
    """Return how long to wait when the server says no request is left, else None.

    Reads ``RateLimit-Remaining``/``RateLimit-Reset``, ``X-RateLimit-*``, and the structured
    ``RateLimit: limit=10, remaining=0, reset=5`` (or ``r=0;t=5``) header.
    """
    remaining = reset = None
    for prefix in ("RateLimit-", "X-RateLimit-", "X-Rate-Limit-"):
        if remaining is None:
            remaining = _number(headers.get(prefix + "Remaining"))
        if reset is None:
            reset = _number(headers.get(prefix + "Reset"))
    combined = headers.get("RateLimit")
    if combined:
        fields = dict(re.findall(r"\b(remaining|reset|r|t)\s*=\s*([\d.]+)", combined))
        remaining = (
            remaining
            if remaining is not None
            else _number(fields.get("remaining") or fields.get("r"))
        )
        reset = reset if reset is not None else _number(fields.get("reset") or fields.get("t"))
    if remaining is None or remaining > 0 or reset is None:
        return None
    if reset > _EPOCH_THRESHOLD:
        return max(reset - (time.time() if now is None else now), 0.0)
    return reset


class RateLimiter:
    """A token bucket (``rate`` requests per second, ``burst`` at once) with server-set pauses.

    One instance is shared by every stream and thread of a run; ``acquire`` blocks until the
    caller may send. ``pause_until`` holds everyone back, e.g. until a ``Retry-After`` or a rate
    limit reset has passed.
    """

    def __init__(self, rate: float | None = None, burst: int = 1) -> None:
        self.rate = rate
        self.burst = max(burst, 1)
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
