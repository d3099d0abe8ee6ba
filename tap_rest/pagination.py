"""Paginator classes: each turns a response into the request for the next page."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import typing as t
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit, urlunsplit

from singer_sdk.helpers.jsonpath import extract_jsonpath
from singer_sdk.pagination import BaseAPIPaginator

from tap_rest.errors import PaginationError, PaginationLoopError
from tap_rest.redact import redact_url
from tap_rest.response import body_of

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.streams.rest import HTTPRequest


logger = logging.getLogger("tap-rest")

__all__ = [
    "BodyNextLinkPaginator",
    "CursorPaginator",
    "GuardedPaginator",
    "LinkHeaderPaginator",
    "OffsetPaginator",
    "PageNumberPaginator",
    "PageRequest",
    "PaginationError",
    "PaginationLoopError",
    "SinglePagePaginator",
]


@dataclass(frozen=True)
class PageRequest:
    """How to request one page: a URL to follow or query parameters to set, and a body cursor.

    ``body`` holds values set in the JSON request body at a dotted path (a search's
    ``search_after``), each kept as JSON text so that a page request stays hashable;
    ``headers`` holds request headers (a cursor sent back in a header).
    """

    url: str | None = None
    params: tuple[tuple[str, t.Any], ...] = field(default=())
    body: tuple[tuple[str, str], ...] = field(default=())
    headers: tuple[tuple[str, str], ...] = field(default=())

    @classmethod
    def with_params(cls, params: t.Mapping[str, t.Any]) -> PageRequest:
        """Return a page request that sets these query parameters."""
        return cls(params=tuple(params.items()))

    def body_values(self) -> dict[str, t.Any]:
        """Return the body values by dotted path, decoded."""
        return {path: json.loads(text) for path, text in self.body}

    def apply(self, request: HTTPRequest) -> None:
        """Point an HTTP request at this page."""
        if self.url is not None:
            # A followed URL already carries every query parameter of the next page.
            request.url, request.params = self.url, {}
        request.params.update(self.params)
        if self.body:
            data = request.data if isinstance(request.data, dict) else {}
            for path, value in self.body_values().items():
                set_at_path(data, path, value)
            request.data = data
        if self.headers:
            request.headers = {**request.headers, **dict(self.headers)}

    def __str__(self) -> str:
        parts = [self.url or "&".join(f"{k}={v}" for k, v in self.params)]
        parts += [f"{path}={text}" for path, text in self.body]
        parts += [f"{name}: {value}" for name, value in self.headers]
        return " ".join(p for p in parts if p)


def body_path(path: str) -> list[str]:
    """Return the keys of a dotted body path (``page.after``, ``$.page.after``)."""
    return path.removeprefix("$").removeprefix(".").split(".")


def set_at_path(data: dict[str, t.Any], path: str, value: t.Any) -> None:
    """Set a value in a JSON object at a dotted path, making the objects on the way."""
    *parents, last = body_path(path)
    node = data
    for key in parents:
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child
    node[last] = value


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
        #: whether paging stopped at max_pages while the API had more
        self.capped = False
        #: whether the page asked for is only a guess past what the API said it has (after a
        #: short page without a total, say): many APIs answer such a page with 404 or 400
        self.probing = False
        self._seen: set[PageRequest] = {self._value}
        #: a digest of the last page's body: the same body twice is a loop too
        self._last_content: bytes | None = None

    def _number(self, value: t.Any, option: str, response: requests.Response) -> int:
        """Read a count the body gives (Elasticsearch's ``{"value": N}`` too), or stop loudly."""
        if isinstance(value, dict) and "value" in value:
            value = value["value"]
        try:
            return int(value)
        except (TypeError, ValueError):
            msg = (
                f"Stream '{self.stream_name}': paginator.{option} gives {value!r:.60} in "
                f"{redact_url(response.url)}, which is not a number"
            )
            raise PaginationError(msg) from None

    def resume_at(self, page: PageRequest) -> None:
        """Start from this page (one an interrupted run had not finished) instead of the first."""
        self._value = page
        self._seen = {page}

    def advance(self, response: requests.Response) -> None:
        """Move to the next page, or finish; raise PaginationLoopError on a repeated page."""
        self._page_count += 1
        nxt = self.get_next(response) if self.has_more(response) else None
        if nxt is None:
            self._finished = True
            return
        if self.max_pages is not None and self._page_count >= self.max_pages:
            logger.warning(
                "Stream '%s' stopped at its cap of %d pages; the API has more (next: %s)",
                self.stream_name,
                self.max_pages,
                redact_url(str(nxt)),
            )
            self._finished = self.capped = True
            return
        if nxt in self._seen:
            msg = (
                f"Pagination loop in stream '{self.stream_name}': the response from "
                f"{redact_url(response.url)} points to page '{redact_url(str(nxt))}', "
                "which was already requested"
            )
            raise PaginationLoopError(msg)
        content = hashlib.blake2b(response.content, digest_size=16).digest()
        if content == self._last_content:
            msg = (
                f"Pagination loop in stream '{self.stream_name}': {redact_url(response.url)} "
                "answered exactly what the page before did: the API seems to ignore the paging "
                "parameters (check the paginator's parameter names)"
            )
            raise PaginationLoopError(msg)
        self._last_content = content
        self._seen.add(nxt)
        self._value = nxt


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
        values = list(extract_jsonpath(self.jsonpath, _body(response)))
        if not values and self.count == 1:  # advance() has counted the first page
            # JSON:API leaves links.next out on the last page, so no error; but a path that
            # matches nothing on the first page may be mistyped: the list is read as one page.
            logger.warning(
                "Stream '%s': paginator.next_path '%s' matches nothing in the first page of %s; "
                "the list is read as one page",
                self.stream_name,
                self.jsonpath,
                redact_url(response.url),
            )
        for value in values:
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


def _body(response: requests.Response) -> t.Any:
    """Return the decoded body (decoded once, inside the retries), else decode it."""
    body = body_of(response)
    return body if body is not None else response.json()


def _first(jsonpath: str, body: t.Any) -> t.Any:
    """Return the first value at a JSONPath, or None."""
    return next(iter(extract_jsonpath(jsonpath, body)), None)


def _count(jsonpath: str, body: t.Any) -> int:
    """Return how many records a body holds at a JSONPath."""
    return sum(1 for _ in extract_jsonpath(jsonpath, body))


class OffsetPaginator(GuardedPaginator):
    """``offset``/``limit`` paging: stops at the reported total, else at an empty page.

    The offset advances by the records actually received, and a short page is not taken for
    the last one: many servers cap ``limit`` below what was asked without a word. Without a
    total, the end is an empty page, or a page shorter than the limit the server says it used
    (``limit_path``); ``stop_on_short_page`` trusts a short page for servers known not to cap.
    """

    def __init__(
        self,
        page_size: int,
        *,
        offset_param: str = "offset",
        limit_param: str = "limit",
        records_path: str = "$[*]",
        total_path: str | None = None,
        limit_path: str | None = None,
        stop_on_short_page: bool = False,
        **kw: t.Any,
    ) -> None:
        self.page_size, self.offset_param, self.limit_param = page_size, offset_param, limit_param
        self.records_path, self.total_path, self.limit_path = records_path, total_path, limit_path
        self.stop_on_short_page = stop_on_short_page
        super().__init__(self._page(0), **kw)

    def _page(self, offset: int) -> PageRequest:
        return PageRequest.with_params(
            {self.offset_param: offset, self.limit_param: self.page_size}
        )

    def get_next(self, response: requests.Response) -> PageRequest | None:
        """Return the next offset, or None after the last page."""
        body = _body(response)
        received = _count(self.records_path, body)
        if received == 0:
            return None
        offset = int(dict(self.current_value.params)[self.offset_param]) + received
        total = _first(self.total_path, body) if self.total_path else None
        if total is not None:
            return (
                self._page(offset) if offset < self._number(total, "total_path", response) else None
            )
        used = _first(self.limit_path, body) if self.limit_path else None
        if used is not None:
            return (
                self._page(offset)
                if received >= self._number(used, "limit_path", response)
                else None
            )
        if self.stop_on_short_page and received < self.page_size:
            return None
        self.probing = received < self.page_size
        return self._page(offset)


class PageNumberPaginator(GuardedPaginator):
    """Page-number paging: stops at ``total_pages`` if the body gives it, else at an empty page."""

    def __init__(
        self,
        page_size: int | None = None,
        *,
        page_param: str = "page",
        size_param: str | None = "per_page",
        records_path: str = "$[*]",
        total_pages_path: str | None = None,
        start: int = 1,
        **kw: t.Any,
    ) -> None:
        self.page_size, self.page_param, self.size_param = page_size, page_param, size_param
        self.records_path, self.total_pages_path = records_path, total_pages_path
        super().__init__(self._page(start), **kw)

    def _page(self, page: int) -> PageRequest:
        params: dict[str, t.Any] = {self.page_param: page}
        if self.size_param and self.page_size:
            params[self.size_param] = self.page_size
        return PageRequest.with_params(params)

    def get_next(self, response: requests.Response) -> PageRequest | None:
        """Return the next page number, or None after the last page."""
        body = _body(response)
        if _count(self.records_path, body) == 0:
            return None
        page = int(dict(self.current_value.params)[self.page_param])
        total_pages = _first(self.total_pages_path, body) if self.total_pages_path else None
        if total_pages is not None and page >= self._number(
            total_pages, "total_pages_path", response
        ):
            return None
        # Only a page after a short one is a guess: after a full page, a 4xx is an error.
        received = _count(self.records_path, body)
        self.probing = total_pages is None and received < (self.page_size or 0)
        return self._page(page + 1)


class CursorPaginator(GuardedPaginator):
    """Cursor paging: the next cursor, from the body or a header, goes back into the next request.

    The cursor is read at a JSONPath of the body (``cursor_source`` ``body``) or from a response
    header (``header``), and sent back as a query parameter (``cursor_location`` ``query``), at a
    dotted path of the JSON body (``body``: a search's ``search_after``, GraphQL's
    ``page.after``), or as a request header (``header_out``, named by ``cursor_param``). Stops
    when the cursor is missing or empty, or when the optional has-more flag is false.
    """

    def __init__(
        self,
        cursor_path: str | None = None,
        cursor_param: str | None = None,
        *,
        has_more_path: str | None = None,
        limit_param: str | None = None,
        page_size: int | None = None,
        cursor_source: str = "body",
        cursor_header: str | None = None,
        cursor_location: str = "query",
        cursor_body_path: str | None = None,
        **kw: t.Any,
    ) -> None:
        self.cursor_path, self.cursor_param = cursor_path, cursor_param
        self.has_more_path = has_more_path
        self.cursor_source, self.cursor_header = cursor_source, cursor_header
        self.cursor_location, self.cursor_body_path = cursor_location, cursor_body_path
        self.fixed = {limit_param: page_size} if limit_param and page_size else {}
        super().__init__(PageRequest.with_params(self.fixed), **kw)

    def _cursor(self, response: requests.Response) -> t.Any:
        if self.cursor_source == "header":
            return response.headers.get(str(self.cursor_header))
        return _first(str(self.cursor_path), _body(response))

    def get_next(self, response: requests.Response) -> PageRequest | None:
        """Return the request for the next cursor, or None after the last page."""
        if self.has_more_path:
            flags = list(extract_jsonpath(self.has_more_path, _body(response)))
            if not flags:
                msg = (
                    f"Stream '{self.stream_name}': paginator.has_more_path "
                    f"'{self.has_more_path}' matches nothing in the body of "
                    f"{redact_url(response.url)}: is the path right?"
                )
                raise PaginationError(msg)
            if not flags[0]:
                return None
        cursor = self._cursor(response)
        if cursor is None or cursor in ("", [], {}):
            return None
        params = tuple(self.fixed.items())
        if self.cursor_location == "body":
            text = json.dumps(cursor, sort_keys=True)
            return PageRequest(params=params, body=((str(self.cursor_body_path), text),))
        if self.cursor_location == "header_out":
            return PageRequest(params=params, headers=((str(self.cursor_param), str(cursor)),))
        return PageRequest.with_params({**self.fixed, str(self.cursor_param): cursor})
