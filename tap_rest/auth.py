"""Authenticators, built from an ``auth`` setting by one factory."""

from __future__ import annotations

import re
import threading
import time
import typing as t
from http import HTTPStatus
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import backoff
import requests
from singer_sdk.authenticators import (
    APIAuthenticatorBase,
    APIKeyAuthenticator,
    BasicAuthenticator,
    BearerTokenAuthenticator,
    OAuthAuthenticator,
)

from tap_rest.errors import AuthError
from tap_rest.redact import redact_url


class _TransientTokenError(Exception):
    """The token endpoint answered 5xx or 429: worth another try."""

    def __init__(self, response: requests.Response) -> None:
        super().__init__(f"{response.status_code} {response.reason}")
        self.response = response


class NoAuth(APIAuthenticatorBase):
    """Sends requests as they are."""


class ApiKeyAuth(APIKeyAuthenticator):
    """An API key in a header, or in a query parameter (set once, other parameters kept)."""

    def __init__(self, *, name: str, value: str, location: str = "header") -> None:
        super().__init__(
            key=name, value=value, location="params" if location == "query" else "header"
        )

    def authenticate_request(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Set the key; unlike the SDK's, keep blank query parameters and their order."""
        request.headers.update(self.auth_headers)
        if request.url and self.auth_params:
            parts = urlsplit(request.url)
            query = [
                (k, v)
                for k, v in parse_qsl(parts.query, keep_blank_values=True)
                if k not in self.auth_params
            ]
            query += list(self.auth_params.items())
            request.url = urlunsplit(parts._replace(query=urlencode(query)))
        return request


class BearerAuth(BearerTokenAuthenticator):
    """``Authorization: Bearer <token>``."""


class BasicAuth(BasicAuthenticator):
    """HTTP basic authentication."""


class OAuth2ClientCredentials(OAuthAuthenticator):
    """OAuth 2.0 client credentials: one cached token, refreshed ahead of its expiry.

    The token is refreshed when less than ``refresh_margin`` seconds of its life remain (at most
    half its lifetime, so a token that lives two seconds is still used). It is shared by every
    stream and thread; :meth:`invalidate` forces a new one after a 401.
    """

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        scopes: t.Sequence[str] = (),
        audience: str | None = None,
        refresh_margin: float = 60.0,
        timeout: float = 60.0,
        on_secret: t.Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(
            auth_endpoint=token_url,
            oauth_scopes=" ".join(scopes) or None,
            client_id=client_id,
            client_secret=client_secret,
        )
        self.audience = audience
        self.refresh_margin = refresh_margin
        self.timeout = timeout
        #: told every token as it is issued, so that no log line shows one
        self.on_secret = on_secret
        self.expires_at: float | None = None
        self.refreshes = 0
        self._lock = threading.Lock()

    @property
    def oauth_request_body(self) -> dict:
        """Return the client-credentials grant."""
        body = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }
        if self.oauth_scopes:
            body["scope"] = self.oauth_scopes
        if self.audience:
            body["audience"] = self.audience
        return body

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

    def update_access_token(self) -> None:
        """Fetch a token; a refusal stops the run with the endpoint, status and reason."""
        started = time.monotonic()
        response = self._post_token_request()
        if not response.ok:
            body = re.sub(r"\s+", " ", response.text)[:300]
            msg = (
                f"auth: the OAuth token endpoint {redact_url(self.auth_endpoint)} refused the "
                f"client credentials of client_id {self.client_id!r}: "
                f"{response.status_code} {response.reason}: {body}"
            )
            raise AuthError(msg)
        try:
            answer = response.json()
            token = answer["access_token"]
        except (ValueError, KeyError, TypeError) as exc:
            endpoint = redact_url(self.auth_endpoint)
            msg = f"auth: the OAuth token endpoint {endpoint} sent no access_token"
            raise AuthError(msg) from exc
        lifetime = answer.get("expires_in")
        self.access_token = str(token)
        if self.on_secret is not None:
            self.on_secret(self.access_token)
        self.expires_in = int(lifetime) if lifetime else None
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
        """POST the grant; a token endpoint down for a moment is retried like a data request."""
        try:
            return self._post_with_retries()
        except _TransientTokenError as exc:
            return exc.response
        except (requests.ConnectionError, requests.Timeout) as exc:
            endpoint = redact_url(self.auth_endpoint)
            msg = f"auth: the OAuth token endpoint {endpoint} is unreachable: {exc}"
            raise AuthError(msg) from exc

    @backoff.on_exception(
        backoff.expo,
        (requests.ConnectionError, requests.Timeout, _TransientTokenError),
        max_tries=4,
        factor=0.5,
    )
    def _post_with_retries(self) -> requests.Response:
        response = self._session.post(
            self.auth_endpoint, data=self.oauth_request_body, timeout=self.timeout
        )
        if response.status_code >= 500 or response.status_code == 429:
            raise _TransientTokenError(response)
        return response


def renews_refused_token(
    auth: APIAuthenticatorBase, status: int, request: requests.PreparedRequest
) -> bool:
    """Tell whether a refused request is worth one more try with a new token (forgetting it)."""
    if status != HTTPStatus.UNAUTHORIZED or not isinstance(auth, OAuth2ClientCredentials):
        return False
    auth.invalidate(request.headers.get("Authorization"))
    return True


def build_authenticator(
    auth: t.Mapping[str, t.Any] | None,
    *,
    timeout: float = 60.0,
    on_secret: t.Callable[[str], None] | None = None,
) -> APIAuthenticatorBase:
    """Build the authenticator an ``auth`` setting describes (``None``: no authentication).

    The setting was validated with the rest of the config (``tap_rest.validate``).
    """
    auth = auth or {}
    kind = auth.get("type", "none")
    if kind == "api_key":
        return ApiKeyAuth(
            name=auth["name"], value=str(auth["value"]), location=auth.get("location", "header")
        )
    if kind == "bearer":
        return BearerAuth(token=str(auth["token"]))
    if kind == "basic":
        return BasicAuth(username=str(auth["username"]), password=str(auth["password"]))
    if kind == "oauth2_client_credentials":
        return OAuth2ClientCredentials(
            token_url=auth["token_url"],
            client_id=str(auth["client_id"]),
            client_secret=str(auth["client_secret"]),
            scopes=auth.get("scopes") or (),
            audience=auth.get("audience"),
            refresh_margin=float(auth.get("refresh_margin", 60)),
            timeout=timeout,
            on_secret=on_secret,
        )
    return NoAuth()
