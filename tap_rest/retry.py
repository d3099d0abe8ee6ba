"""Retry policy: what is retried and how long to wait (backoff, Retry-After, rate limits)."""

from __future__ import annotations

import logging
import random
import re
import time
import typing as t
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from http import HTTPStatus

import backoff
import requests
from singer_sdk.exceptions import RetriableAPIError

from tap_rest.errors import APIStatusError, SkippedStatusError

if t.TYPE_CHECKING:
    from tap_rest.ratelimit import RateLimiter
    from tap_rest.redact import Redactor
    from tap_rest.stats import RunStats

logger = logging.getLogger("tap-rest")

#: what a retry may fix: 5xx, 408, 429, bodies cut short, dropped connections, timeouts
RETRIABLE = (
    RetriableAPIError,
    ConnectionResetError,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
RETRY_STATUSES = frozenset({HTTPStatus.REQUEST_TIMEOUT, HTTPStatus.TOO_MANY_REQUESTS})

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


@dataclass(frozen=True)
class RetryPolicy:
    """What is retried, and how long to wait between tries (one per run, from config)."""

    max_tries: int = 8
    backoff_factor: float = 1.0
    max_wait: float = 60.0
    max_retry_after: float = 300.0

    @classmethod
    def from_config(cls, config: t.Mapping[str, t.Any]) -> RetryPolicy:
        """Return the policy the retry settings describe."""
        return cls(
            max_tries=int(config.get("max_tries", 8)),
            backoff_factor=float(config.get("backoff_factor", 1.0)),
            max_wait=float(config.get("max_wait", 60)),
            max_retry_after=float(config.get("max_retry_after", 300)),
        )

    def check(
        self,
        response: requests.Response,
        *,
        stream: str,
        limiter: RateLimiter,
        skip: t.Collection[int],
        describe: t.Callable[[requests.Response], str],
    ) -> None:
        """Raise for a failed response: retriable (5xx, 408, 429), skipped, or fatal (4xx).

        A spent rate limit or a ``Retry-After`` on an error holds back every thread at once,
        not only the one that will retry.
        """
        wait = rate_limit_wait(response.headers)
        if wait:
            logger.info(
                "Stream '%s': rate limit exhausted; waiting %.1f s for its reset", stream, wait
            )
            limiter.pause_for(min(wait, self.max_retry_after))
        status = response.status_code
        asked = retry_after_seconds(response) if status >= HTTPStatus.BAD_REQUEST else None
        if asked is not None:
            limiter.pause_for(min(asked, self.max_retry_after))
        if status in skip:
            raise SkippedStatusError(describe(response), status)
        if status in RETRY_STATUSES or status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            raise RetriableAPIError(describe(response), response)
        if status >= HTTPStatus.BAD_REQUEST:
            raise APIStatusError(describe(response), status)

    def waits(self, stream: str) -> t.Generator[float, t.Any, None]:
        """Yield each wait: ``Retry-After`` if the server sent one, else exponential with jitter."""
        cap = self.max_retry_after
        attempt = 0
        exc = yield 0.0
        while True:
            asked = retry_after_seconds(getattr(exc, "response", None))
            if asked is not None:
                if asked > cap:
                    logger.warning(
                        "Stream '%s': the server asked to wait %.0f s; waiting max_retry_after "
                        "%.0f s instead",
                        stream,
                        asked,
                        cap,
                    )
                # Never earlier than asked: the jitter only adds. check() has held back the
                # other threads already.
                wait = min(asked, cap) + random.uniform(0, min(0.1 * min(asked, cap), 1.0))
            else:
                ceiling = min(self.max_wait, self.backoff_factor * 2**attempt)
                wait = ceiling / 2 + random.uniform(0, ceiling / 2)
            attempt += 1
            exc = yield wait

    def decorate(
        self, func: t.Callable, *, stream: str, stats: RunStats, redactor: Redactor
    ) -> t.Callable:
        """Return ``func`` retried on what a retry may fix, logging each retry and the last."""

        def describe(exc: BaseException | None) -> str:
            if isinstance(exc, RetriableAPIError):
                return str(exc)
            return f"Stream '{stream}': {type(exc).__name__}: {redactor(str(exc))}"

        def on_retry(details: t.Any) -> None:
            stats.add(stream, retries=1)
            logger.warning(
                "%s; retry %d of %d in %.2f s",
                describe(details.get("exception")),
                details["tries"],
                self.max_tries - 1,
                details.get("wait") or 0,
            )

        def on_giveup(details: t.Any) -> None:
            logger.error(
                "Stream '%s': giving up after %d tries: %s",
                stream,
                details["tries"],
                describe(details.get("exception")),
            )

        return backoff.on_exception(
            lambda: self.waits(stream),
            RETRIABLE,
            max_tries=self.max_tries,
            jitter=None,
            on_backoff=on_retry,
            on_giveup=on_giveup,
            logger=None,
        )(func)
