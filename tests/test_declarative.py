"""Streams described in config alone, on the machinery the built-in streams use."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
import requests

from tap_rest.sandbox import Sandbox
from tap_rest.sandbox.auth import AuthSpec
from tap_rest.sandbox.faults import FaultSpec
from tests.conftest import ROOT, TapRun, run_tap
from tests.test_auth import MODES, server_mode, tap_auth
from tests.test_catalog import discover, select

PAGINATORS = {
    "offset": (
        "/generic/offset?total={n}",
        "$.items[*]",
        {"type": "offset", "page_size": 7, "total_path": "$.total"},
    ),
    "offset-nototal": (
        "/generic/offset-nototal?total={n}",
        "$.items[*]",
        {"type": "offset", "page_size": 7},
    ),
    "page": (
        "/generic/page?total={n}",
        "$.data[*]",
        {"type": "page", "page_size": 7, "total_pages_path": "$.total_pages"},
    ),
    "page-nototal": (
        "/generic/page-nototal?total={n}",
        "$.data[*]",
        {"type": "page", "page_size": 7},
    ),
    "next_link": (
        "/generic/next?total={n}",
        "$.results[*]",
        {"type": "next_link", "next_path": "$.next", "first_params": {"limit": 7}},
    ),
    "link_header": (
        "/generic/link?total={n}",
        "$[*]",
        {"type": "link_header", "first_params": {"per_page": 7}},
    ),
    "cursor": (
        "/generic/cursor?total={n}",
        "$.data[*]",
        {
            "type": "cursor",
            "cursor_path": "$.next_cursor",
            "cursor_param": "cursor",
            "has_more_path": "$.has_more",
            "limit_param": "limit",
            "page_size": 7,
        },
    ),
    "single": ("/generic/offset?total={n}&limit=1000", "$.items[*]", {"type": "single"}),
}


def only(streams: list[dict], base: dict, tmp_path, **extra: object) -> TapRun:
    config = {**base, "streams": streams, **extra}
    catalog = select(discover(tmp_path, config), {d["name"] for d in streams})
    return run_tap(tmp_path, config, catalog=catalog)


@pytest.mark.parametrize("kind", list(PAGINATORS))
def test_every_paginator_type_through_config(tmp_path, config, sandbox, kind) -> None:
    path, records_path, paginator = PAGINATORS[kind]
    stream = {
        "name": "items",
        "base_url": sandbox.url,
        "path": path.format(n=30),
        "records_path": records_path,
        "primary_keys": ["id"],
        "paginator": paginator,
    }
    run = only([stream], config, tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert [r["id"] for r in run.records["items"]] == list(range(1, 31))
    schema = next(m for m in run.messages if m["type"] == "SCHEMA")["schema"]
    assert set(schema["properties"]) == {"id", "name", "value", "tags", "updated_at"}


@pytest.mark.parametrize("mode", MODES)
def test_every_auth_type_through_config(tmp_path, mode) -> None:
    with Sandbox(auth=AuthSpec(mode=server_mode(mode))) as sb:
        base = {"jsonplaceholder_url": sb.url, "pokeapi_url": sb.pokeapi_url}
        stream = {
            "name": "items",
            "api": "protected",
            "path": "/generic/page?total=25",
            "records_path": "$.data[*]",
            "primary_keys": ["id"],
            "paginator": {"type": "page", "page_size": 10, "total_pages_path": "$.total_pages"},
            "schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
        }
        apis = {"protected": {"base_url": sb.url, "auth": tap_auth(mode, sb)}}
        run = only([stream], base, tmp_path, apis=apis)
        wrong = {"protected": {"base_url": sb.url, "auth": tap_auth(mode, sb, wrong=True)}}
        refused = only([stream], base, tmp_path, apis=wrong)
    assert run.returncode == 0, run.stderr[-2000:]
    assert [r["id"] for r in run.records["items"]] == list(range(1, 26))
    assert refused.returncode != 0
    assert "401" in refused.stderr
    spec = AuthSpec()
    for secret in (
        spec.api_key,
        spec.token,
        spec.password,
        spec.client_secret,
        "wrong-secret-0b7c1d",
    ):
        assert secret not in run.stderr + refused.stderr, "an API's secret reached the output"


def test_config_defined_jsonplaceholder_streams_match_the_built_in_ones(
    tmp_path, config, full_run, sandbox
) -> None:
    # examples/jsonplaceholder.json: the six built-in jsonplaceholder streams, as config
    streams = json.loads((ROOT / "examples" / "jsonplaceholder.json").read_text())["streams"]
    for definition in streams:
        definition["base_url"] = sandbox.url
    run = only(streams, config, tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    for definition in streams:
        builtin = definition["name"].removeprefix("cfg_")
        assert run.records[definition["name"]] == full_run.records[builtin], builtin


SHOP = [
    {
        "name": "customers",
        "api": "shop",
        "path": "/customers",
        "records_path": "$.data[*]",
        "primary_keys": ["id"],
        "paginator": {"type": "offset", "page_size": 20, "total_path": "$.total"},
        "replication_key": "updated_at",
        "bookmark_param": "updated_since",
    },
    {
        "name": "orders",
        "api": "shop",
        "path": "/customers/{customer_id}/orders",
        "records_path": "$.data[*]",
        "primary_keys": ["id"],
        "parent": {"stream": "customers", "fields": {"customer_id": "id"}},
        "paginator": {"type": "offset", "page_size": 20, "total_path": "$.total"},
        "replication_key": "updated_at",
        "bookmark_param": "updated_since",
    },
]


def test_incremental_second_run_emits_nothing_and_asks_little(tmp_path, config) -> None:
    with Sandbox() as sb:
        settings = {**config, "streams": SHOP, "apis": {"shop": {"base_url": f"{sb.url}/shop"}}}
        catalog = select(discover(tmp_path, settings), {"customers", "orders"})
        first = run_tap(tmp_path, settings, catalog=catalog)
        assert first.returncode == 0, first.stderr[-2000:]
        assert dict(first.counts) == {"customers": 50, "orders": 200}
        assert {o["customer_id"] for o in first.records["orders"]} == set(range(1, 51))
        state = tmp_path / "state.json"
        state.write_text(json.dumps(first.of_type("STATE")[-1]["value"]))
        sb.server.requests.clear()
        second = run_tap(tmp_path, settings, "--state", str(state), catalog=catalog)
        assert second.returncode == 0, second.stderr[-2000:]
        assert not second.of_type("RECORD")
        assert sum(sb.server.requests.values()) == 1, sb.server.requests
        assert requests.post(f"{sb.url}/shop/touch?customer=7", timeout=10).ok
        third = run_tap(tmp_path, settings, "--state", str(state), catalog=catalog)
    assert [r["id"] for r in third.records["customers"]] == [7]
    assert [r["id"] for r in third.records["orders"]] == [25]
    bookmarks = third.of_type("STATE")[-1]["value"]["bookmarks"]
    assert bookmarks["customers"]["replication_key_value"] > "2026-01-01T00:50:00Z"


def test_an_inclusive_filter_writes_the_records_on_the_bookmark_once(tmp_path, config) -> None:
    # updated_from is inclusive (>=): the records on the bookmark come again on every run.
    inclusive = [{**d, "bookmark_param": "updated_from"} for d in SHOP]
    with Sandbox() as sb:
        settings = {
            **config,
            "streams": inclusive,
            "apis": {"shop": {"base_url": f"{sb.url}/shop"}},
        }
        catalog = select(discover(tmp_path, settings), {"customers", "orders"})
        state = tmp_path / "state.json"

        def rerun() -> TapRun:
            run = run_tap(tmp_path, settings, "--state", str(state), catalog=catalog)
            assert run.returncode == 0, run.stderr[-2000:]
            state.write_text(json.dumps(run.of_type("STATE")[-1]["value"]))
            return run

        first = run_tap(tmp_path, settings, catalog=catalog)
        assert dict(first.counts) == {"customers": 50, "orders": 200}
        state.write_text(json.dumps(first.of_type("STATE")[-1]["value"]))
        assert not rerun().of_type("RECORD"), "a run with no change writes nothing"
        at = "2026-06-01T00:00:00Z"
        assert requests.post(f"{sb.url}/shop/touch?customer=7&at={at}", timeout=10).ok
        assert [r["id"] for r in rerun().records["customers"]] == [7]
        assert not rerun().of_type("RECORD")
        # Another record on the very same value, after the bookmark was taken: never lost.
        assert requests.post(f"{sb.url}/shop/touch?customer=8&at={at}", timeout=10).ok
        assert [r["id"] for r in rerun().records["customers"]] == [8]
        assert not rerun().of_type("RECORD")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"paginator": {"type": "pages"}}, "streams[orders].paginator.type: 'pages' is not one of"),
        (
            {"paginator": {"type": "offset", "pagesize": 5}},
            "streams[orders].paginator.pagesize: not a field",
        ),
        (
            {"paginator": {"type": "cursor", "cursor_param": "c"}},
            "streams[orders].paginator.cursor_path: required",
        ),
        (
            {"path": "/customers/{customer}/orders"},
            "no parent field fills the placeholder {customer}",
        ),
        (
            {"parent": {"stream": "clients", "fields": {"customer_id": "id"}}},
            "streams[orders].parent.stream: no stream 'clients'",
        ),
        (
            {"records_path": "$.data[*"},
            "streams[orders].records_path: '$.data[*' is not a JSONPath",
        ),
        ({"primary_keys": []}, "streams[orders].primary_keys: required"),
        ({"api": "nope"}, "streams[orders].api: no API named 'nope'"),
        ({"name": "posts"}, "streams[posts].name: 'posts' is a built-in stream"),
        ({"bookmark_param": None}, "streams[orders].bookmark_param: required with replication_key"),
    ],
)
def test_bad_definitions_are_named_before_any_request(
    tmp_path, config, sandbox, change, message
) -> None:
    orders = {k: v for k, v in {**SHOP[1], **change}.items() if v is not None}
    settings = {
        **config,
        "streams": [SHOP[0], orders],
        "apis": {"shop": {"base_url": f"{sandbox.url}/shop"}},
    }
    sandbox.server.requests.clear()
    run = run_tap(tmp_path, settings)
    assert run.returncode != 0
    assert message in run.stderr
    assert not sandbox.server.requests


def test_a_parent_cycle_is_named(tmp_path, config, sandbox) -> None:
    a = {**SHOP[0], "name": "a", "parent": {"stream": "b", "fields": {}}}
    b = {**SHOP[0], "name": "b", "parent": {"stream": "a", "fields": {}}}
    run = run_tap(
        tmp_path, {**config, "streams": [a, b], "apis": {"shop": {"base_url": sandbox.url}}}
    )
    assert run.returncode != 0
    assert "streams[a].parent: the parents form a cycle" in run.stderr


def test_a_named_apis_secrets_never_reach_the_output(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LOGLEVEL", "DEBUG")  # urllib3 then logs every URL, key included
    spec = AuthSpec(mode="api_key", api_key_param="k")
    stream = {
        "name": "items",
        "api": "keyed",
        "path": "/generic/offset?total=5",
        "records_path": "$.items[*]",
        "primary_keys": ["id"],
        "schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
    }
    with Sandbox(auth=spec) as sb:
        base = {"jsonplaceholder_url": sb.url, "pokeapi_url": sb.pokeapi_url}
        for key in (spec.api_key, "wrong-key-3c9e1f"):
            auth = {"type": "api_key", "name": "k", "value": key, "location": "query"}
            run = only([stream], base, tmp_path, apis={"keyed": {"base_url": sb.url, "auth": auth}})
            assert "k=REDACTED" in run.stderr
            assert key not in run.stderr + json.dumps(run.messages)


def test_a_config_with_streams_gets_only_its_own_and_needs_no_catalog(tmp_path, sandbox) -> None:
    # The built-in APIs point at a port nobody listens on: touching them would fail the run.
    config = {
        "jsonplaceholder_url": "http://127.0.0.1:9",
        "pokeapi_url": "http://127.0.0.1:9/api/v2",
        "apis": {"shop": {"base_url": f"{sandbox.url}/shop"}},
        "streams": SHOP,
    }
    sandbox.server.requests.clear()
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr[-2000:]
    assert set(run.counts) == {"customers", "orders"}
    assert run.counts["orders"] == 200
    assert all(path.startswith("/shop/") for path in sandbox.server.requests)
    catalog = discover(tmp_path, config)
    assert {s["tap_stream_id"] for s in catalog["streams"]} == {"customers", "orders"}


def test_built_in_streams_can_be_asked_for_beside_declared_ones(tmp_path, config, sandbox) -> None:
    settings = {
        **config,
        "apis": {"shop": {"base_url": f"{sandbox.url}/shop"}},
        "streams": SHOP[:1],
        "builtin_streams": ["post_comments", "users"],
    }
    run = run_tap(tmp_path, settings)
    assert run.returncode == 0, run.stderr[-2000:]
    # posts is read for its comments, not written: the summary counts what was written
    assert dict(run.counts) == {"customers": 50, "post_comments": 500, "users": 10}
    assert "Summary: posts: 0 records," in run.stderr
    assert "Summary: post_comments: 500 records," in run.stderr


@pytest.mark.parametrize(
    ("path", "paginator"),
    [
        ("/generic/offset-nototal?total=1000&max_limit=100", {"type": "offset", "page_size": 250}),
        (
            "/generic/offset-nototal?total=1000&max_limit=100&echo=1",
            {"type": "offset", "page_size": 250, "limit_path": "$.limit"},
        ),
        ("/generic/page-nototal?total=1000&max_limit=100", {"type": "page", "page_size": 250}),
    ],
)
def test_a_server_that_caps_the_page_size_loses_no_record(
    tmp_path, config, sandbox, path, paginator
) -> None:
    records_path = "$.items[*]" if "offset" in path else "$.data[*]"
    stream = {
        "name": "items",
        "base_url": sandbox.url,
        "path": path,
        "records_path": records_path,
        "primary_keys": ["id"],
        "paginator": paginator,
    }
    settings = {**config, "streams": [stream]}
    catalog = select(discover(tmp_path, settings), {"items"})
    sandbox.server.requests.clear()
    run = run_tap(tmp_path, settings, catalog=catalog)
    assert run.returncode == 0, run.stderr[-2000:]
    assert [r["id"] for r in run.records["items"]] == list(range(1, 1001))
    pages = sum(sandbox.server.requests.values())
    # Ten full pages of the server's 100, and at most one empty page to learn the end.
    assert pages <= 11 + (0 if "limit_path" in paginator else 1), sandbox.server.requests


def test_a_cursor_taken_from_the_last_record(tmp_path, config, sandbox) -> None:
    # Stripe pages with starting_after=<the last id of the page> while has_more is true.
    stream = {
        "name": "charges",
        "base_url": sandbox.url,
        "path": "/generic/after?total=95",
        "records_path": "$.data[*]",
        "primary_keys": ["id"],
        "paginator": {
            "type": "cursor",
            "cursor_path": "$.data[-1].id",
            "cursor_param": "starting_after",
            "has_more_path": "$.has_more",
            "limit_param": "limit",
            "page_size": 10,
        },
    }
    run = only([stream], config, tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert [r["id"] for r in run.records["charges"]] == list(range(1, 96))


def test_a_sorted_incremental_stream_resumed_mid_way_loses_nothing(tmp_path) -> None:
    # Its bookmark advances as records are written; the resumed page (offset 20) belongs to the
    # query with the bookmark the interrupted run started from, not the advanced one.
    customers = {
        **SHOP[0],
        "is_sorted": True,
        "paginator": {"type": "offset", "page_size": 10, "total_path": "$.total"},
    }
    with Sandbox(faults=FaultSpec(latency_ms=50)) as sb:
        config = {"apis": {"shop": {"base_url": f"{sb.url}/shop"}}, "streams": [customers]}
        (tmp_path / "config.json").write_text(json.dumps(config))
        cmd = [sys.executable, "-m", "tap_rest", "--config", str(tmp_path / "config.json")]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(json.loads(line))
            if sum(m["type"] == "RECORD" for m in lines) == 25:
                proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 143
        first = [m["record"]["id"] for m in lines if m["type"] == "RECORD"]
        (tmp_path / "state.json").write_text(json.dumps(lines[-1]["value"]))
        second = run_tap(tmp_path, config, "--state", str(tmp_path / "state.json"))
    assert second.returncode == 0, second.stderr[-2000:]
    rest = [r["id"] for r in second.records["customers"]]
    assert sorted(set(first) | set(rest)) == list(range(1, 51))


@pytest.mark.parametrize(
    "case",
    [
        ("/generic/page-nototal?total=25&strict=1", "$.data[*]", {"type": "page", "page_size": 10}),
        (
            "/generic/offset-nototal?total=1000&max_limit=100&strict=1",
            "$.items[*]",
            {"type": "offset", "page_size": 250},
        ),
    ],
)
def test_an_api_that_errs_on_a_page_past_the_end_ends_the_list(
    tmp_path, config, sandbox, case
) -> None:
    # Django REST Framework answers a page past the last with 404, others with 400.
    path, records_path, paginator = case
    stream = {
        "name": "items",
        "base_url": sandbox.url,
        "path": path,
        "records_path": records_path,
        "primary_keys": ["id"],
        "paginator": paginator,
    }
    run = only([stream], config, tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    total = 25 if "total=25" in path else 1000
    assert [r["id"] for r in run.records["items"]] == list(range(1, total + 1))


def test_an_error_on_a_page_the_api_said_it_has_is_still_an_error(
    tmp_path, config, sandbox
) -> None:
    # With a total, a page past the end is never asked: a 4xx is a real failure.
    stream = {
        "name": "items",
        "base_url": sandbox.url,
        "path": "/status/404/items",
        "primary_keys": ["id"],
        "paginator": {"type": "page", "page_size": 10},
        "schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
    }
    run = only([stream], config, tmp_path)
    assert run.returncode == 1
    assert "returned 404" in run.stderr


def test_a_record_changed_on_the_bookmark_is_written_again(tmp_path, sandbox) -> None:
    # A date-only replication key: a record can change without its value moving.
    def answer(records: list[dict]) -> None:
        body = json.dumps(records).encode()
        sandbox.server.canned["daily"] = (200, [("Content-Type", "application/json")], body)

    stream = {
        "name": "daily",
        "base_url": sandbox.url,
        "path": "/canned/daily",
        "primary_keys": ["id"],
        "replication_key": "updated_on",
        "bookmark_param": "updated_from",
        "schema": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "updated_on": {"type": "string"},
                "status": {"type": "string"},
            },
        },
    }
    answer([{"id": 1, "updated_on": "2024-05-01", "status": "open"}])
    first = run_tap(tmp_path, {"streams": [stream]})
    state = tmp_path / "state.json"
    state.write_text(json.dumps(first.of_type("STATE")[-1]["value"]))
    same = run_tap(tmp_path, {"streams": [stream]}, "--state", str(state))
    assert not same.of_type("RECORD"), "the same record on the bookmark: written once"
    answer([{"id": 1, "updated_on": "2024-05-01", "status": "closed"}])
    changed = run_tap(tmp_path, {"streams": [stream]}, "--state", str(state))
    assert changed.records["daily"] == [{"id": 1, "updated_on": "2024-05-01", "status": "closed"}]


def test_a_catalog_can_force_full_table_and_empty_keys(tmp_path, config) -> None:
    inclusive = [{**d, "bookmark_param": "updated_from"} for d in SHOP[:1]]
    with Sandbox() as sb:
        settings = {
            **config,
            "streams": inclusive,
            "apis": {"shop": {"base_url": f"{sb.url}/shop"}},
        }
        catalog = select(discover(tmp_path, settings), {"customers"})
        first = run_tap(tmp_path, settings, catalog=catalog)
        state = tmp_path / "state.json"
        state.write_text(json.dumps(first.of_type("STATE")[-1]["value"]))
        for entry in catalog["streams"]:
            root = next(m for m in entry["metadata"] if not m["breadcrumb"])
            root["metadata"]["forced-replication-method"] = "FULL_TABLE"
            entry["replication_method"] = "FULL_TABLE"
        full = run_tap(tmp_path, settings, "--state", str(state), catalog=catalog)
        assert full.returncode == 0, full.stderr[-2000:]
        assert full.counts["customers"] == 50, "a full-table read sends no bookmark"
        for entry in catalog["streams"]:
            root = next(m for m in entry["metadata"] if not m["breadcrumb"])
            del root["metadata"]["forced-replication-method"]
            del entry["replication_method"]
            entry["key_properties"] = []
            root["metadata"]["table-key-properties"] = []
        at = "2026-06-01T00:00:00Z"
        assert requests.post(f"{sb.url}/shop/touch?customer=8&at={at}", timeout=10).ok
        first = run_tap(tmp_path, settings, "--state", str(state), catalog=catalog)
        state.write_text(json.dumps(first.of_type("STATE")[-1]["value"]))
        assert requests.post(f"{sb.url}/shop/touch?customer=9&at={at}", timeout=10).ok
        keyless = run_tap(tmp_path, settings, "--state", str(state), catalog=catalog)
    # Without keys nothing can tell a record already written: customer 9 is never skipped.
    assert 9 in [r["id"] for r in keyless.records["customers"]]


def test_a_sorted_stream_interrupted_mid_page_resumes(tmp_path, sandbox) -> None:
    # The final STATE's bookmark is the last record written, mid-page; the resumed run replays
    # that page from its start: the records before the bookmark were written, not a disorder.
    stream = {
        "name": "items",
        "base_url": f"{sandbox.url}/generic",
        "path": "/offset?total=3000",
        "records_path": "$.items[*]",
        "primary_keys": ["id"],
        "is_sorted": True,
        "replication_key": "updated_at",
        "bookmark_param": "since",
        "paginator": {"type": "offset", "page_size": 1000, "total_path": "$.total"},
    }
    config = {"streams": [stream], "max_concurrency": 1}
    (tmp_path / "config.json").write_text(json.dumps(config))
    cmd = [sys.executable, "-m", "tap_rest", "--config", str(tmp_path / "config.json")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    messages = []
    for line in proc.stdout:
        messages.append(json.loads(line))
        if (messages[-1].get("value") or {}).get("tap_rest_run", {}).get("current"):
            break
    time.sleep(1)  # the tap blocks on the full pipe, in the middle of the second page
    proc.send_signal(signal.SIGTERM)
    rest, _ = proc.communicate(timeout=60)
    messages += [json.loads(line) for line in rest.splitlines()]
    assert proc.returncode == 143
    first = [m["record"]["id"] for m in messages if m["type"] == "RECORD"]
    assert 1000 < len(first) < 3000, "interrupted in the middle of a page"
    (tmp_path / "state.json").write_text(json.dumps(messages[-1]["value"]))
    second = run_tap(tmp_path, config, "--state", str(tmp_path / "state.json"))
    assert second.returncode == 0, second.stderr[-2000:]
    assert sorted(first + [r["id"] for r in second.records["items"]]) == list(range(1, 3001))


def test_an_api_that_ignores_the_paging_parameter_is_a_loop_not_endless(
    tmp_path, config, sandbox
) -> None:
    stream = {
        "name": "items",
        "base_url": sandbox.url,
        "path": "/generic/offset-nototal?total=100",
        "records_path": "$.items[*]",
        "primary_keys": ["id"],
        # the server pages with offset, not skip: every page is the first one
        "paginator": {"type": "offset", "page_size": 10, "offset_param": "skip"},
        "schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
    }
    run = only([stream], config, tmp_path)
    assert run.returncode == 1
    assert "answered exactly what the page before did" in run.stderr
    assert len(run.records["items"]) == 10


@pytest.mark.parametrize(
    "case",
    [
        (
            "/generic/cursor?total=100",
            "$.data[*]",
            {
                "type": "cursor",
                "cursor_path": "$.next_cursor",
                "cursor_param": "cursor",
                "has_more_path": "$.hasMore",
            },
            "paginator.has_more_path '$.hasMore' matches nothing in the body of",
        ),
        (
            "/generic/offset?total=100",
            "$.item[*]",
            {"type": "offset", "page_size": 10, "total_path": "$.total"},
            "with no 'item' but a list at 'items' (records_path '$.item[*]')",
        ),
    ],
)
def test_a_mistyped_path_stops_loudly(tmp_path, config, sandbox, case) -> None:
    path, records_path, paginator, expected = case
    stream = {
        "name": "items",
        "base_url": sandbox.url,
        "path": path,
        "records_path": records_path,
        "primary_keys": ["id"],
        "paginator": paginator,
        "schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
    }
    run = only([stream], config, tmp_path)
    assert run.returncode == 1
    assert expected in run.stderr, run.stderr[-1500:]


def test_a_mistyped_next_path_is_warned_of(tmp_path, config, sandbox) -> None:
    stream = {
        "name": "items",
        "base_url": sandbox.url,
        "path": "/generic/next?total=30",
        "records_path": "$.results[*]",
        "primary_keys": ["id"],
        "paginator": {"type": "next_link", "next_path": "$.nxt", "first_params": {"limit": 10}},
        "schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
    }
    run = only([stream], config, tmp_path)
    assert "paginator.next_path '$.nxt' matches nothing in the first page" in run.stderr
    assert "the list is read as one page" in run.stderr


def test_a_page_without_records_in_the_middle_of_a_list_stops_loudly(tmp_path, sandbox) -> None:
    # A busy server answers 200 {"status": "busy"} for page 2: not the end of the list.
    first = {"data": [{"id": 1}], "next": "/canned/p2"}
    sandbox.server.canned["p1"] = (
        200,
        [("Content-Type", "application/json")],
        json.dumps(first).encode(),
    )
    sandbox.server.canned["p2"] = (
        200,
        [("Content-Type", "application/json")],
        b'{"status": "busy"}',
    )
    stream = {
        "name": "items",
        "base_url": sandbox.url,
        "path": "/canned/p1",
        "records_path": "$.data[*]",
        "primary_keys": ["id"],
        "paginator": {"type": "next_link", "next_path": "$.next"},
        "schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
    }
    run = run_tap(tmp_path, {"streams": [stream]})
    assert run.returncode == 1
    assert "with no 'data' in the middle of the list" in run.stderr


@pytest.mark.parametrize(
    ("extra", "lying", "why"),
    [
        ({"max_pages": 1}, 0, "stopped at max_pages"),
        ({}, 5, "fewer records than the API reported"),
    ],
)
def test_a_list_cut_short_keeps_an_unsorted_streams_bookmark(tmp_path, extra, lying, why) -> None:
    """Newest first, cut short: a bookmark moved to the newest seen would skip the rest for good."""
    newest_first = {**SHOP[0], "params": {"order": "desc"}}
    with Sandbox(total_offset=lying) as sb:
        settings = {"streams": [newest_first], "apis": {"shop": {"base_url": f"{sb.url}/shop"}}}
        first = run_tap(tmp_path, {**settings, **extra})
        assert first.returncode == 0, first.stderr[-2000:]
        assert "bookmark kept at None" in first.stderr, first.stderr
        assert why in first.stderr, first.stderr
        state = first.of_type("STATE")[-1]["value"]
        assert "replication_key_value" not in state["bookmarks"].get("customers", {}), state
        (tmp_path / "state.json").write_text(json.dumps(state))
        second = run_tap(tmp_path, settings, "--state", str(tmp_path / "state.json"))
    assert second.returncode == 0, second.stderr[-2000:]
    read = {r["id"] for r in first.records["customers"] + second.records["customers"]}
    assert read == set(range(1, 51))
