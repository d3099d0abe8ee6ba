"""Authentication for the sandbox: API key, bearer, basic, or OAuth 2.0 (both grants).

OAuth 2.0 issues access tokens for client credentials and for a refresh token; a refresh spends
its refresh token and answers with a new one, unless rotation is turned off.
"""

from __future__ import annotations

import base64
import hmac
import math
import secrets
import threading
import time
import typing as t
from dataclasses import dataclass, field
from email.message import Message
from urllib.parse import parse_qs

MODES = ("none", "api_key", "bearer", "basic", "oauth2")
TOKEN_PATH = "/oauth/token"


def _same(a: str | None, b: str) -> bool:
    return a is not None and hmac.compare_digest(a.encode(), b.encode())


@dataclass
class AuthSpec:
    """Which credential the sandbox demands, and its values."""

    mode: str = "none"
    api_key: str = "sandbox-api-key-5f1c"
    api_key_header: str = "X-API-Key"
    api_key_param: str = "api_key"
    token: str = "sandbox-bearer-token-9d2e"
    username: str = "sandbox-user"
    password: str = "sandbox-password-7a3b"
    client_id: str = "sandbox-client"
    client_secret: str = "sandbox-client-secret-4e8f"
    #: seconds an issued OAuth token is accepted
    token_lifetime: float = 3600.0
    #: ``expires_in`` the token endpoint reports (default: the real lifetime, rounded up)
    reported_lifetime: int | None = None
    #: the refresh token the authorisation gave (grant_type refresh_token)
    refresh_token: str = "sandbox-refresh-token-6c1a"
    #: whether each refresh spends the refresh token and answers with a new one
    rotate_refresh_tokens: bool = True
    #: how many token requests, from the first, are answered 503 (an endpoint down a moment)
    token_failures: int = 0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            msg = f"auth mode must be one of {', '.join(MODES)}, not {self.mode!r}"
            raise ValueError(msg)


@dataclass
class AuthState:
    """Tokens issued and what the sandbox refused, shared by the server's threads."""

    spec: AuthSpec
    tokens: dict[str, float] = field(default_factory=dict)
    tokens_issued: int = 0
    token_requests: int = 0
    unauthorized: int = 0
    #: refresh tokens that a refresh may spend now
    refresh_tokens: set[str] = field(default_factory=set)
    #: every access and refresh token issued (tests check that none reaches the tap's output)
    issued: list[str] = field(default_factory=list)
    refreshes: int = 0
    refused_refreshes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.refresh_tokens.add(self.spec.refresh_token)

    def strip_query(self, query: dict[str, list[str]]) -> dict[str, list[str]]:
        """Return the query without the API key parameter (it is no filter)."""
        if self.spec.mode != "api_key":
            return query
        return {k: v for k, v in query.items() if k != self.spec.api_key_param}

    def check(self, headers: Message, query: dict[str, list[str]]) -> str | None:
        """Return why a data request is refused, or None when its credential is good."""
        spec, auth = self.spec, headers.get("Authorization") or ""
        if spec.mode == "none":
            return None
        if spec.mode == "api_key":
            key = headers.get(spec.api_key_header) or query.get(spec.api_key_param, [None])[0]
            reason = None if _same(key, spec.api_key) else "missing or wrong API key"
        elif spec.mode == "bearer":
            reason = (
                None if _same(auth, f"Bearer {spec.token}") else "missing or wrong bearer token"
            )
        elif spec.mode == "basic":
            good = base64.b64encode(f"{spec.username}:{spec.password}".encode()).decode()
            reason = None if _same(auth, f"Basic {good}") else "missing or wrong username/password"
        else:
            token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None
            with self.lock:
                expiry = self.tokens.get(token or "")
            if expiry is None:
                reason = "missing or unknown access token"
            elif expiry < time.monotonic():
                reason = "access token expired"
            else:
                reason = None
        if reason:
            with self.lock:
                self.unauthorized += 1
        return reason

    def issue(self, headers: Message, body: bytes) -> tuple[int, dict[str, t.Any]]:
        """Answer a client-credentials token request (credentials in the body or Basic auth)."""
        with self.lock:
            self.token_requests += 1
            if self.token_requests <= self.spec.token_failures:
                return 503, {"error": "temporarily_unavailable"}
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        auth = headers.get("Authorization") or ""
        if auth.startswith("Basic "):
            decoded = base64.b64decode(auth[6:] + "==").decode("utf-8", "replace")
            client_id, _, client_secret = decoded.partition(":")
        grant = form.get("grant_type")
        if grant not in ("client_credentials", "refresh_token"):
            return 400, {"error": "unsupported_grant_type"}
        if self.spec.mode != "oauth2" or not (
            _same(client_id, self.spec.client_id) and _same(client_secret, self.spec.client_secret)
        ):
            return 401, {
                "error": "invalid_client",
                "error_description": "client authentication failed",
            }
        answer: dict[str, t.Any] = {}
        if grant == "refresh_token":
            spent = form.get("refresh_token", "")
            with self.lock:
                if spent not in self.refresh_tokens:
                    self.refused_refreshes += 1
                    return 400, {
                        "error": "invalid_grant",
                        "error_description": "refresh token is invalid, expired or revoked",
                    }
                self.refreshes += 1
                if self.spec.rotate_refresh_tokens:
                    fresh = secrets.token_urlsafe(32)
                    self.refresh_tokens.discard(spent)
                    self.refresh_tokens.add(fresh)
                    self.issued.append(fresh)
                    answer["refresh_token"] = fresh
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[token] = time.monotonic() + self.spec.token_lifetime
            self.tokens_issued += 1
            self.issued.append(token)
        reported = self.spec.reported_lifetime or math.ceil(self.spec.token_lifetime)
        answer.update({"access_token": token, "token_type": "Bearer", "expires_in": reported})
        if "scope" in form:
            answer["scope"] = form["scope"]
        return 200, answer
