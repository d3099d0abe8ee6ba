"""Credentials scoped to their API's origin: a request to any other host carries none of them."""

from __future__ import annotations

import typing as t
from urllib.parse import urlsplit

import requests
from requests.auth import AuthBase
from requests.utils import get_netrc_auth, resolve_proxies

from tap_rest.errors import OffOriginError
from tap_rest.redact import without_secrets

_DEFAULT_PORTS = {"http": 80, "https": 443}
#: the only headers a request to another host keeps (an API's own headers may hold a secret)
_PLAIN_HEADERS = frozenset({"accept", "user-agent", "accept-encoding", "connection"})


def origin(url: str) -> tuple[str, str, int | None]:
    """Return a URL's origin: scheme, host (lower case) and port (the scheme's default filled)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme)


def same_origin(base: str, url: str) -> bool:
    """Tell whether a URL is on the base's origin (an upgrade from http to https included)."""
    (scheme, host, port), (to_scheme, to_host, to_port) = origin(base), origin(url)
    if (host, scheme) == (to_host, "http") and to_scheme == "https":
        return to_port in (port, 443)
    return (scheme, host, port) == (to_scheme, to_host, to_port)


class Scope:
    """An API's origin, and the other hosts its links may lead to (without credentials)."""

    def __init__(
        self, base_url: str, allowed_hosts: t.Iterable[str] = (), sensitive: t.Iterable[str] = ()
    ) -> None:
        self.base_url = base_url
        self.allowed = {h.lower().rstrip("/") for h in allowed_hosts}
        #: query parameters that may carry a credential (the API key's name among them)
        self.sensitive = tuple(sensitive)

    def owns(self, url: str) -> bool:
        """Tell whether a request to this URL may carry the API's credentials."""
        return same_origin(self.base_url, url)

    def check(self, request: requests.PreparedRequest, stream: str, setting: str) -> bool:
        """Return whether a request goes to the API's origin; strip one to an allowed host.

        A request to a host that is neither is refused: a next link, or a STATE, that points
        elsewhere would otherwise take the API's credentials with it.
        """
        url = request.url or ""
        if self.owns(url):
            return True
        scheme, host, port = origin(url)
        if host not in self.allowed and f"{host}:{port}" not in self.allowed:
            there = host if port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
            base_scheme, base_host, base_port = origin(self.base_url)
            here = (
                base_host
                if base_port == _DEFAULT_PORTS.get(base_scheme)
                else f"{base_host}:{base_port}"
            )
            msg = (
                f"Stream '{stream}': the next page is on another host ({there}) than the API's "
                f"({here}): refused, so that its credentials go nowhere else; to follow such "
                f"links without credentials, add '{there}' to {setting}"
            )
            raise OffOriginError(msg)
        for name in list(request.headers):
            if name.lower() not in _PLAIN_HEADERS:
                del request.headers[name]
        # A next link may echo the API key in its query: it goes no further than its API.
        request.url = without_secrets(url, self.sensitive)
        return False


class _NoNetrc(AuthBase):
    """Stands for "no .netrc entry for this host", so that the file is not read again."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Add nothing."""
        return request


class ScopedSession(requests.Session):
    """A session whose redirects to another origin lose every credential, not only Authorization.

    requests strips ``Authorization`` alone; an API key header (``X-API-Key``) or a key in the
    query would follow a redirect to any host.

    What requests reads from the environment for each request (the proxies, ``no_proxy``, the
    ``.netrc`` entry: a third of a page's cost at pages of 100) is read once per host per run.
    """

    def __init__(
        self, secret_headers: t.Iterable[str] = (), secret_params: t.Iterable[str] = ()
    ) -> None:
        super().__init__()
        self.secret_headers = {h.lower() for h in secret_headers}
        self.secret_params = tuple(secret_params)
        self._netrc: dict[str | None, t.Any] = {}
        self._proxies: dict[tuple[str, str], dict[str, str]] = {}

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        """Prepare as requests does, the host's ``.netrc`` entry looked up once."""
        if self.trust_env and not request.auth and not self.auth:
            host = urlsplit(str(request.url)).hostname
            if host not in self._netrc:
                self._netrc[host] = get_netrc_auth(str(request.url)) or _NoNetrc()
            request.auth = self._netrc[host]
        return super().prepare_request(request)

    def send(self, request: requests.PreparedRequest, **kwargs: t.Any) -> requests.Response:
        """Send as requests does, the proxies for the scheme and host resolved once."""
        if "proxies" not in kwargs:
            parts = urlsplit(request.url or "")
            key = (parts.scheme, parts.netloc)
            if key not in self._proxies:
                self._proxies[key] = resolve_proxies(request, dict(self.proxies), self.trust_env)
            kwargs["proxies"] = dict(self._proxies[key])
        return super().send(request, **kwargs)

    def rebuild_auth(
        self, prepared_request: requests.PreparedRequest, response: requests.Response
    ) -> None:
        """Strip credentials from a redirect that leaves the origin of the request redirected."""
        super().rebuild_auth(prepared_request, response)
        if same_origin(response.request.url or "", prepared_request.url or ""):
            return
        for name in list(prepared_request.headers):
            if name.lower() in self.secret_headers or name.lower() not in _PLAIN_HEADERS:
                del prepared_request.headers[name]
        prepared_request.url = without_secrets(prepared_request.url or "", self.secret_params)
