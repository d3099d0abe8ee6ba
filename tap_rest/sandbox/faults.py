"""Faults the sandbox injects, deterministic under a seed: 5xx, resets, cut bodies, 429s, latency.

Whether a request fails is a pure function of the seed, the request's path and query, and how
many times that same URL was asked for before, so a run is reproducible whatever its timing.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
import typing as t
from collections import Counter, deque
from dataclasses import dataclass, field
from email.utils import formatdate

FAIL_STATUSES = (500, 502, 503, 504)
RETRY_AFTER_FORMATS = ("seconds", "date", "both")
#: how early a request after a 429 may arrive and still count as on time (clock reads differ)
_TOLERANCE = 0.005
#: how long after the first limited answer of a window went out a client may still send
#: (it has to read that answer first); a request arriving later inside the window is early
#: after the answer, as a request still in flight when it came back is not
ANSWER_SLACK = 0.02


@dataclass
class FaultSpec:
    """Which faults to inject, and how often."""

    seed: int = 0
    fail_rate: float = 0.0
    reset_rate: float = 0.0
    truncate_rate: float = 0.0
    latency_ms: float = 0.0
    rate_limit: float | None = None
    retry_after_format: str = "both"
    rate_limit_headers: bool = True
    #: GitHub's quota: this many requests per ``quota_window`` seconds, then 403 with
    #: ``X-RateLimit-Remaining: 0`` and ``X-RateLimit-Reset`` (epoch seconds) until the reset
    quota: int | None = None
    quota_window: float = 2.0
    #: how long after a window's first limited answer a request still counts as in flight
    #: (a loaded machine's threads wait for the CPU: tests allow more than benchmarks)
    answer_slack: float = ANSWER_SLACK

    def __post_init__(self) -> None:
        for name in ("fail_rate", "reset_rate", "truncate_rate"):
            if not 0 <= getattr(self, name) <= 1:
                msg = f"{name} must be between 0 and 1"
                raise ValueError(msg)
        if self.retry_after_format not in RETRY_AFTER_FORMATS:
            msg = f"retry_after_format must be one of {', '.join(RETRY_AFTER_FORMATS)}"
            raise ValueError(msg)

    @property
    def active(self) -> bool:
        """Tell whether any fault is configured."""
        return bool(
            self.fail_rate
            or self.reset_rate
            or self.truncate_rate
            or self.latency_ms
            or self.rate_limit
            or self.quota
        )


@dataclass
class Decision:
    """What to do to one response."""

    status: int | None = None
    #: the body of a failure (default: its reason)
    body: t.Any = None
    reset: bool = False
    truncate_at: float | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    #: the first limited answer of a window: the server notes when it went out (``answered``)
    first_limit: bool = False


class Faults:
    """The fault state of a running sandbox, shared by its threads."""

    def __init__(self, spec: FaultSpec) -> None:
        self.spec = spec
        self.injected: Counter[str] = Counter()
        self.early_requests = 0
        #: for each early request, the seconds since the first limited answer of its window
        self.early_delays: list[float] = []
        #: requests that arrived inside a wait window after its first limited answer went out
        self.early_after_answer = 0
        #: for each of them, the seconds since that answer went out, and the request's path
        self.early_after: list[tuple[float, str]] = []
        self._answered_at: float | None = None
        self._window_end = 0.0
        self._window_used = 0
        self._limited_at: float | None = None
        self._attempts: Counter[str] = Counter()
        self._window: deque[float] = deque()
        self._not_before = 0.0
        self._lock = threading.Lock()

    def _uniform(self, kind: str, target: str, attempt: int) -> float:
        digest = hashlib.blake2b(
            f"{self.spec.seed}:{kind}:{target}:{attempt}".encode(), digest_size=8
        ).digest()
        return int.from_bytes(digest, "big") / 2**64

    def decide(self, target: str) -> Decision:
        """Decide the fate of a request for ``target`` (sleeping first for the latency)."""
        spec = self.spec
        arrived = time.time()
        if spec.latency_ms:
            time.sleep(spec.latency_ms / 1000)
        decision = Decision()
        if spec.rate_limit:
            self._rate_limit(decision, arrived, target)
            if decision.status:
                return decision
        if spec.quota:
            self._quota(decision, arrived, target)
            if decision.status:
                return decision
        with self._lock:
            attempt = self._attempts[target]
            self._attempts[target] += 1
        draw = self._uniform("fail", target, attempt)
        if draw < spec.fail_rate:
            decision.status = FAIL_STATUSES[int(draw / spec.fail_rate * len(FAIL_STATUSES))]
        elif self._uniform("reset", target, attempt) < spec.reset_rate:
            decision.reset = True
        elif self._uniform("truncate", target, attempt) < spec.truncate_rate:
            decision.truncate_at = 0.2 + 0.6 * self._uniform("cut", target, attempt)
        kind = decision.status or (
            "reset" if decision.reset else "truncate" if decision.truncate_at else None
        )
        if kind:
            with self._lock:
                self.injected[str(kind)] += 1
        return decision

    def answered(self) -> None:
        """Note that the first limited answer of a window has gone out."""
        with self._lock:
            if self._answered_at is None:
                self._answered_at = time.time()

    def _count_early(self, arrived: float, target: str) -> None:
        """Count a request arriving inside a wait window (locked)."""
        self.early_requests += 1
        if self._answered_at is not None and arrived > self._answered_at + self.spec.answer_slack:
            self.early_after_answer += 1
            self.early_after.append((arrived - self._answered_at, target))

    def stats(self) -> dict[str, t.Any]:
        """Return the counts of what was injected, and of the requests that came too early."""
        with self._lock:
            return {
                "injected": dict(self.injected),
                "early_requests": self.early_requests,
                "early_after_answer": self.early_after_answer,
            }

    def _rate_limit(self, decision: Decision, arrived: float, target: str) -> None:
        """Allow ``rate_limit`` requests in any second; beyond that, 429 with Retry-After."""
        limit = t.cast("float", self.spec.rate_limit)
        with self._lock:
            now = time.time()
            if now < self._not_before - _TOLERANCE:
                self._count_early(arrived, target)
            elif self._answered_at is not None:
                self._answered_at = None  # the window is over
            while self._window and self._window[0] <= now - 1:
                self._window.popleft()
            if len(self._window) >= limit:
                wait = max(math.ceil(self._window[0] + 1 - now), 1)
                use_date = self.spec.retry_after_format == "date" or (
                    self.spec.retry_after_format == "both" and self.injected["429"] % 2 == 1
                )
                moment: float
                if use_date:
                    moment = math.ceil(now) + wait
                    value = formatdate(moment, usegmt=True)
                else:
                    moment, value = now + wait, str(wait)
                decision.first_limit = self._answered_at is None
                self._not_before = max(self._not_before, moment)
                self.injected["429"] += 1
                decision.status = 429
                decision.headers.append(("Retry-After", value))
                remaining, reset = 0, float(wait)
            else:
                self._window.append(now)
                remaining = int(limit) - len(self._window)
                reset = float(max(math.ceil(self._window[0] + 1 - now), 1))
            if self.spec.rate_limit_headers:
                decision.headers += [
                    ("RateLimit-Limit", str(int(limit))),
                    ("RateLimit-Remaining", str(remaining)),
                    ("RateLimit-Reset", str(int(reset))),
                ]

    def _quota(self, decision: Decision, arrived: float, target: str) -> None:
        """Allow ``quota`` requests per window, then answer 403 as GitHub does until the reset."""
        quota = t.cast("int", self.spec.quota)
        with self._lock:
            now = time.time()
            if now >= self._window_end:
                self._window_end = float(math.ceil(now + self.spec.quota_window))
                self._window_used, self._limited_at = 0, None
                self._answered_at = None
            if self._window_used >= quota:
                if self._limited_at is None:
                    self._limited_at = now
                    decision.first_limit = True
                else:
                    self._count_early(arrived, target)
                    self.early_delays.append(now - self._limited_at)
                self.injected["403"] += 1
                decision.status = 403
                decision.body = {
                    "message": "API rate limit exceeded for 127.0.0.1. (But here's the good "
                    "news: Authenticated requests get a higher rate limit.)",
                    "documentation_url": "https://docs.github.com/rest/overview/rate-limits",
                }
                remaining = 0
            else:
                self._window_used += 1
                remaining = quota - self._window_used
            decision.headers += [
                ("X-RateLimit-Limit", str(quota)),
                ("X-RateLimit-Remaining", str(remaining)),
                ("X-RateLimit-Reset", str(int(self._window_end))),
                ("X-RateLimit-Used", str(min(self._window_used, quota))),
            ]
