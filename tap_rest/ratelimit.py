"""The client-side rate limiter shared by every stream and thread; it learns the server's budget."""

from __future__ import annotations

import logging
import threading
import time
import typing as t

from tap_rest.quota import Quota, parse_quota

logger = logging.getLogger("tap-rest")

#: the share of a learned rate added each second while no limit is met: quickly far below
#: the rate that last met a limit, slowly near it (or above it: the server may have grown)
INCREASE = 0.05
INCREASE_NEAR = 0.01
#: how a learned rate is cut when the server limits without saying how long to wait
DECREASE = 0.5
#: the share of the server's own rate (its limit over its window) a learned rate stays under
MARGIN = 0.9
#: the slowest rate learned (a request a minute), and after a limit that said no wait
FLOOR = 1 / 60
FLOOR_UNSAID = 1.0
#: a wait shorter than this is none (a clock's rounding must not make a thread spin)
EPSILON = 1e-6
#: the pause when the headers say nothing is left but not when it comes back (Shopify's bucket)
UNKNOWN_RESET = 1.0


class RateLimiter:
    """A token bucket at ``rate`` (``burst`` at once), server-set pauses, and a learned rate.

    One instance is shared by every stream and thread of a run (one per API). ``acquire``
    blocks until the caller may send; ``hold`` re-checks, right before sending, a pause set
    meanwhile; ``release`` says the request is answered, ``observe`` what the answer said.

    After a limit (a 429, or headers saying nothing is left) every thread waits for the
    server's reset, then the requests go at a learned rate: the headers' limit over their
    window (``MARGIN`` of it) when they say both, else what the server accepted since the last
    limit over that time and the wait; after a further limit, 0.7 to 0.9 of the rate that met
    it (AIMD's decrease, fitted to what the server accepted). The rate then rises by
    ``INCREASE`` of itself each second without a limit, by ``INCREASE_NEAR`` within 10 % of
    the rate that last met one. The headers' ``Remaining``, less the requests in flight, is a
    budget: when it is spent every thread waits for the reset, so a burst stops before the
    server has to refuse it. ``rate`` (the user's ``requests_per_second``, or the ``ceiling``
    limiter's) stays the ceiling.
    """

    def __init__(
        self,
        rate: float | None = None,
        burst: int = 1,
        max_pause: float = 300.0,
        *,
        ceiling: RateLimiter | None = None,
        clock: t.Callable[[], float] = time.monotonic,
        sleep: t.Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = float(rate) if rate else None
        #: the longest pause a server's reset may impose (``max_retry_after``)
        self.max_pause = max_pause
        #: the clock and the sleep (a test's fake ones make the arithmetic exact)
        self._clock, self._sleep = clock, sleep
        #: a limiter whose rate this one's requests also keep to (the tap's, shared by APIs)
        self._ceiling = ceiling
        self.burst = max(int(burst), 1)
        self._tokens = float(self.burst)
        self._updated = clock()
        self._paused_until = 0.0
        self._lock = threading.Lock()
        self.waited = 0.0
        #: the rate learned from the server's limits (None until one is met)
        self.learned: float | None = None
        #: how many times the server limited this API, and the rates set after each time
        self.limits = 0
        self.history: list[float] = []
        self._in_flight = 0
        self._accepted = 0
        self._cycle_start: float | None = None
        self._learn_due = False
        self._raised_at = self._cut_at = 0.0
        #: the learned rate in force when a limit was last met (too fast, then)
        self._tripped: float | None = None
        self._learned_cap: float | None = None
        #: the longest reset the headers said: the window, when they do not say it
        self._longest_reset = 0.0
        self._budget: float | None = None
        self._budget_reset: float | None = None

    @property
    def effective(self) -> float | None:
        """Return the rate requests go at now: the learned one under the user's ceiling."""
        rates = [r for r in (self.rate, self.learned) if r]
        return min(rates) if rates else None

    def pause_until(self, moment: float) -> None:
        """Let no request go before ``moment`` (a value of the clock: ``time.monotonic()``)."""
        with self._lock:
            self._paused_until = max(self._paused_until, moment)

    def pause_for(self, seconds: float) -> None:
        """Let no request go for this many seconds."""
        self.pause_until(self._clock() + seconds)

    def acquire(self) -> None:
        """Block until a request may be sent, then take a token (the request is in flight)."""
        while True:
            with self._lock:
                now = self._clock()
                wait = self._wait(now)
                if wait <= EPSILON:
                    self._in_flight += 1
                    if self._budget is not None:
                        self._budget -= 1
                    break
            self.waited += wait
            self._sleep(wait)
        if self._ceiling is not None:
            # A limit this one meets meanwhile is caught by ``hold``, right before sending.
            self._ceiling.acquire()
            self._ceiling.release()

    def _wait(self, now: float) -> float:
        """Return how long to wait before sending at ``now``, taking a token when none (locked)."""
        if self._cycle_start is None:
            self._cycle_start = now
        self._spent(now)
        wait = self._paused_until - now
        if wait > EPSILON:
            return wait
        if self._learn_due:
            self._learn(now)
        self._raise(now)
        rate = self.effective
        if not rate:
            return 0.0
        burst = self.burst if self.learned is None else 1
        self._tokens = min(burst, self._tokens + (now - self._updated) * rate)
        self._updated = now
        if self._tokens >= 1 - EPSILON:
            self._tokens = max(self._tokens - 1, 0.0)
            return 0.0
        return (1 - self._tokens) / rate

    def hold(self) -> None:
        """Wait out a pause set since ``acquire`` returned: right before sending, no token taken."""
        while True:
            with self._lock:
                wait = self._paused_until - self._clock()
            if wait <= EPSILON:
                return
            self.waited += wait
            self._sleep(wait)

    def release(self) -> None:
        """Count a request as answered (or failed without an answer): no longer in flight."""
        with self._lock:
            self._in_flight = max(self._in_flight - 1, 0)

    def observe(
        self, headers: t.Mapping[str, str], *, limited: bool, wait: float | None = None
    ) -> None:
        """Learn from an answer: a limit (``limited``, the server's ``wait``) or an accepted one.

        ``wait`` is what the server asked (Retry-After, or a spent quota's reset), capped.
        """
        quota = parse_quota(headers)
        with self._lock:
            now = self._clock()
            if quota is not None and quota.remaining is not None:
                # What is left for the requests not yet sent: those in flight spend it too.
                self._budget = quota.remaining - self._in_flight
                reset = quota.reset
                self._budget_reset = now + min(reset, self.max_pause) if reset is not None else None
            if quota is not None:
                self._fit(quota)
            if limited:
                self._limited(now, wait)
            else:
                self._accepted += 1
                self._spent(now)  # at once: a thread about to send holds back too

    def _spent(self, now: float) -> None:
        """Pause until the reset when the server's budget is spent (locked).

        Spent by the requests answered and by those in flight.
        """
        if self._budget is not None and self._budget <= 0:
            reset = UNKNOWN_RESET
            if self._budget_reset is not None:
                reset = max(self._budget_reset - now, 0.1)
            self._limited(now, reset)

    def _fit(self, quota: Quota) -> None:
        """Cap the learned rate at the server's: its limit over its window (locked).

        The window is the policy's (``w=``), else the longest reset seen: a fixed window's
        reset counts down from its length, a sliding one's stays near it.
        """
        window = quota.window
        if window is None and quota.reset is not None and quota.reset >= 1:
            self._longest_reset = max(self._longest_reset, min(quota.reset, self.max_pause))
            window = self._longest_reset
        if quota.limit and window:
            self._learned_cap = MARGIN * quota.limit / window

    def _limited(self, now: float, wait: float | None) -> None:
        """Pause everyone for the server's wait; learn a rate once it is over (locked)."""
        self._budget = None
        if wait:
            self._paused_until = max(self._paused_until, now + min(wait, self.max_pause))
        if self._learn_due:
            return  # the same limit, met by a request sent before it came back
        self.limits += 1
        self._tripped = self.learned
        if wait:
            self._learn_due = True
            return
        # A limit without a wait (Stripe's bare 429): halve the rate at once, once a second
        # (the requests in flight meet the same limit); each retry backs off on its own.
        if self.learned is not None and now - self._cut_at < 1.0:
            return
        elapsed = max(now - (self._cycle_start or now), 1e-3)
        measured = self._accepted / elapsed
        if self.learned is None:
            self._set(max(measured * DECREASE, FLOOR_UNSAID), now)
        else:
            self._set(max(self.learned * DECREASE, FLOOR), now)

    def _learn(self, now: float) -> None:
        """Set the rate the server allows once its wait is over (locked).

        The first time, its headers' limit over its window when they say them (a token bucket
        fitted to them), else what it accepted since the start over that time and the wait;
        later, a little below the rate that met the limit.
        """
        self._learn_due = False
        elapsed = max(now - (self._cycle_start or now), 1e-3)
        measured = max(self._accepted, 1) / elapsed
        if self.learned is None:
            rate = self._learned_cap or measured
        else:
            # The server's budget may also have shrunk (others share it): what it accepted.
            rate = max(min(measured, self.learned * 0.9), self.learned * 0.7)
        self._set(max(rate, FLOOR), now)
        self._tokens = 1.0  # the wait is over: the first request goes at once

    def _set(self, rate: float, now: float) -> None:
        """Set the learned rate and start a new cycle of accepted answers (locked)."""
        if self._learned_cap:
            rate = min(rate, self._learned_cap)
        self.learned = rate
        self.history.append(rate)
        self._cycle_start = self._raised_at = self._cut_at = self._updated = now
        self._accepted = 0
        self._tokens = 0.0
        logger.info(
            "Rate limit met: sending %.1f requests/s from now on (what the server accepted)",
            rate,
        )

    def _raise(self, now: float) -> None:
        """Raise the learned rate a little for each second without a limit (locked)."""
        if self.learned is None:
            return
        elapsed = now - self._raised_at
        if elapsed >= 0.1:
            near = self._tripped is not None and self.learned >= 0.9 * self._tripped
            self.learned *= 1 + (INCREASE_NEAR if near else INCREASE) * elapsed
            if self._learned_cap:
                self.learned = min(self.learned, self._learned_cap)
            self._raised_at = now
