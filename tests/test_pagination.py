"""Paginator classes on real requests.Response objects."""

from __future__ import annotations

import json

import pytest
import requests
from singer_sdk.streams.rest import HTTPRequest

from tap_rest.checkpoint import token_from_state, token_to_state
from tap_rest.pagination import (
    BodyNextLinkPaginator,
    CursorPaginator,
    LinkHeaderPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    PageRequest,
    PaginationError,
    PaginationLoopError,
    SinglePagePaginator,
    parse_link_header,
    resolve_url,
)


def response(url: str, body: object = None, headers: dict | None = None) -> requests.Response:
    resp = requests.Response()
    resp.status_code = 200
    resp.url = url
    resp._content = json.dumps(body if body is not None else []).encode()
    resp.headers.update(headers or {})
    return resp


def test_page_request_sets_params_or_follows_a_url() -> None:
    req = HTTPRequest(url="https://api.test/posts", params={"userId": 1})
    PageRequest.with_params({"_page": 1, "_limit": 10}).apply(req)
    assert req.url == "https://api.test/posts"
    assert req.params == {"userId": 1, "_page": 1, "_limit": 10}
    PageRequest(url="https://api.test/posts?userId=1&_page=2&_limit=10").apply(req)
    assert req.url == "https://api.test/posts?userId=1&_page=2&_limit=10"
    assert req.params == {}


def test_resolve_url_handles_relative_links_and_never_downgrades_https() -> None:
    base = "https://jsonplaceholder.typicode.com/posts?_page=1&_limit=10"
    assert (
        resolve_url(base, "/posts?_page=2") == "https://jsonplaceholder.typicode.com/posts?_page=2"
    )
    assert resolve_url(base, "?_page=3") == "https://jsonplaceholder.typicode.com/posts?_page=3"
    # json-server behind a TLS proxy writes http:// links
    assert (
        resolve_url(base, "http://jsonplaceholder.typicode.com/posts?_page=2&_limit=10")
        == "https://jsonplaceholder.typicode.com/posts?_page=2&_limit=10"
    )
    assert resolve_url(base, "http://elsewhere.test/x") == "http://elsewhere.test/x"
    assert resolve_url("http://127.0.0.1:8/a", "http://127.0.0.1:8/b") == "http://127.0.0.1:8/b"


def test_parse_link_header_reads_several_rels_quoted_params_and_relative_targets() -> None:
    header = (
        '<https://api.test/items?page=2>; rel="next", '
        '</items?page=9>; rel="last"; title="the, last; page", '
        "<https://api.test/items?page=1>; rel=first, "
        '<https://api.test/items?page=3>; rel="next nofollow"; type="application/json"'
    )
    links = parse_link_header(header)
    assert [target for target, _ in links] == [
        "https://api.test/items?page=2",
        "/items?page=9",
        "https://api.test/items?page=1",
        "https://api.test/items?page=3",
    ]
    assert links[1][1] == {"rel": "last", "title": "the, last; page"}
    assert links[2][1] == {"rel": "first"}
    assert parse_link_header("") == []


def test_link_header_paginator_follows_rel_next() -> None:
    paginator = LinkHeaderPaginator(
        first=PageRequest.with_params({"_page": 1}), stream_name="posts"
    )
    assert paginator.current_value == PageRequest(params=(("_page", 1),))
    link = '<http://127.0.0.1:8/posts?_page=1>; rel="first", </posts?_page=2>; rel="next"'
    paginator.advance(response("http://127.0.0.1:8/posts?_page=1", headers={"Link": link}))
    assert paginator.current_value == PageRequest(url="http://127.0.0.1:8/posts?_page=2")
    assert not paginator.finished
    paginator.advance(response("http://127.0.0.1:8/posts?_page=2", headers={"Link": ""}))
    assert paginator.finished
    assert paginator.count == 2


def test_link_header_paginator_matches_rel_in_a_list_of_rels() -> None:
    paginator = LinkHeaderPaginator(stream_name="s")
    link = '<https://api.test/x?p=2>; rel="nofollow NEXT"'
    paginator.advance(response("https://api.test/x", headers={"Link": link}))
    assert paginator.current_value.url == "https://api.test/x?p=2"


def test_body_next_link_paginator_follows_next_until_null() -> None:
    paginator = BodyNextLinkPaginator(
        "$.next", PageRequest.with_params({"offset": 0}), stream_name="a"
    )
    paginator.advance(
        response("https://p.test/api/v2/ability/", {"next": "/api/v2/ability/?offset=20"})
    )
    assert paginator.current_value.url == "https://p.test/api/v2/ability/?offset=20"
    paginator.advance(response("https://p.test/api/v2/ability/?offset=20", {"next": None}))
    assert paginator.finished


