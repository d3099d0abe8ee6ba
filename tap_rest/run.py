"""What one sync shares: session, auth and limiter per API, retries, workers, stats, STATE."""

from __future__ import annotations

import threading
import typing as t
from functools import cached_property

import requests

from tap_rest.auth import build_authenticator
from tap_rest.checkpoint import Checkpoints
from tap_rest.config import DEFAULT_CONCURRENCY
from tap_rest.prefetch import Prefetcher
from tap_rest.ratelimit import RateLimiter
from tap_rest.redact import Redactor, credential_values
from tap_rest.retry import LimitRules, RetryPolicy
from tap_rest.scope import Scope, ScopedSession
from tap_rest.shard import Shard
from tap_rest.stats import RunStats
from tap_rest.window import Window

if t.TYPE_CHECKING:
    from singer_sdk.authenticators import APIAuthenticatorBase


def run_redactor(config: t.Mapping[str, t.Any]) -> Redactor:
    """Return what keeps a config's secrets out of the output.

    That is its auth settings, and the headers and parameters whose names say they hold a
    credential (``X-Auth-Token``, ``apikey``).
    """
    apis: dict[str, t.Any] = config["apis"] if isinstance(config.get("apis"), dict) else {}
    streams: list[t.Any] = config["streams"] if isinstance(config.get("streams"), list) else []
    holders = [
        *(a for a in apis.values() if isinstance(a, dict)),
        *(d for d in streams if isinstance(d, dict)),
    ]
    others = [
        value
        for holder in holders
        for named in (holder.get("headers"), holder.get("params"))
        for value in credential_values(named)
    ]
    by_stream = config.get("query_params")
    if isinstance(by_stream, dict):
        others += [v for p in by_stream.values() for v in credential_values(p)]
    return Redactor.for_auths(auth_settings(config), others)


def auth_settings(config: t.Mapping[str, t.Any]) -> list[dict[str, t.Any]]:
    """Return every auth setting of a config: the tap's, then each named API's."""
    apis: dict[str, t.Any] = config["apis"] if isinstance(config.get("apis"), dict) else {}
    auths = [config.get("auth"), *(a.get("auth") for a in apis.values() if isinstance(a, dict))]
    return [a for a in auths if isinstance(a, dict)]


class Run:
    """Everything the streams of one sync share, whichever thread asks.

    ``state`` is the tap's STATE dict and ``write_state`` sends it; the checkpoints keep the
    run's progress in it.
    """

    def __init__(
        self,
        config: t.Mapping[str, t.Any],
        *,
        state: dict[str, t.Any],
        write_state: t.Callable[[t.Any], None],
        redactor: Redactor | None = None,
    ) -> None:
        self.config = config
        self.stats = RunStats()
        self.retry = RetryPolicy.from_config(config)
        #: what keeps this run's secrets out of logs; secrets issued later are added to it
        self.redactor = redactor or run_redactor(config)
        self.checkpoints = Checkpoints(state, write_state, self.redactor.sensitive_params)
        #: the APIs (their ``api_key``) that have answered at least once in this run
        self.answered: set[str] = set()
        #: the part of the work this process does: its shard, its time window
        self.shard = Shard.from_config(config)
        self.window = Window.from_config(config)
        self.shard.mark_state(state)
        self._authenticators: dict[str | None, APIAuthenticatorBase] = {}
        self._limits: dict[str | None, LimitRules] = {}
        self._scopes: dict[tuple[str | None, str], Scope] = {}
        self._limiters: dict[str | None, RateLimiter] = {}
        self._lock = threading.Lock()

    @property
    def concurrency(self) -> int:
        """Return how many requests may be in flight at once."""
        return int(self.config.get("max_concurrency", DEFAULT_CONCURRENCY))

    def api(self, name: str | None) -> dict[str, t.Any]:
        """Return a named API's entry of the ``apis`` setting (empty for none)."""
        apis = self.config.get("apis")
        entry = apis.get(name) if name and isinstance(apis, dict) else None
        return entry if isinstance(entry, dict) else {}

    @cached_property
    def session(self) -> requests.Session:
        """Return the HTTP session every stream shares, its pool sized for the workers."""
        auths = auth_settings(self.config)
        headers = [
            a["name"] for a in auths if a.get("type") == "api_key" and a.get("location") != "query"
        ]
        session = ScopedSession(["Authorization", *headers], self.redactor.sensitive_params)
        adapter = requests.adapters.HTTPAdapter(
            pool_connections=4, pool_maxsize=self.concurrency + 2
        )
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    @cached_property
    def prefetcher(self) -> Prefetcher:
        """Return the worker threads that fetch independent partitions ahead."""
        return Prefetcher(self.concurrency)

    def authenticator(self, api: str | None) -> APIAuthenticatorBase:
        """Return the authenticator of a named API (its own auth), else the tap's; one each."""
        key = api if self.api(api).get("auth") is not None else None
        with self._lock:
            if key not in self._authenticators:
                auth = self.api(key).get("auth") if key else self.config.get("auth")
                timeout = float(self.config.get("request_timeout", 60))
                self._authenticators[key] = build_authenticator(
                    auth, timeout=timeout, on_secret=self.redactor.add
                )
            return self._authenticators[key]

    def limiter(self, api: str | None, server: str | None = None) -> RateLimiter:
        """Return the rate limiter of an API: what it learns of the server's limit is its own.

        A named API with its own ``requests_per_second`` has its own ceiling; the others learn
        a rate per named API, else per ``server`` (the origin of the base URL: streams on one
        host meet one limit), under the tap's ``requests_per_second``, shared by them all.
        """
        rate = self.api(api).get("requests_per_second")
        with self._lock:
            if rate is not None:
                if api not in self._limiters:
                    self._limiters[api] = RateLimiter(rate, 1, self.retry.max_retry_after)
                return self._limiters[api]
            if None not in self._limiters:
                rate = self.config.get("requests_per_second")
                burst = int(self.config.get("rate_limit_burst", 1))
                self._limiters[None] = RateLimiter(rate, burst, self.retry.max_retry_after)
            key = f"learned:{api or server}"
            if key not in self._limiters:
                self._limiters[key] = RateLimiter(
                    None, 1, self.retry.max_retry_after, ceiling=self._limiters[None]
                )
            return self._limiters[key]

    def scope(self, api: str | None, base_url: str) -> Scope:
        """Return the origin an API's credentials are scoped to, and the hosts it may lead to."""
        key = (api, base_url)
        if key not in self._scopes:
            # A named API lists its own; the top-level setting is for the others.
            allowed = (self.api(api) if api else self.config).get("allowed_hosts") or ()
            self._scopes[key] = Scope(base_url, allowed, self.redactor.sensitive_params)
        return self._scopes[key]

    def limit_rules(self, api: str | None) -> LimitRules:
        """Return how an API (its entry in apis, else the tap's settings) says to slow down."""
        if api not in self._limits:
            entry = self.api(api)
            settings = {**self.config, **{k: v for k, v in entry.items() if k.startswith("rate")}}
            self._limits[api] = LimitRules.from_settings(settings)
        return self._limits[api]

    def skip_reason(self, stream: t.Any) -> str | None:
        """Say why this run reads nothing of a top-level stream (None when it reads it)."""
        if self.window.active and not self.window.applies_to(stream):
            return f"this run reads the window {self.window} of the streams with window_end_param"
        if not self.shard.reads(stream):
            return "another shard reads it whole"
        return None

    def close(self) -> None:
        """Stop the worker threads (what has not started is cancelled)."""
        if "prefetcher" in self.__dict__:
            self.prefetcher.shutdown()
