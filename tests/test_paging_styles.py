"""Every paging style over the sandbox: each record exactly once, for any total and page size."""

from __future__ import annotations

import typing as t

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tap_rest.client import TapRestStream
from tap_rest.pagination import (
    BodyNextLinkPaginator,
    CursorPaginator,
    GuardedPaginator,
    LinkHeaderPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    PageRequest,
    PaginationLoopError,
)
from tap_rest.sandbox import Sandbox
from tap_rest.tap import TapRest

# style -> (records JSONPath, paginator factory taking page size and stream name)
STYLES: dict[str, tuple[str, t.Callable[[int, str], GuardedPaginator]]] = {
    "offset": (
        "$.items[*]",
        lambda k, n: OffsetPaginator(
            k, records_path="$.items[*]", total_path="$.total", stream_name=n
        ),
    ),
    "offset-nototal": (
        "$.items[*]",
        lambda k, n: OffsetPaginator(k, records_path="$.items[*]", stream_name=n),
    ),
    "page": (
        "$.data[*]",
        lambda k, n: PageNumberPaginator(
            k, records_path="$.data[*]", total_pages_path="$.total_pages", stream_name=n
        ),
    ),
    "page-nototal": (
        "$.data[*]",
        lambda k, n: PageNumberPaginator(k, records_path="$.data[*]", stream_name=n),
    ),
    "next": (
        "$.results[*]",
        lambda k, n: BodyNextLinkPaginator(
            "$.next", PageRequest.with_params({"offset": 0, "limit": k}), stream_name=n
        ),
    ),
    "link": (
        "$[*]",
        lambda k, n: LinkHeaderPaginator(
            "next", PageRequest.with_params({"page": 1, "per_page": k}), stream_name=n
        ),
    ),
    "cursor": (
        "$.data[*]",
        lambda k, n: CursorPaginator(
            "$.next_cursor",
            "cursor",
            has_more_path="$.has_more",
            limit_param="limit",
            page_size=k,
            stream_name=n,
        ),
    ),
    "cursor-noflag": (
        "$.data[*]",
        lambda k, n: CursorPaginator(
            "$.next_cursor", "cursor", limit_param="limit", page_size=k, stream_name=n
        ),
    ),
}


class GenericItems(TapRestStream):
    """A stream over /generic/<style>, built for one style, total and page size."""

    url_setting = "jsonplaceholder_url"
    name = "generic_items"
    primary_keys = ("id",)
    schema: t.ClassVar[dict] = {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
    }

    def __init__(
        self, tap: TapRest, style: str, total: int, page_size: int, **query: t.Any
    ) -> None:
        self.style, self.total, self.k = style, total, page_size
        self.records_jsonpath = STYLES[style][0]
        extra = "".join(f"&{key}={value}" for key, value in query.items())
        self.path = f"/generic/{style.removesuffix('-noflag')}?total={total}{extra}"
        super().__init__(tap=tap, run=tap.run)

    def list_paginator(self) -> GuardedPaginator:
        return STYLES[self.style][1](self.k, self.name)


@pytest.fixture(scope="module")
def tap(sandbox: Sandbox) -> TapRest:
    return TapRest(config={"jsonplaceholder_url": sandbox.url, "pokeapi_url": sandbox.pokeapi_url})


def ids(tap: TapRest, style: str, total: int, page_size: int, **query: t.Any) -> list[int]:
    return [r["id"] for r in GenericItems(tap, style, total, page_size, **query).get_records(None)]


@pytest.mark.parametrize("style", list(STYLES))
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    total=st.integers(min_value=0, max_value=60), page_size=st.integers(min_value=1, max_value=25)
)
def test_every_style_yields_each_record_exactly_once(tap, sandbox, style, total, page_size) -> None:
    sandbox.server.requests.clear()
    assert ids(tap, style, total, page_size) == list(range(1, total + 1))
    pages = sum(sandbox.server.requests.values())
    full_pages = -(-total // page_size)
    if style in ("offset", "page", "next", "link", "cursor"):
        assert pages == max(full_pages, 1), "a style that knows its end asks no extra page"
    else:
        assert pages <= full_pages + 1


@pytest.mark.parametrize("style", list(STYLES))
@pytest.mark.parametrize(
    ("total", "page_size"), [(0, 1), (0, 10), (30, 10), (31, 10), (10, 10), (1, 1), (7, 50)]
)
def test_edges_none_a_multiple_a_last_page_exactly_full(tap, style, total, page_size) -> None:
    assert ids(tap, style, total, page_size) == list(range(1, total + 1))


@pytest.mark.parametrize("style", ["next", "link", "cursor", "cursor-noflag"])
def test_a_server_that_repeats_a_link_or_cursor_stops_with_the_loop_error(
    tap, sandbox, style
) -> None:
    sandbox.server.requests.clear()
    with pytest.raises(PaginationLoopError, match="Pagination loop in stream 'generic_items'"):
        ids(tap, style, 50, 10, loop=1)
    assert sum(sandbox.server.requests.values()) <= 4