def test_a_repeated_next_link_is_a_loop_error_naming_stream_and_url() -> None:
    paginator = BodyNextLinkPaginator("$.next", stream_name="abilities")
    paginator.advance(response("https://p.test/a?o=0", {"next": "https://p.test/a?o=20"}))
    paginator.advance(response("https://p.test/a?o=20", {"next": "https://p.test/a?o=40"}))
    with pytest.raises(
        PaginationLoopError, match=r"stream 'abilities'.*https://p\.test/a\?o=40.*o=20"
    ):
        paginator.advance(response("https://p.test/a?o=40", {"next": "https://p.test/a?o=20"}))


def test_a_link_back_to_the_first_page_is_a_loop() -> None:
    first = PageRequest(url="https://p.test/a")
    paginator = BodyNextLinkPaginator("$.next", first, stream_name="s")
    with pytest.raises(PaginationLoopError):
        paginator.advance(response("https://p.test/a", {"next": "https://p.test/a"}))


def test_max_pages_caps_every_paginator() -> None:
    paginator = BodyNextLinkPaginator("$.next", stream_name="s", max_pages=2)
    paginator.advance(response("https://p.test/a", {"next": "/a?o=1"}))
    assert not paginator.finished
    paginator.advance(response("https://p.test/a?o=1", {"next": "/a?o=2"}))
    assert paginator.finished
    assert paginator.capped


def test_single_page_paginator_stops_after_one_page() -> None:
    paginator = SinglePagePaginator(stream_name="s")
    paginator.advance(
        response("https://p.test/a", {"next": "/a?o=1"}, {"Link": '</b>; rel="next"'})
    )
    assert paginator.finished
    assert not paginator.capped


def test_max_pages_is_not_capped_when_the_last_page_is_reached() -> None:
    paginator = BodyNextLinkPaginator("$.next", stream_name="s", max_pages=2)
    paginator.advance(response("https://p.test/a", {"next": "/a?o=1"}))
    paginator.advance(response("https://p.test/a?o=1", {"next": None}))
    assert paginator.finished
    assert not paginator.capped


def test_offset_paginator_stops_at_the_reported_total() -> None:
    paginator = OffsetPaginator(
        10, records_path="$.items[*]", total_path="$.total", stream_name="s"
    )
    assert paginator.current_value == PageRequest(params=(("offset", 0), ("limit", 10)))
    paginator.advance(response("https://a.test/x", {"total": 20, "items": [{}] * 10}))
    assert paginator.current_value == PageRequest(params=(("offset", 10), ("limit", 10)))
    paginator.advance(response("https://a.test/x?offset=10", {"total": 20, "items": [{}] * 10}))
    assert paginator.finished


def test_offset_paginator_advances_by_records_received_when_the_server_caps_limit() -> None:
    paginator = OffsetPaginator(
        100, records_path="$.items[*]", total_path="$.total", stream_name="s"
    )
    paginator.advance(response("https://a.test/x", {"total": 250, "items": [{}] * 50}))
    assert dict(paginator.current_value.params)["offset"] == 50
    assert not paginator.finished


def test_offset_paginator_without_total_stops_at_an_empty_page_not_a_short_one() -> None:
    # A server may cap the page size without a word: a short page is no proof of the end.
    capped = OffsetPaginator(10, stream_name="s")
    capped.advance(response("https://a.test/x", [{}] * 3))
    assert not capped.finished
    assert dict(capped.current_value.params)["offset"] == 3
    capped.advance(response("https://a.test/x?offset=3", []))
    assert capped.finished
    trusted = OffsetPaginator(10, stop_on_short_page=True, stream_name="s")
    trusted.advance(response("https://a.test/x", [{}] * 10))
    assert not trusted.finished
    trusted.advance(response("https://a.test/x?offset=10", [{}] * 3))
    assert trusted.finished


def test_offset_paginator_trusts_the_limit_the_server_says_it_used() -> None:
    echoed = OffsetPaginator(250, records_path="$.items[*]", limit_path="$.limit", stream_name="s")
    echoed.advance(response("https://a.test/x", {"limit": 100, "items": [{}] * 100}))
    assert not echoed.finished, "a full page at the server's own limit"
    echoed.advance(response("https://a.test/x?offset=100", {"limit": 100, "items": [{}] * 40}))
    assert echoed.finished


def test_page_number_paginator_uses_total_pages_or_an_empty_page() -> None:
    paged = PageNumberPaginator(
        5, records_path="$.data[*]", total_pages_path="$.total_pages", stream_name="s"
    )
    assert paged.current_value == PageRequest(params=(("page", 1), ("per_page", 5)))
    paged.advance(response("https://a.test/x", {"total_pages": 2, "data": [{}] * 5}))
    assert paged.current_value == PageRequest(params=(("page", 2), ("per_page", 5)))
    paged.advance(response("https://a.test/x?page=2", {"total_pages": 2, "data": [{}] * 5}))
    assert paged.finished
    open_ended = PageNumberPaginator(
        page_param="p", size_param=None, records_path="$.data[*]", stream_name="s"
    )
    open_ended.advance(response("https://a.test/x", {"data": [{}]}))
    assert open_ended.current_value == PageRequest(params=(("p", 2),))
    open_ended.advance(response("https://a.test/x?p=2", {"data": []}))
    assert open_ended.finished


