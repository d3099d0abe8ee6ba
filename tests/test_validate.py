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
            "streams[orders].paginator.cursor_param: required when "
            "streams[orders].paginator.type is 'cursor'",
        ),
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
