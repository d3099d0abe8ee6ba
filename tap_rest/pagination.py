"""Paginator classes: each turns a response into the request for the next page."""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit, urlunsplit

from singer_sdk.exceptions import FatalAPIError
from singer_sdk.helpers.jsonpath import extract_jsonpath
from singer_sdk.pagination import BaseAPIPaginator

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.streams.rest import HTTPRequest


class PaginationLoopError(FatalAPIError):
    """The API sent a page token or next URL that was already requested."""


@dataclass(frozen=True)
class PageRequest:
    """How to request one page: a whole URL to follow, or query parameters to set."""

    url: str | None = None
    params: tuple[tuple[str, t.Any], ...] = field(default=())

    @classmethod
    def with_params(cls, params: t.Mapping[str, t.Any]) -> PageRequest:
        """Return a page request that sets these query parameters."""
        return cls(params=tuple(params.items()))

    def apply(self, request: HTTPRequest) -> None:
        """Point an HTTP request at this page."""
        if self.url is not None:
            # A followed URL already carries every query parameter of the next page.
            request.url, request.params = self.url, {}
        request.params.update(self.params)

    def __str__(self) -> str:
        return self.url or "&".join(f"{k}={v}" for k, v in self.params)


def resolve_url(base: str, link: str) -> str:
    """Resolve a link against the URL it came from, never downgrading https to http."""
    url = urljoin(base, link)
    base_parts, parts = urlsplit(base), urlsplit(url)
    # jsonplaceholder (json-server behind a TLS proxy) writes http:// links into its
    # Link header for https requests; following them as-is would send requests in clear.
    if (
        base_parts.scheme == "https"
        and parts.scheme == "http"
        and parts.netloc == base_parts.netloc
    ):
        url = urlunsplit(parts._replace(scheme="https"))
    return url


class GuardedPaginator(BaseAPIPaginator[PageRequest]):
    """A paginator that stops on a loop (a page requested twice) and at a page cap."""

    def __init__(
        self,
        first: PageRequest | None = None,
        *,
        stream_name: str = "",
        max_pages: int | None = None,
    ) -> None:
        super().__init__(first or PageRequest())
        self.stream_name = stream_name
        self.max_pages = max_pages
        self._seen: set[PageRequest] = {self._value}

    def advance(self, response: requests.Response) -> None:
        """Move to the next page, or finish; raise PaginationLoopError on a repeated page."""
        self._page_count += 1
        if self.max_pages is not None and self._page_count >= self.max_pages:
            self._finished = True
            return
        nxt = self.get_next(response) if self.has_more(response) else None
        if nxt is None:
            self._finished = True
            return
        if nxt in self._seen:
            msg = (
                f"Pagination loop in stream '{self.stream_name}': the response from "
                f"{response.url} points to page '{nxt}', which was already requested"
            )
            raise PaginationLoopError(msg)
        self._seen.add(nxt)
        self._value = nxt

    @property
    def capped(self) -> bool:
        """Tell whether pagination stopped at the page cap rather than at the last page."""
        return self.max_pages is not None and self._page_count >= self.max_pages


class SinglePagePaginator(GuardedPaginator):
    """One request, no further pages."""

    def get_next(self, response: requests.Response) -> PageRequest | None:
        """Return no next page."""
        return None


class NextUrlPaginator(GuardedPaginator):
    """Follows a URL to the next page; subclasses say where the URL is."""

    def get_next_url(self, response: requests.Response) -> str | None:
        """Return the next page's URL as the response gives it (maybe relative), or None."""
        raise NotImplementedError

    def get_next(self, response: requests.Response) -> PageRequest | None:
        """Return the next page's absolute URL."""
        link = self.get_next_url(response)
        return PageRequest(url=resolve_url(response.url, link)) if link else None


class BodyNextLinkPaginator(NextUrlPaginator):
    """Next page's URL at a JSONPath in the body (PokeAPI's ``next``)."""

    def __init__(
        self, jsonpath: str = "$.next", first: PageRequest | None = None, **kw: t.Any
    ) -> None:
        super().__init__(first, **kw)
        self.jsonpath = jsonpath

    def get_next_url(self, response: requests.Response) -> str | None:
        """Return the first non-empty value at the JSONPath."""
        for value in extract_jsonpath(self.jsonpath, response.json()):
            if value:
                return str(value)
        return None


_LINK = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,\s=]+\s*(?:=\s*(?:\"(?:[^\"\\]|\\.)*\"|[^;,\s]*))?)*)")
_PARAM = re.compile(r";\s*([^;,\s=]+)\s*(?:=\s*(\"(?:[^\"\\]|\\.)*\"|[^;,\s]*))?")


def parse_link_header(value: str) -> list[tuple[str, dict[str, str]]]:
    """Parse an RFC 8288 Link header into (target, parameters) pairs, in order."""
    links = []
    for match in _LINK.finditer(value or ""):
        params: dict[str, str] = {}
        for name, raw in _PARAM.findall(match.group(2)):
            unquoted = re.sub(r"\\(.)", r"\1", raw[1:-1]) if raw.startswith('"') else raw
            params.setdefault(name.lower(), unquoted)
        links.append((match.group(1).strip(), params))
    return links


class LinkHeaderPaginator(NextUrlPaginator):
    """Next page's URL in the RFC 8288 ``Link`` header (GitHub, json-server)."""

    def __init__(self, rel: str = "next", first: PageRequest | None = None, **kw: t.Any) -> None:
        super().__init__(first, **kw)
        self.rel = rel

    def get_next_url(self, response: requests.Response) -> str | None:
        """Return the target whose ``rel`` (a space-separated list) includes ours."""
        for target, params in parse_link_header(response.headers.get("Link", "")):
            if self.rel in params.get("rel", "").lower().split():
                return target
        return None
