"""Strided paging: shard i of n reads pages i, i+n, i+2n, ... of a list paged by offset or number.

Each shard computes its own next page and finds the end on its own, safely:

- by offset, list page k is the offset range ``[k * page_size, (k + 1) * page_size)``; a shard
  reads each of its ranges whole, asking again from where a short answer stopped (a server that
  caps the page size below ``page_size`` answers short pages that are not the end), and never
  past the range (the next range is another shard's). It stops at an empty answer, or at the
  total the body reports;
- by page number, list page k is the server's page ``start + k``, whatever size the server
  gives it; a shard stops at an empty page, or past the page count the body reports.

A short page is never taken for the end: with pages split among shards, the page after it is
another shard's, which would then never be read. Each shard's next page is a ``PageRequest``
like any other, so STATE resumes a shard at its own next page.
"""

from __future__ import annotations

import logging
import typing as t

from singer_sdk.exceptions import FatalAPIError
from singer_sdk.helpers.jsonpath import extract_jsonpath

from tap_rest.pagination import (
    GuardedPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    PageRequest,
)
from tap_rest.redact import redact_url
from tap_rest.response import body_of

if t.TYPE_CHECKING:
    import requests

logger = logging.getLogger("tap-rest")


def _body(response: requests.Response) -> t.Any:
    body = body_of(response)
    return response.json() if body is None else body


def _count(records_path: str, body: t.Any) -> int:
    return sum(1 for _ in extract_jsonpath(records_path, body))


def first_value(jsonpath: str, body: t.Any) -> t.Any:
    """Return the first value at a JSONPath (a total, a page count), or None."""
    return next(iter(extract_jsonpath(jsonpath, body)), None)


class _Strided(GuardedPaginator):
    """A paginator over list pages ``index``, ``index + count``, ...; capped at list page N."""

    def __init__(
        self, first: PageRequest, *, stream_name: str, stride: int, list_max_pages: int | None
    ) -> None:
        super().__init__(first, stream_name=stream_name)
        #: how many list pages apart this shard's pages are (the shard count)
        self.stride = stride
        self.list_max_pages = list_max_pages

    def _capped(self, list_page: int, nxt: PageRequest) -> bool:
        """Tell (and warn) when the next list page is past ``max_pages``."""
        if self.list_max_pages is None or list_page < self.list_max_pages:
            return False
        logger.warning(
            "Stream '%s' stopped at its cap of %d pages; the API may have more (next: %s)",
            self.stream_name,
            self.list_max_pages,
            nxt,
        )
        self.capped = True
        return True


class StridedOffsetPaginator(_Strided):
    """Offset paging over this shard's ranges of ``page_size`` records."""

    def __init__(
        self, source: OffsetPaginator, index: int, count: int, *, list_max_pages: int | None
    ) -> None:
        self.page_size = source.page_size
        self.offset_param, self.limit_param = source.offset_param, source.limit_param
        self.records_path, self.total_path = source.records_path, source.total_path
        #: the offset of the list's first page (the paginator's ``start``)
        self.base = int(dict(source.current_value.params)[source.offset_param])
        first = self._page(self.base + index * self.page_size, self.page_size)
        super().__init__(
            first, stream_name=source.stream_name, stride=count, list_max_pages=list_max_pages
        )

    def _page(self, offset: int, limit: int) -> PageRequest:
        return PageRequest.with_params({self.offset_param: offset, self.limit_param: limit})

    def get_next(self, response: requests.Response) -> PageRequest | None:
        """Return the rest of this range, else this shard's next range, or None at the end."""
        body = _body(response)
        received = _count(self.records_path, body)
        if received == 0:
            return None
        params = dict(self.current_value.params)
        offset, limit = int(params[self.offset_param]), int(params[self.limit_param])
        if received > limit:
            msg = (
                f"Stream '{self.stream_name}': {redact_url(response.url)} returned {received} "
                f"records for {self.limit_param}={limit}; a list split by page among shards "
                "needs a server that honours the page size"
            )
            raise FatalAPIError(msg)
        list_page = (offset - self.base) // self.page_size
        offset += received
        range_end = self.base + (list_page + 1) * self.page_size
        if offset >= range_end:
            list_page += self.stride
            offset = self.base + list_page * self.page_size
        total = first_value(self.total_path, body) if self.total_path else None
        if total is not None and offset >= int(total):
            return None
        nxt = self._page(offset, self.base + (list_page + 1) * self.page_size - offset)
        return None if self._capped(list_page, nxt) else nxt


class StridedPageNumberPaginator(_Strided):
    """Page-number paging over this shard's page numbers."""

    def __init__(
        self, source: PageNumberPaginator, index: int, count: int, *, list_max_pages: int | None
    ) -> None:
        self.page_param, self.size_param = source.page_param, source.size_param
        self.page_size, self.records_path = source.page_size, source.records_path
        self.total_pages_path = source.total_pages_path
        #: the number of the list's first page (the paginator's ``start``)
        self.start = int(dict(source.current_value.params)[source.page_param])
        super().__init__(
            self._page(self.start + index),
            stream_name=source.stream_name,
            stride=count,
            list_max_pages=list_max_pages,
        )

    def _page(self, number: int) -> PageRequest:
        params: dict[str, t.Any] = {self.page_param: number}
        if self.size_param and self.page_size:
            params[self.size_param] = self.page_size
        return PageRequest.with_params(params)

    def get_next(self, response: requests.Response) -> PageRequest | None:
        """Return this shard's next page number, or None at the end."""
        body = _body(response)
        if _count(self.records_path, body) == 0:
            return None
        number = int(dict(self.current_value.params)[self.page_param]) + self.stride
        pages = first_value(self.total_pages_path, body) if self.total_pages_path else None
        if pages is not None and number - self.start >= int(pages):
            return None
        nxt = self._page(number)
        return None if self._capped(number - self.start, nxt) else nxt
