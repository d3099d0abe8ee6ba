"""How a stream's requests go out: to its API's origin with credentials, limited, retried."""

from __future__ import annotations

import typing as t
from functools import cached_property
from urllib.parse import urlsplit

import requests
from singer_sdk import RESTStream

from tap_rest.auth import renews_refused_token
from tap_rest.errors import APIStatusError
from tap_rest.pagination import PageRequest
from tap_rest.response import decode, error_message

if t.TYPE_CHECKING:
    from singer_sdk.authenticators import APIAuthenticatorBase
    from singer_sdk.helpers.types import Context

    from tap_rest.ratelimit import RateLimiter
    from tap_rest.run import Run
    from tap_rest.scope import Scope


class RequestSender(RESTStream[PageRequest]):
    """The private base that sends a stream's requests with what its API shares in the run.

    Requests are prepared without credentials; ``_send`` adds them only to a request for the
    API's own origin (``scope.Scope``), after the API's rate limiter lets it go.
    """

    run: Run
    #: the setting that holds this stream's API base URL
    url_setting: t.ClassVar[str]
    #: the named API (``apis`` setting) whose auth and rate limit this stream uses
    api_name: t.ClassVar[str | None] = None

    @property
    def url_setting_name(self) -> str:
        """Return the setting that holds this stream's base URL (for messages)."""
        return self.url_setting

    @property
    def allowed_hosts_setting(self) -> str:
        """Return the setting that lists the other hosts this stream's links may lead to."""
        return f"apis.{self.api_name}.allowed_hosts" if self.api_name else "allowed_hosts"

    @cached_property
    def scope(self) -> Scope:
        """Return the origin this stream's credentials are scoped to."""
        return self.run.scope(self.api_name, self.url_base)

    @property
    def api_key(self) -> str:
        """Return what identifies this stream's API in the run (its name, or its URL setting)."""
        return self.api_name or self.url_setting_name

    @property
    def requests_session(self) -> requests.Session:
        """Return the session every stream and thread shares (one connection pool)."""
        return self.run.session

    @property
    def authenticator(self) -> APIAuthenticatorBase:
        """Return the authenticator shared by every stream of the same API."""
        return self.run.authenticator(self.api_name)

    @property
    def limiter(self) -> RateLimiter:
        """Return the rate limiter shared by every stream of the same API."""
        return self.run.limiter(self.api_name, self.server)

    @cached_property
    def server(self) -> str:
        """Return the origin of this stream's base URL: streams there share what it allows."""
        parts = urlsplit(self.url_base)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def timeout(self) -> int:
        """Return the request timeout in seconds (a float: requests takes one, the SDK says int)."""
        return t.cast("int", float(self.config.get("request_timeout", 60)))

    def build_prepared_request(self, *args: t.Any, **kwargs: t.Any) -> requests.PreparedRequest:
        """Prepare a request without credentials: ``_send`` adds them, for the API's origin only.

        (The SDK sets its authenticator on the shared session here, which would hand one API's
        credentials to another's requests prepared at the same time in another thread.)
        """
        request = requests.Request(*args, **kwargs)
        request.headers.setdefault("User-Agent", self.user_agent)
        return self.requests_session.prepare_request(request)

    def redact(self, url: str) -> str:
        """Return a URL fit for a log line: the API key and other secrets in its query hidden."""
        return self.run.redactor.url(url)

    def _request(
        self, prepared: requests.PreparedRequest, context: Context | None, owned: bool = True
    ) -> requests.Response:
        """Send, then decode the body; a token the API refuses (401) is renewed, once."""
        try:
            response = self._send(prepared, context, owned)
        except APIStatusError as exc:
            sent = exc.response.request if exc.response is not None else prepared
            if not owned or not renews_refused_token(self.authenticator, exc.status_code, sent):
                raise
            self.logger.warning("%s; fetching a new OAuth token and retrying once", exc)
            response = self._send(prepared, context, owned)
        decode(response, self.name, self.run.redactor)
        return response

    def _send(
        self, prepared: requests.PreparedRequest, context: Context | None, owned: bool
    ) -> requests.Response:
        """Send one request through the rate limiter; credentials only to the API's origin."""
        limiter = self.limiter
        limiter.acquire()
        try:
            self.run.stats.add(self.name, requests=1)
            request = self.authenticator(prepared.copy()) if owned else prepared
            # A limit met since acquire (another thread's 429) holds this request back too.
            limiter.hold()
            response = self.requests_session.send(
                request, timeout=self.timeout, allow_redirects=self.allow_redirects
            )
        finally:
            limiter.release()
        self._write_request_duration_log(
            endpoint=self.path,
            response=response,
            context=context,
            extra_tags={"url": request.path_url} if self._LOG_REQUEST_METRIC_URLS else None,
        )
        self.validate_response(response)
        return response

    def validate_response(self, response: requests.Response) -> None:
        """Raise a retriable (5xx, 408, a rate limit), skipped or fatal (other 4xx) error."""
        self.run.answered.add(self.api_key)
        self.run.retry.check(
            response,
            stream=self.name,
            limiter=self.limiter,
            skip=self.skip_statuses,
            describe=self.response_error_message,
            limits=self.run.limit_rules(self.api_name),
        )

    def response_error_message(self, response: requests.Response) -> str:
        """Describe a failed response: stream, method, redacted URL, status and a body excerpt."""
        return error_message(self.name, response, self.run.redactor)

    @property
    def skip_statuses(self) -> set[int]:
        """Return the HTTP statuses this stream skips (``skip_statuses`` setting)."""
        return set((self.config.get("skip_statuses") or {}).get(self.name, []))
