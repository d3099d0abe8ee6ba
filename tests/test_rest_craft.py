"""The rest of the REST craft through config alone: POST searches with a body cursor, header
cursors, parents in query parameters and JSON bodies, parent fields by path."""

from __future__ import annotations

import json
import re

import requests

from tap_rest.sandbox import Sandbox
from tap_rest.sandbox.search import Search
from tap_rest.sandbox.shop import Shop
from tests.conftest import ROOT, TapRun, run_tap
from tests.test_declarative import only

EVENTS = Search()


def search_stream(sb: Sandbox, **changes: object) -> dict:
    """The README's POST search: 100 hits a page, search_after in the body, a body bookmark."""
    stream = {
        "name": "events",
        "base_url": f"{sb.url}/search",
        "path": "/events",
        "method": "POST",
        "json": {"size": 100, "sort": [{"updated_at": "asc"}, {"id": "asc"}]},
        "records_path": "$.hits.hits[*]._source",
        "primary_keys": ["id"],
        "paginator": {
            "type": "cursor",
            "cursor_path": "$.hits.hits[-1].sort",
            "cursor_location": "body",
            "cursor_body_path": "search_after",
        },
        "total_path": "$.hits.total.value",
        "replication_key": "updated_at",
        "bookmark_body_path": "query.range.updated_at.gte",
    }
    return {**stream, **changes}


def base(sb: Sandbox) -> dict:
    return {"jsonplaceholder_url": sb.url, "pokeapi_url": sb.pokeapi_url}


def states(run: TapRun) -> list[dict]:
    return [m["value"] for m in run.of_type("STATE")]


def state_after(run: TapRun, received: int) -> dict:
    """The STATE a run wrote once it had received this many records of its current stream."""
    return next(
        s for s in states(run) if (s["tap_rest_run"]["current"] or {}).get("received") == received
    )


def test_a_post_search_of_1000_records_pages_100_at_a_time_by_search_after(tmp_path) -> None:
    with Sandbox() as sb:
        run = only([search_stream(sb)], base(sb), tmp_path)
        searches = sb.server.requests["POST /search/events"]
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.records["events"] == [EVENTS.event(i) for i in range(1, 1001)]
    assert searches - 3 == 11, "3 pages to infer the schema, then 10 full pages and an empty one"
    assert "events: 1000 records, 11 requests" in run.stderr
    assert "1000 of 1000 reported" in run.stderr
    # Each page's STATE says where the search resumes: the last hit's sort values, in the body.
    current = state_after(run, 100)["tap_rest_run"]["current"]
    last = EVENTS.search({"size": 100})["hits"]["hits"][-1]["sort"]
    assert current == {
        "stream": "events",
        "next": {"url": None, "params": [], "body": [["search_after", last]]},
        "received": 100,
        # the bookmark this run's pages are asked with (none: a first run)
        "since": None,
    }


def test_an_interrupted_post_search_resumes_at_its_page(tmp_path) -> None:
    with Sandbox() as sb:
        streams = [search_stream(sb)]
        first = only(streams, base(sb), tmp_path)
        assert first.returncode == 0, first.stderr[-2000:]
        # The STATE a run killed after its third page would have left.
        (tmp_path / "state.json").write_text(json.dumps(state_after(first, 300)))
        catalog = json.loads((tmp_path / "catalog.json").read_text())
        sb.server.requests.clear()
        config = {**base(sb), "streams": streams}
        resumed = run_tap(
            tmp_path, config, "--state", str(tmp_path / "state.json"), catalog=catalog
        )
        searches = sb.server.requests["POST /search/events"]
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert [r["id"] for r in resumed.records["events"]] == list(range(301, 1001))
    assert searches == 8, "pages 4 to 10 and the empty one"
    assert "1000 of 1000 reported" in resumed.stderr, "the count goes on from the STATE"


def test_a_post_search_is_incremental_on_a_bookmark_in_the_body(tmp_path) -> None:
    with Sandbox() as sb:
        streams, config = [search_stream(sb)], base(sb)
        first = only(streams, config, tmp_path)
        assert first.returncode == 0, first.stderr[-2000:]
        assert len(first.records["events"]) == 1000
        state = tmp_path / "state.json"
        state.write_text(json.dumps(states(first)[-1]))
        catalog = json.loads((tmp_path / "catalog.json").read_text())
        settings = {**config, "streams": streams}
        sb.server.requests.clear()
        second = run_tap(tmp_path, settings, "--state", str(state), catalog=catalog)
        assert second.returncode == 0, second.stderr[-2000:]
        # gte sends the last event again (then an empty page): it is not written twice.
        assert not second.of_type("RECORD")
        assert sb.server.requests["POST /search/events"] == 2
        assert "1 of 1 reported" in second.stderr
        for event in (5, 500):
            assert requests.post(f"{sb.url}/search/events/touch?id={event}", timeout=10).ok
        third = run_tap(tmp_path, settings, "--state", str(state), catalog=catalog)
        touched = [sb.server.replica.search.event(i) for i in (5, 500)]
    assert third.returncode == 0, third.stderr[-2000:]
    assert sorted(third.records["events"], key=lambda r: r["id"]) == touched
    assert "events: 2 records" in third.stderr
    assert "3 of 3 reported" in third.stderr, "the one at the bookmark, then the 2 touched"


