"""OAuth 2.0 authenticators: one cached access token each, from client credentials or refresh.

The grant is the only difference between the two: the caching, the renewal ahead of expiry, the
single renewal for all threads, the renewal after a 401 and the retries of a token endpoint
down for a moment are shared.
"""

from __future__ import annotations

import re
import threading
import time
import typing as t

import backoff
import requests
from singer_sdk.authenticators import OAuthAuthenticator

from tap_rest.errors import AuthError
from tap_rest.redact import redact_url
from tap_rest.token_store import TokenStore

#: seconds a token endpoint that answers 5xx or 429 is retried for
TOKEN_RETRY_TIME = 60.0


class _TransientTokenError(Exception):
    """The token endpoint answered 5xx or 429: worth another try."""

    def __init__(self, response: requests.Response) -> None:
        super().__init__(f"{response.status_code} {response.reason}")
        self.response = response


class OAuthToken(OAuthAuthenticator):
    """One cached OAuth 2.0 access token, shared by every stream and thread, renewed ahead.

    The token is renewed when less than ``refresh_margin`` seconds of its life remain (at most
    half its lifetime, so a token that lives two seconds is still used); :meth:`invalidate`
    forces a new one after a 401. One lock covers the check and the renewal, so threads that
    find the token stale together renew it once. Each grant says what it posts
    (``oauth_request_body``) and what a refusal means (``_refusal``).
    """

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        client_secret: str | None,
        scopes: t.Sequence[str] = (),
        refresh_margin: float = 60.0,
        timeout: float = 60.0,
        client_auth: str = "body",
        on_secret: t.Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(
            auth_endpoint=token_url,
            oauth_scopes=" ".join(scopes) or None,
            client_id=client_id,
            client_secret=client_secret,
        )
        self.refresh_margin = refresh_margin
        self.timeout = timeout
        #: ``basic``: the client authenticates with HTTP basic auth, not in the form body
        self.client_auth = client_auth
        #: told every token as it is issued, so that no log line shows one
        self.on_secret = on_secret
        self.expires_at: float | None = None
        self.refreshes = 0
        self._lock = threading.Lock()

    def _client_fields(self) -> dict[str, str]:
        """Return the client's credentials for the form body (none with basic auth)."""
        if self.client_auth == "basic":
            return {}
        fields = {"client_id": str(self.client_id)}
        if self.client_secret:
            fields["client_secret"] = self.client_secret
        return fields

    def is_token_valid(self) -> bool:
        """Tell whether the cached token has more than the refresh margin left."""
        if self.access_token is None:
            return False
        if self.expires_at is None:
            return True
        return time.monotonic() < self.expires_at

    def invalidate(self, refused_header: str | None = None) -> None:
        """Forget the token a server refused, so that the next request fetches a new one.

        When several threads are refused the same token, only the first forgets it: the others
        then use the token it fetched.
        """
        with self._lock:
            if refused_header is None or refused_header == f"Bearer {self.access_token}":
                self.access_token = None

    def authenticate_request(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Add ``Authorization: Bearer``, fetching a token first if needed."""
        with self._lock:
            if not self.is_token_valid():
                self.update_access_token()
            token = self.access_token
        request.headers["Authorization"] = f"Bearer {token}"
        return request

    def _refusal(self, response: requests.Response) -> str:
        """Return the one line that says why the token endpoint refused (4xx)."""
        raise NotImplementedError

    def _accept(self, answer: dict[str, t.Any]) -> None:
        """Take what a grant's answer carries besides the access token."""

    def update_access_token(self) -> None:
        """Fetch a token; a refusal stops the run with the endpoint, status and reason."""
        started = time.monotonic()
        response = self._post_token_request()
        if not response.ok:
            raise AuthError(self._refusal(response))
        try:
            answer = response.json()
            token = answer["access_token"]
        except (ValueError, KeyError, TypeError) as exc:
            endpoint = redact_url(self.auth_endpoint)
            msg = f"auth: the OAuth token endpoint {endpoint} sent no access_token"
            raise AuthError(msg) from exc
        lifetime = answer.get("expires_in")
        if self.on_secret is not None:
            self.on_secret(str(token))
        self._accept(answer)
        self.access_token = str(token)
        self.expires_in = _seconds(lifetime)
        self.expires_at = (
            started + self.expires_in - min(self.refresh_margin, self.expires_in / 2)
            if self.expires_in
            else None
        )
        self.refreshes += 1
        self.logger.info(
            "Fetched an OAuth access token (expires in %s s)", self.expires_in or "never"
        )

    def _post_token_request(self) -> requests.Response:
        """POST the grant; a token endpoint down for a while (5xx, 429) is retried for a minute."""
        endpoint = redact_url(self.auth_endpoint)
        try:
            return self._post_with_retries()
        except _TransientTokenError as exc:
            msg = (
                f"auth: the OAuth token endpoint {endpoint} is unavailable: "
                f"{_answer(exc.response)} (still so after {TOKEN_RETRY_TIME:.0f} s of retries)"
            )
            raise AuthError(msg) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            msg = f"auth: the OAuth token endpoint {endpoint} is unreachable: {exc}"
            raise AuthError(msg) from exc

    @backoff.on_exception(
        backoff.expo,
        (requests.ConnectionError, requests.Timeout, _TransientTokenError),
        max_time=lambda: TOKEN_RETRY_TIME,
        factor=0.5,
        max_value=10,
        logger=None,
    )
    def _post_with_retries(self) -> requests.Response:
        basic = (
            (str(self.client_id), self.client_secret or "") if self.client_auth == "basic" else None
        )
        response = self._session.post(
            self.auth_endpoint, data=self.oauth_request_body, auth=basic, timeout=self.timeout
        )
        if response.status_code >= 500 or response.status_code == 429:
            raise _TransientTokenError(response)
        return response


def _answer(response: requests.Response) -> str:
    """Return a token endpoint's answer on one line, shortened."""
    return f"{response.status_code} {response.reason}: " + re.sub(r"\s+", " ", response.text)[:300]


class OAuth2ClientCredentials(OAuthToken):
    """OAuth 2.0 client credentials: the client's own id and secret buy each access token."""

    def __init__(self, *, audience: str | None = None, **kw: t.Any) -> None:
        super().__init__(**kw)
        self.audience = audience

    @property
    def oauth_request_body(self) -> dict:
        """Return the client-credentials grant."""
        body = {"grant_type": "client_credentials", **self._client_fields()}
        if self.oauth_scopes:
            body["scope"] = self.oauth_scopes
        if self.audience:
            body["audience"] = self.audience
        return body

    def _refusal(self, response: requests.Response) -> str:
        return (
            f"auth: the OAuth token endpoint {redact_url(self.auth_endpoint)} refused the "
            f"client credentials of client_id {self.client_id!r}: {_answer(response)}"
        )


class OAuth2RefreshToken(OAuthToken):
    """OAuth 2.0 refresh tokens (RFC 6749 section 6): short access tokens from a long-lived one.

    Many APIs rotate the refresh token on every use (the answer carries a new one and the old
    one stops working). A new refresh token is written to ``token_store`` before anything uses
    it, so that a crash never loses the only valid one, and the next run starts from it; an
    answer without one keeps the current one. A refused refresh token (``invalid_grant``) stops
    the run with a line that says to authorise again.
    """

    def __init__(self, *, refresh_token: str, token_store: str | None = None, **kw: t.Any) -> None:
        super().__init__(**kw)
        self.configured = refresh_token
        self.store = TokenStore(token_store, refresh_token) if token_store else None
        #: the refresh token the next renewal spends (the store's, once read)
        self.refresh_token: str | None = None
        self.from_store = False

    def _current(self) -> str:
        """Return the refresh token to spend: the store's when it holds one, else the setting's."""
        if self.refresh_token is None:
            kept = None
            if self.store is not None:
                self.store.check_writable()
                kept = self.store.read()
            self.from_store = kept is not None
            self.refresh_token = kept or self.configured
            if self.on_secret is not None:
                self.on_secret(self.refresh_token)
        return self.refresh_token

    @property
    def oauth_request_body(self) -> dict:
        """Return the refresh-token grant."""
        body = {"grant_type": "refresh_token", "refresh_token": self._current()}
        body.update(self._client_fields())
        if self.oauth_scopes:
            body["scope"] = self.oauth_scopes
        return body

    def update_access_token(self) -> None:
        """Spend the refresh token for an access token (read from the store on first use)."""
        self._current()
        super().update_access_token()

    def _accept(self, answer: dict[str, t.Any]) -> None:
        """Keep a rotated refresh token: in the store first, then in use."""
        new = answer.get("refresh_token")
        if not new or new == self.refresh_token:
            return
        new = str(new)
        if self.on_secret is not None:
            self.on_secret(new)
        if self.store is not None:
            try:
                self.store.write(new)
            except OSError as exc:
                msg = (
                    f"auth.token_store {self.store.path}: cannot keep the rotated refresh token "
                    f"({exc.strerror or exc}); the one before it is spent: re-authorise and set "
                    "auth.refresh_token"
                )
                raise AuthError(msg) from exc
            self.from_store = True
        elif self.refreshes == 0:
            self.logger.warning(
                "auth: the token endpoint rotates refresh tokens and auth.token_store is not "
                "set: the next run will start from a spent auth.refresh_token"
            )
        self.refresh_token = new

    def _refusal(self, response: requests.Response) -> str:
        endpoint = redact_url(self.auth_endpoint)
        try:
            error = response.json()
        except ValueError:
            error = {}
        code = error.get("error") if isinstance(error, dict) else None
        if code == "invalid_grant":
            where = (
                f"kept in auth.token_store {self.store.path}"
                if self.from_store and self.store is not None
                else "auth.refresh_token"
            )
            return (
                f"auth: the OAuth token endpoint {endpoint} refused the refresh token "
                f"({where}) as expired or revoked: {_answer(response)}; re-authorise and set "
                "auth.refresh_token to the new refresh token"
            )
        return (
            f"auth: the OAuth token endpoint {endpoint} refused to refresh the token of "
            f"client_id {self.client_id!r}: {_answer(response)}"
        )


def _seconds(value: t.Any) -> int | None:
    """Read a token's ``expires_in`` (a number, or its text: "3599" or "3599.5"), else None.

    A token whose lifetime cannot be read is used until the API refuses it (401).
    """
    try:
        seconds = int(float(value))
    except (TypeError, ValueError):
        return None
    return seconds if seconds > 0 else None
