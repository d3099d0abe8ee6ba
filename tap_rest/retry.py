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
import urllib3
from singer_sdk.exceptions import RetriableAPIError

from tap_rest.errors import (
    APIStatusError,
    CannotConnectError,
    RetriesExhaustedError,
    SkippedStatusError,
)
from tap_rest.quota import exhausted_wait

if t.TYPE_CHECKING:
    from tap_rest.ratelimit import RateLimiter
    from tap_rest.redact import Redactor
    from tap_rest.stats import RunStats

logger = logging.getLogger("tap-rest")
T = t.TypeVar("T")

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


def rate_limit_wait(headers: t.Mapping[str, str], now: float | None = None) -> float | None:
    """Return how long to wait when the server says no request is left, else None."""
    return exhausted_wait(headers, now)


#: what a rate-limited answer says in its body (GitHub's 403 "API rate limit exceeded",
#: "You have exceeded a secondary rate limit", Salesforce's "REQUEST_LIMIT_EXCEEDED", ...)
DEFAULT_LIMIT_PATTERN = (
    r"rate[ _-]?limit(ed|s)?[ _-]?(exceeded|reached|hit)|exceeded (a |the |your )?"
    r"(secondary )?rate[ _-]?limit|request[ _-]?limit[ _-]?exceeded|too many requests|throttl"
)


#: failures that mean the host was never reached, and how to say so
_UNREACHABLE: tuple[tuple[type[Exception], str], ...] = (
    (requests.exceptions.ConnectTimeout, "connection timed out"),
    (
        requests.exceptions.SSLError,
        "TLS handshake failed: a certificate or protocol the client does not accept",
    ),
    (requests.exceptions.ProxyError, "the proxy refused or failed"),
)


def cannot_connect(exc: BaseException | None) -> str | None:
    """Return why a request never reached its host (refused, unknown host, TLS), else None."""
    for kind, why in _UNREACHABLE:
        if isinstance(exc, kind):
            return why
    if not isinstance(exc, requests.exceptions.ConnectionError) or not exc.args:
        return None
    reason = getattr(exc.args[0], "reason", None)
    if isinstance(reason, urllib3.exceptions.NameResolutionError):
        return "unknown host"
    if isinstance(reason, urllib3.exceptions.NewConnectionError):
        return "connection refused" if "refused" in str(reason).lower() else "cannot connect"
    return None


@dataclass(frozen=True)
class LimitRules:
    """How an API says "too many requests" besides a 429 and its rate-limit headers."""

    statuses: frozenset[int] = frozenset({HTTPStatus.TOO_MANY_REQUESTS})
    pattern: str = DEFAULT_LIMIT_PATTERN

    @classmethod
    def from_settings(cls, settings: t.Mapping[str, t.Any]) -> LimitRules:
        """Return the rules an API's (or the tap's) rate-limit settings describe."""
        statuses = settings.get("rate_limit_statuses")
        return cls(
            statuses=frozenset(statuses) if statuses is not None else cls.statuses,
            pattern=settings.get("rate_limit_pattern") or DEFAULT_LIMIT_PATTERN,
        )

    def limited(self, response: requests.Response) -> bool:
        """Tell whether a failed response only asks the client to slow down."""
        status = response.status_code
        if status < HTTPStatus.BAD_REQUEST:
            return False
        if (
            status in self.statuses
            or rate_limit_wait(response.headers) is not None
            or retry_after_seconds(response) is not None
        ):
            return True
        if status >= HTTPStatus.INTERNAL_SERVER_ERROR or status == HTTPStatus.NOT_FOUND:
            return False
        return re.search(self.pattern, response.text[:2000], re.IGNORECASE) is not None


class _Budget:
    """The waits of one request's retries, and why they stopped (a retry_context wait_gen)."""

    def __init__(self, policy: RetryPolicy, stream: str, answered: t.Callable[[], bool]) -> None:
        self.policy, self.stream, self.answered = policy, stream, answered
        self.reason: str | None = None
        self.started = time.monotonic()

    def __call__(self) -> t.Generator[float, t.Any, None]:
        policy = self.policy
        attempt = 0
        exc = yield 0.0
        while True:
            attempt += 1
            unreachable = cannot_connect(exc)
            if unreachable and not self.answered():
                # Nothing ever answered: a wrong URL, not a hiccup. Retrying for minutes won't help.
                if attempt >= policy.connect_tries:
                    self.reason = unreachable
                    return
                wait = 0.5 * 2 ** (attempt - 1)
            else:
                wait = policy.wait(exc, attempt, self.stream)
            spent = time.monotonic() - self.started
            if spent + wait > policy.max_retry_time:
                self.reason = (
                    f"max_retry_time ({policy.max_retry_time:.0f} s) spent"
                    if spent + policy.max_wait >= policy.max_retry_time
                    else f"the server asks to wait {wait:.0f} s, beyond max_retry_time "
                    f"({policy.max_retry_time:.0f} s)"
                )
                return
            exc = yield wait