def header_cursor_stream(sb: Sandbox, **paginator: object) -> dict:
    return {
        "name": "items",
        "base_url": sb.url,
        "path": "/generic/header-cursor",
        "params": {"total": 95, "limit": 10},
        "primary_keys": ["id"],
        "paginator": {
            "type": "cursor",
            "cursor_source": "header",
            "cursor_header": "X-Next-Cursor",
            "cursor_param": "cursor",
            **paginator,
        },
        "total_header": "X-Total-Count",
    }


def test_a_cursor_in_a_response_header_goes_back_in_the_query(tmp_path, sandbox) -> None:
    run = only([header_cursor_stream(sandbox)], base(sandbox), tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert [r["id"] for r in run.records["items"]] == list(range(1, 96))
    assert "items: 95 records, 10 requests" in run.stderr
    assert "95 of 95 reported" in run.stderr


def test_a_cursor_in_a_response_header_goes_back_in_a_request_header(tmp_path) -> None:
    with Sandbox() as sb:
        stream = header_cursor_stream(sb, cursor_location="header_out", cursor_param="X-Cursor")
        run = only([stream], base(sb), tmp_path)
        asked = [target for target in sb.server.requests if "header-cursor" in target]
    assert run.returncode == 0, run.stderr[-2000:]
    assert [r["id"] for r in run.records["items"]] == list(range(1, 96))
    assert asked, "the header-cursor list was read"
    assert not [target for target in asked if "cursor=" in target], "the cursor went in a header"


def test_a_header_cursor_sent_twice_is_a_loop(tmp_path, sandbox) -> None:
    stream = header_cursor_stream(sandbox)
    stream["params"] = {**stream["params"], "loop": 1}
    stream["schema"] = {"type": "object", "properties": {"id": {"type": "integer"}}}
    run = run_tap(tmp_path, {**base(sandbox), "streams": [stream]})
    assert run.returncode == 1
    assert "Pagination loop in stream 'items'" in run.stderr


def jsonplaceholder_posts(sb: Sandbox) -> dict:
    return {
        "name": "cfg_posts",
        "base_url": sb.url,
        "path": "/posts",
        "primary_keys": ["id"],
        "paginator": {"type": "link_header", "first_params": {"_page": 1, "_limit": 100}},
    }


def test_children_selected_by_a_query_parameter(tmp_path, sandbox, full_run) -> None:
    comments = {
        "name": "comments_of_posts",
        "base_url": sandbox.url,
        "path": "/comments",
        "params": {"postId": "{post_id}"},
        "primary_keys": ["id"],
        "parent": {"stream": "cfg_posts", "fields": {"post_id": "id"}},
        "total_header": "X-Total-Count",
        "paginator": {"type": "link_header", "first_params": {"_page": 1, "_limit": 100}},
    }
    run = only([jsonplaceholder_posts(sandbox), comments], base(sandbox), tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    records = run.records["comments_of_posts"]
    assert all(r.pop("post_id") == r["postId"] for r in records)
    assert records == full_run.records["post_comments"]
    assert "500 of 500 reported" in run.stderr
    assert "/comments?postId=7&_page=1&_limit=100" in sandbox.server.requests


def test_shop_orders_selected_by_customer_id_in_the_query(tmp_path, sandbox) -> None:
    shop = f"{sandbox.url}/shop"
    customers = {
        "name": "customers",
        "base_url": shop,
        "path": "/customers",
        "records_path": "$.data[*]",
        "primary_keys": ["id"],
        "paginator": {"type": "offset", "page_size": 20, "total_path": "$.total"},
    }
    orders = {
        "name": "orders",
        "base_url": shop,
        "path": "/orders",
        "params": {"customer_id": "{customer_id}"},
        "records_path": "$.data[*]",
        "primary_keys": ["id"],
        "parent": {"stream": "customers", "fields": {"customer_id": "id"}},
        "paginator": {"type": "offset", "page_size": 3, "total_path": "$.total"},
    }
    run = only([customers, orders], base(sandbox), tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.records["orders"] == [Shop().order(i) for i in range(1, 201)]
    assert "orders: 200 records, 100 requests" in run.stderr, "two pages of 3 for each customer"
    assert "200 of 200 reported" in run.stderr


def users_stream(sb: Sandbox) -> dict:
    return {"name": "cfg_users", "base_url": sb.url, "path": "/users", "primary_keys": ["id"]}


def test_parent_fields_by_dotted_path_and_jsonpath(tmp_path, sandbox) -> None:
    neighbours = {
        "name": "neighbours",
        "base_url": sandbox.url,
        "path": "/users",
        "params": {"address.city": "{city}"},
        "primary_keys": ["id", "city"],
        "parent": {
            "stream": "cfg_users",
            "fields": {"city": "address.city", "lat": "$.address.geo.lat"},
        },
    }
    run = only([users_stream(sandbox), neighbours], base(sandbox), tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    users = requests.get(f"{sandbox.url}/users", timeout=10).json()
    expected = [
        {**other, "city": user["address"]["city"], "lat": user["address"]["geo"]["lat"]}
        for user in users
        for other in users
        if other["address"]["city"] == user["address"]["city"]
    ]
    assert run.records["neighbours"] == expected
    assert len(expected) > len(users), "users share cities: the filter chose them"


def test_a_parent_field_that_resolves_to_nothing_stops_before_any_request(
    tmp_path, sandbox
) -> None:
    by_zip = {
        "name": "by_zip",
        "base_url": sandbox.url,
        "path": "/users/{zip}/todos",
        "primary_keys": ["id"],
        "parent": {"stream": "cfg_users", "fields": {"zip": "address.zip"}},
        "schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
    }
    users = {**users_stream(sandbox), "schema": by_zip["schema"]}
    sandbox.server.requests.clear()
    run = only([users, by_zip], base(sandbox), tmp_path)
    assert run.returncode == 1
    errors = [line for line in run.stderr.splitlines() if "cannot be filled" in line]
    assert len(errors) == 1, run.stderr[-2000:]
    assert errors[0].endswith(
        "Stream 'by_zip': the 'cfg_users' record {\"id\": 1} has no field 'address.zip' "
        "(parent.fields.zip), so {zip} cannot be filled"
    )
    assert not [target for target in sandbox.server.requests if "None" in target]
    assert not [target for target in sandbox.server.requests if "todos" in target]


def test_a_child_search_takes_its_parents_value_in_the_json_body(tmp_path, sandbox) -> None:
    customers = {
        "name": "customers",
        "base_url": f"{sandbox.url}/shop",
        "path": "/customers",
        "records_path": "$.data[*]",
        "primary_keys": ["id"],
        "paginator": {"type": "offset", "page_size": 50, "total_path": "$.total"},
    }
    events = search_stream(
        sandbox,
        name="customer_events",
        json={"size": 15, "query": {"term": {"customer_id": "{customer}"}}},
        parent={"stream": "customers", "fields": {"customer": "id"}},
    )
    del events["replication_key"], events["bookmark_body_path"]
    run = only([customers, events], base(sandbox), tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    by_customer = sorted(run.records["customer_events"], key=lambda r: (r["customer"], r["id"]))
    expected = sorted(
        ({**EVENTS.event(i), "customer": EVENTS.event(i)["customer_id"]} for i in range(1, 1001)),
        key=lambda r: (r["customer"], r["id"]),
    )
    assert by_customer == expected
    # Two pages of 15 and 5 for each customer, then the page after the last hit, empty.
    assert "customer_events: 1000 records, 150 requests" in run.stderr
    assert "1000 of 1000 reported" in run.stderr


def readme_examples(origin: str) -> list[dict]:
    """The README's JSON examples that point at the sandbox, pointed at this one."""
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```json\n(.*?)```", text, flags=re.DOTALL)
    return [json.loads(b.replace("http://127.0.0.1:8080", origin)) for b in blocks if ":8080" in b]


def test_the_readme_search_and_header_cursor_examples_run_as_written(tmp_path, sandbox) -> None:
    examples = readme_examples(sandbox.url)
    search = next(e for e in examples if "streams" in e)["streams"]
    header = next(e for e in examples if e.get("name") == "items")
    run = only([*search, header], base(sandbox), tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert [r["id"] for r in run.records["events"]] == list(range(1, 1001))
    assert [r["id"] for r in run.records["items"]] == list(range(1, 96))
    assert "events: 1000 records, 11 requests" in run.stderr
