"""The one validation: every problem of a config named in one line, secrets never quoted."""

from __future__ import annotations

import pytest

from tap_rest.config import CONFIG_SCHEMA
from tap_rest.streams import STREAM_TYPES
from tap_rest.validate import config_problems

BUILTIN = {cls.name for cls in STREAM_TYPES}
ORDERS = {
    "name": "orders",
    "base_url": "http://127.0.0.1:9/shop",
    "path": "/orders",
    "primary_keys": ["id"],
}


def problems(config: dict) -> list[str]:
    return config_problems(config, CONFIG_SCHEMA, BUILTIN)


def test_a_good_config_has_no_problem() -> None:
    assert problems({}) == []
    assert problems({"auth": {"type": "none"}, "streams": [ORDERS], "page_size": 5}) == []


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        ({"type": "bearer"}, "auth.token: required when auth.type is 'bearer'"),
        ({"type": "magic"}, "auth.type: 'magic' is not one of none, api_key, bearer, basic"),
        ({"token": "abcd-secret"}, "auth.type: required (one of none, api_key, bearer"),
        (
            {"type": "bearer", "token": "abcd-secret", "tokne": "x"},
            "auth.tokne: not a field of auth.type 'bearer' (its fields: token, type); "
            "did you mean 'token'?",
        ),
        (
            {"type": "api_key", "name": "k", "value": "abcd-secret", "location": "body"},
            "auth.location: 'body' is not one of header, query",
        ),
        ({"type": "basic", "username": "u"}, "auth.password: required when auth.type is 'basic'"),
        ({"type": "bearer", "token": 12345678}, "auth.token: the value is not a string"),
        (
            {"type": "oauth2_refresh_token", "token_url": "https://idp.test/t", "client_id": "c"},
            "auth.refresh_token: required when auth.type is 'oauth2_refresh_token'",
        ),
        (
            {
                "type": "oauth2_refresh_token",
                "token_url": "https://idp.test/t",
                "client_id": "c",
                "refresh_token": "abcd-secret",
                "client_auth": "header",
            },
            "auth.client_auth: 'header' is not one of body, basic",
        ),
    ],
)
def test_each_auth_problem_is_named_without_its_secret(auth: dict, expected: str) -> None:
    found = problems({"auth": auth})
    assert any(p.startswith(expected) for p in found), found
    assert not any("abcd-secret" in p or "12345678" in p for p in found)


def test_a_named_apis_auth_is_checked_the_same_way() -> None:
    found = problems({"apis": {"shop": {"base_url": "http://x.test", "auth": {"type": "bearer"}}}})
    assert found == ["apis.shop.auth.token: required when apis.shop.auth.type is 'bearer'"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"paginator": {"type": "pages"}},
            "streams[orders].paginator.type: 'pages' is not one of single, offset, page, "
            "next_link, link_header, cursor; did you mean 'page'?",
        ),
        (
            {"paginator": {"type": "offset", "pagesize": 5}},
            "streams[orders].paginator.pagesize: not a field of streams[orders].paginator.type "
            "'offset'",
        ),
        (
            {"paginator": {"type": "cursor", "cursor_path": "$.next"}},
            "streams[orders].paginator.cursor_param: required with cursor_location query "
            "(the default)",
        ),
        (
            {"paginator": {"type": "cursor", "cursor_param": "c"}},
            "streams[orders].paginator.cursor_path: required with cursor_source body (the default)",
        ),
        (
            {"paginator": {"type": "cursor", "cursor_param": "c", "cursor_source": "header"}},
            "streams[orders].paginator.cursor_header: required with cursor_source header",
        ),
        (
            {
                "method": "POST",
                "paginator": {"type": "cursor", "cursor_path": "$.c", "cursor_location": "body"},
            },
            "streams[orders].paginator.cursor_body_path: required with cursor_location body",
        ),
        (
            {"paginator": {"type": "cursor", "cursor_path": "$.c", "cursor_location": "header"}},
            "streams[orders].paginator.cursor_location: 'header' is not one of query, body, "
            "header_out",
        ),
        (
            {
                "paginator": {
                    "type": "cursor",
                    "cursor_path": "$.c",
                    "cursor_location": "body",
                    "cursor_body_path": "search_after",
                }
            },
            "streams[orders].paginator.cursor_location: needs method POST",
        ),
        ({"json": {"size": 100}}, "streams[orders].json: needs method POST"),
        ({"method": "PUT"}, "streams[orders].method: 'PUT' is not one of GET, POST"),
        (
            {"method": "POST", "bookmark_body_path": "query.range[0]"},
            "streams[orders].bookmark_body_path: 'query.range[0]' is not a dotted path",
        ),
        (
            {"params": {"customer_id": "{customer}"}},
            "streams[orders].params: no parent field fills the placeholder {customer}",
        ),
        (
            {"method": "POST", "json": {"filter": {"customer": "{customer}"}}},
            "streams[orders].json: no parent field fills the placeholder {customer}",
        ),
        (
            {"total_path": "$.total", "total_header": "X-Total-Count"},
            "streams[orders].total_header: set total_path or total_header, not both",
        ),
        ({"total_path": "$.total["}, "streams[orders].total_path: '$.total[' is not a JSONPath"),
        ({"on_incomplete": "stop"}, "streams[orders].on_incomplete: 'stop' is not one of warn"),
        ({"primary_keys": []}, "streams[orders].primary_keys: required"),
        ({"primary_keys": None}, "streams[orders].primary_keys: required"),
        ({"recordspath": "$[*]"}, "streams[orders].recordspath: not a field of streams[orders]"),
        (
            {"records_path": "$.data[*"},
            "streams[orders].records_path: '$.data[*' is not a JSONPath",
        ),
        ({"name": "posts"}, "streams[posts].name: 'posts' is a built-in stream"),
        ({"base_url": None}, "streams[orders]: needs base_url or api"),
        ({"api": "nope"}, "streams[orders].api: no API named 'nope' in apis"),
        ({"path": "/c/{customer}/orders"}, "streams[orders].path: no parent field fills"),
        (
            {"replication_key": "updated_at"},
            "streams[orders].bookmark_param: required with replication_key",
        ),
        (
            {"parent": {"stream": "clients", "fields": {}}},
            "streams[orders].parent.stream: no stream 'clients' in streams",
        ),
    ],
)
def test_each_definition_problem_is_named(change: dict, expected: str) -> None:
    definition = {k: v for k, v in {**ORDERS, **change}.items() if v is not None}
    found = problems({"streams": [definition]})
    assert any(p.startswith(expected) for p in found), found


def test_a_parent_cycle_is_named() -> None:
    a = {**ORDERS, "name": "a", "parent": {"stream": "b", "fields": {}}}
    b = {**ORDERS, "name": "b", "parent": {"stream": "a", "fields": {}}}
    assert "streams[a].parent: the parents form a cycle" in problems({"streams": [a, b]})


def test_every_problem_is_listed_at_once() -> None:
    found = problems(
        {
            "page_size": -5,
            "auth": {"type": "bearer"},
            "query_params": {"postz": {"a": 1}},
            "streams": [{**ORDERS, "paginator": {"type": "pages"}}],
        }
    )
    assert len(found) == 4, found
    assert found[0].startswith("page_size: -5 is less than the minimum of 1")


def test_unknown_streams_in_per_stream_settings_are_named() -> None:
    found = problems({"skip_statuses": {"comments": [404]}})
    assert found[0].startswith("skip_statuses: unknown stream(s) 'comments'; known streams: ")