def test_cursor_paginator_sends_the_token_and_honours_has_more() -> None:
    paginator = CursorPaginator(
        "$.meta.next",
        "cursor",
        has_more_path="$.meta.more",
        limit_param="limit",
        page_size=3,
        stream_name="s",
    )
    assert paginator.current_value == PageRequest(params=(("limit", 3),))
    paginator.advance(response("https://a.test/x", {"meta": {"next": "c2", "more": True}}))
    assert paginator.current_value == PageRequest(params=(("limit", 3), ("cursor", "c2")))
    paginator.advance(
        response("https://a.test/x?cursor=c2", {"meta": {"next": "c3", "more": False}})
    )
    assert paginator.finished
    no_flag = CursorPaginator("$.next_cursor", "after", stream_name="s")
    no_flag.advance(response("https://a.test/x", {"next_cursor": ""}))
    assert no_flag.finished


def test_a_repeated_cursor_is_a_loop() -> None:
    paginator = CursorPaginator("$.next", "cursor", stream_name="events")
    paginator.advance(response("https://a.test/x", {"next": "abc"}))
    with pytest.raises(PaginationLoopError, match="stream 'events'"):
        paginator.advance(response("https://a.test/x?cursor=abc", {"next": "abc"}))


def test_a_body_cursor_is_set_at_its_path_in_the_json_body() -> None:
    paginator = CursorPaginator(
        "$.hits.hits[-1].sort",
        cursor_location="body",
        cursor_body_path="page.search_after",
        stream_name="events",
    )
    hits = {"hits": {"hits": [{"sort": [1, "a"]}, {"sort": [2, "b"]}]}}
    paginator.advance(response("https://a.test/_search", hits))
    page = paginator.current_value
    request = HTTPRequest(url="https://a.test/_search", method="POST", data={"size": 2})
    page.apply(request)
    assert request.data == {"size": 2, "page": {"search_after": [2, "b"]}}
    assert request.params == {}
    # The same cursor again is a loop, even though it is a list.
    with pytest.raises(PaginationLoopError, match="stream 'events'"):
        paginator.advance(response("https://a.test/_search", hits))


def test_a_body_cursor_page_stops_at_a_page_without_hits() -> None:
    paginator = CursorPaginator(
        "$.hits.hits[-1].sort", cursor_location="body", cursor_body_path="search_after"
    )
    paginator.advance(response("https://a.test/_search", {"hits": {"hits": []}}))
    assert paginator.finished


def test_a_header_cursor_goes_back_in_the_query_or_in_a_request_header() -> None:
    query = CursorPaginator(
        cursor_param="cursor", cursor_source="header", cursor_header="X-Next-Cursor"
    )
    query.advance(response("https://a.test/x", [], {"x-next-cursor": "c2"}))
    assert query.current_value == PageRequest(params=(("cursor", "c2"),))
    query.advance(response("https://a.test/x?cursor=c2", []))
    assert query.finished, "no header, no next page"
    header = CursorPaginator(
        cursor_param="X-Cursor",
        cursor_source="header",
        cursor_header="X-Next-Cursor",
        cursor_location="header_out",
    )
    header.advance(response("https://a.test/x", [], {"X-Next-Cursor": "c2"}))
    request = HTTPRequest(url="https://a.test/x", headers={"Accept": "application/json"})
    header.current_value.apply(request)
    assert request.headers == {"Accept": "application/json", "X-Cursor": "c2"}
    assert request.params == {}


def test_a_body_cursor_and_a_header_cursor_survive_state() -> None:
    page = PageRequest(
        params=(("limit", 5),),
        body=(("search_after", json.dumps([1767225600000, 7])),),
        headers=(("X-Cursor", "c2"),),
    )
    saved = token_to_state(page)
    assert saved == {
        "url": None,
        "params": [["limit", 5]],
        "body": [["search_after", [1767225600000, 7]]],
        "headers": [["X-Cursor", "c2"]],
    }
    assert token_from_state(json.loads(json.dumps(saved))) == page
    plain = PageRequest.with_params({"_page": 2})
    assert token_to_state(plain) == {"url": None, "params": [["_page", 2]]}


def test_a_total_is_read_as_elasticsearch_gives_it_or_named_when_no_number() -> None:
    paginator = OffsetPaginator(
        10, records_path="$.items[*]", total_path="$.total", stream_name="s"
    )
    body = {"total": {"value": 10, "relation": "eq"}, "items": [{}] * 10}
    paginator.advance(response("https://a.test/x", body))
    assert paginator.finished
    wrong = OffsetPaginator(10, records_path="$.items[*]", total_path="$.total", stream_name="s")
    with pytest.raises(PaginationError, match=r"paginator.total_path gives 'many' .* not a number"):
        wrong.advance(response("https://a.test/x", {"total": "many", "items": [{}] * 10}))
