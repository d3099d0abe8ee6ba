"""Authenticators, built from an ``auth`` setting by one factory."""

from __future__ import annotations

import typing as t
from http import HTTPStatus
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from singer_sdk.authenticators import (
    APIAuthenticatorBase,
    APIKeyAuthenticator,
    BasicAuthenticator,
    BearerTokenAuthenticator,
)

from tap_rest.oauth import OAuth2ClientCredentials, OAuth2RefreshToken, OAuthToken

if t.TYPE_CHECKING:
    import requests

__all__ = [
    "ApiKeyAuth",
    "BasicAuth",
    "BearerAuth",
    "NoAuth",
    "OAuth2ClientCredentials",
    "OAuth2RefreshToken",
    "build_authenticator",
    "renews_refused_token",
]


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


def renews_refused_token(
    auth: APIAuthenticatorBase, status: int, request: requests.PreparedRequest
) -> bool:
    """Tell whether a refused request is worth one more try with a new token (forgetting it)."""
    if status != HTTPStatus.UNAUTHORIZED or not isinstance(auth, OAuthToken):
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
    if kind == "oauth2_refresh_token":
        return OAuth2RefreshToken(
            token_url=auth["token_url"],
            client_id=str(auth["client_id"]),
            client_secret=auth.get("client_secret"),
            refresh_token=str(auth["refresh_token"]),
            token_store=auth.get("token_store"),
            scopes=auth.get("scopes") or (),
            client_auth=auth.get("client_auth", "body"),
            refresh_margin=float(auth.get("refresh_margin", 60)),
            timeout=timeout,
            on_secret=on_secret,
        )
    return NoAuth()