@dataclass(frozen=True)
class RetryPolicy:
    """What is retried, how long to wait between tries, and when to give up (one per run).

    A request is retried while what failed may pass on a later try (5xx, 408, a rate limit,
    a dropped connection, a body cut short), for up to ``max_retry_time`` seconds and, when
    set, ``max_tries`` tries; an API that has never answered gets ``connect_tries`` quick tries.
    """

    max_tries: int | None = None
    max_retry_time: float = 600.0
    backoff_factor: float = 1.0
    max_wait: float = 60.0
    max_retry_after: float = 300.0
    connect_tries: int = 3

    @classmethod
    def from_config(cls, config: t.Mapping[str, t.Any]) -> RetryPolicy:
        """Return the policy the retry settings describe."""
        tries = config.get("max_tries")
        return cls(
            max_tries=int(tries) if tries else None,
            max_retry_time=float(config.get("max_retry_time", 600)),
            backoff_factor=float(config.get("backoff_factor", 1.0)),
            max_wait=float(config.get("max_wait", 60)),
            max_retry_after=float(config.get("max_retry_after", 300)),
        )

    def server_wait(self, response: requests.Response | None) -> float | None:
        """Return how long a failed response asks to wait: Retry-After, or a spent quota's reset."""
        if response is None or response.status_code < HTTPStatus.BAD_REQUEST:
            return None
        asked = retry_after_seconds(response)
        return asked if asked is not None else rate_limit_wait(response.headers)

    def check(
        self,
        response: requests.Response,
        *,
        stream: str,
        limiter: RateLimiter,
        skip: t.Collection[int],
        describe: t.Callable[[requests.Response], str],
        limits: LimitRules,
    ) -> None:
        """Raise for a failed response: retriable (5xx, 408, a rate limit), skipped, or fatal.

        An answer that says no request is left, or to wait (``Retry-After``), holds back every
        thread at once, not only the one that will retry.
        """
        status = response.status_code
        wait = rate_limit_wait(response.headers)
        if wait and status < HTTPStatus.BAD_REQUEST:
            logger.info(
                "Stream '%s': rate limit exhausted; waiting %.1f s for its reset", stream, wait
            )
        asked = self.server_wait(response)
        asked = min(asked, self.max_retry_after) if asked else None
        # A limit teaches the limiter the server's budget; an answer that is not one spends it
        # (its RateLimit-Remaining, less the requests in flight, is what the others may send).
        limit = HTTPStatus.BAD_REQUEST <= status < HTTPStatus.INTERNAL_SERVER_ERROR and (
            status == HTTPStatus.TOO_MANY_REQUESTS or limits.limited(response)
        )
        limiter.observe(response.headers, limited=limit, wait=asked)
        if asked and not limit:
            limiter.pause_for(asked)  # a 503's Retry-After: every thread waits, nothing to learn
        if status in skip:
            raise SkippedStatusError(describe(response), status, response)
        if (
            status in RETRY_STATUSES
            or status >= HTTPStatus.INTERNAL_SERVER_ERROR
            or limits.limited(response)
        ):
            raise RetriableAPIError(describe(response), response)
        if status >= HTTPStatus.BAD_REQUEST:
            raise APIStatusError(describe(response), status, response)

    def wait(self, exc: BaseException | None, attempt: int, stream: str) -> float:
        """Return the wait before the next try: as the server asks, else exponential with jitter."""
        asked = self.server_wait(getattr(exc, "response", None))
        if asked is not None:
            cap = self.max_retry_after
            if asked > cap:
                logger.warning(
                    "Stream '%s': the server asked to wait %.0f s; waiting max_retry_after "
                    "%.0f s instead",
                    stream,
                    asked,
                    cap,
                )
            # Never earlier than asked: the jitter only adds. check() has held back the other
            # threads already.
            return min(asked, cap) + random.uniform(0, min(0.1 * min(asked, cap), 1.0))
        ceiling = min(self.max_wait, self.backoff_factor * 2 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def call(
        self,
        func: t.Callable[..., T],
        *args: t.Any,
        stream: str,
        stats: RunStats,
        redactor: Redactor,
        answered: t.Callable[[], bool],
        where: str,
    ) -> T:
        """Call ``func``, retrying what a retry may fix; give up with one clear error.

        ``answered`` tells whether the API has answered in this run; ``where`` names the setting
        that holds its URL, for the message when it cannot be reached at all.
        """

        def describe(exc: BaseException | None) -> str:
            if isinstance(exc, RetriableAPIError):
                return str(exc)
            unreachable = cannot_connect(exc)
            if unreachable:
                url = redactor.url(getattr(getattr(exc, "request", None), "url", None) or "")
                return f"Stream '{stream}': cannot connect to {url} ({unreachable})"
            return f"Stream '{stream}': {type(exc).__name__}: {redactor(str(exc))}"

        def on_retry(details: t.Any) -> None:
            stats.add(stream, retries=1)
            logger.warning(
                "%s; retry %d%s in %.2f s",
                describe(details.get("exception")),
                details["tries"],
                f" of {self.max_tries - 1}" if self.max_tries else "",
                details.get("wait") or 0,
            )

        budget = _Budget(self, stream, answered)
        try:
            for attempt in backoff.retry_context(
                RETRIABLE,
                budget,
                max_tries=self.max_tries,
                jitter=None,
                on_backoff=on_retry,
                logger=None,
            ):
                with attempt:
                    return func(*args)
        except RETRIABLE as exc:
            request = getattr(exc, "request", None) or getattr(exc, "response", None)
            url = getattr(request, "url", None) or ""
            if budget.reason is not None and cannot_connect(exc) and not answered():
                base = redactor.url(url)
                msg = f"cannot connect to {base} ({budget.reason}): is {where} right?"
                raise CannotConnectError(msg) from exc
            spent = time.monotonic() - budget.started
            why = f" ({budget.reason})" if budget.reason else ""
            msg = f"Stream '{stream}': giving up after {spent:.0f} s{why}: {describe(exc)}"
            if self.max_tries and budget.reason is None:
                msg = f"Stream '{stream}': giving up after {self.max_tries} tries: {describe(exc)}"
            raise RetriesExhaustedError(msg) from exc
        raise AssertionError("unreachable")  # pragma: no cover - retry_context always ends above
