"""Proof of completeness: records received against the total the API reported, per stream and
per parent's partition, in the summary; a shortfall warns, or fails the run when asked."""

from __future__ import annotations

import json

import pytest
import requests

from tap_rest.completeness import reported_total
from tap_rest.redact import Redactor
from tap_rest.response import decode
from tap_rest.sandbox import Sandbox
from tests.conftest import DEFAULT_COUNTS, run_tap
from tests.test_catalog import discover, select
from tests.test_declarative import only

#: the built-in streams whose lists report a total, and their partitions' sums
REPORTED = {
    "posts": 100,
    "post_comments": 500,
    "albums": 100,
    "album_photos": 5000,
    "todos": 200,
    "users": 10,
    "abilities": 373,
}


def test_a_truthful_api_gives_n_of_n_reported_for_every_built_in_stream(full_run) -> None:
    for stream, total in REPORTED.items():
        count = DEFAULT_COUNTS[stream]
        line = next(line for line in full_run.stderr.splitlines() if f"Summary: {stream}: " in line)
        assert line.endswith(f", {total} of {total} reported"), line
        assert f"{stream}: {count} records" in line
    details = next(line for line in full_run.stderr.splitlines() if "ability_details:" in line)
    assert "reported" not in details, "an entity by id has no total to check"
    assert "missing" not in full_run.stderr


def test_a_total_one_above_what_is_served_warns_in_the_summary(tmp_path) -> None:
    with Sandbox(total_offset=1) as sb:
        config = {"jsonplaceholder_url": sb.url, "pokeapi_url": sb.pokeapi_url}
        catalog = select(discover(tmp_path, config), {"posts", "post_comments", "abilities"})
        run = run_tap(tmp_path, config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.counts == {"posts": 100, "post_comments": 500, "abilities": 373}
    assert "posts: 100 records" in run.stderr
    assert ", 100 of 101 reported, 1 missing" in run.stderr
    assert ", 373 of 374 reported, 1 missing" in run.stderr
    # Each post's comments are a partition with its own total: 5 served of 6 reported.
    assert ", 500 of 600 reported, 100 missing" in run.stderr
    assert "Stream 'posts': received 100 records, but the API reported 101 (1 missing)" in (
        run.stderr
    )
    assert (
        "Stream 'post_comments' (postId=7): received 5 records, but the API reported 6 "
        "(1 missing)" in run.stderr
    )


def items(sb: Sandbox, **changes: object) -> dict:
    stream = {
        "name": "items",
        "base_url": sb.url,
        "path": "/generic/offset",
        "params": {"total": 30},
        "records_path": "$.items[*]",
        "primary_keys": ["id"],
        "paginator": {"type": "offset", "page_size": 7, "total_path": "$.total"},
        "on_incomplete": "fail",
    }
    return {**stream, **changes}


def test_on_incomplete_fail_exits_1_naming_the_stream_and_both_numbers(tmp_path) -> None:
    with Sandbox(total_offset=1) as sb:
        run = only([items(sb)], {"jsonplaceholder_url": sb.url}, tmp_path)
    assert run.returncode == 1
    errors = [line for line in run.stderr.splitlines() if "error:" in line and "reported" in line]
    assert len(errors) == 1, run.stderr[-3000:]
    assert errors[0].endswith(
        "Stream 'items': received 30 records, but the API reported 31 (1 missing); "
        "on_incomplete is fail"
    )
    assert "Summary: items: 30 records" in run.stderr
    assert ", 30 of 31 reported, 1 missing" in run.stderr


def test_on_incomplete_fail_on_a_truthful_api_passes(tmp_path, sandbox) -> None:
    run = only([items(sandbox)], {"jsonplaceholder_url": sandbox.url}, tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert [r["id"] for r in run.records["items"]] == list(range(1, 31))
    assert ", 30 of 30 reported" in run.stderr


def test_on_incomplete_fail_checks_each_parents_partition(tmp_path) -> None:
    with Sandbox(total_offset=1) as sb:
        shop = f"{sb.url}/shop"
        customers = {
            "name": "customers",
            "base_url": shop,
            "path": "/customers",
            "records_path": "$.data[*]",
            "primary_keys": ["id"],
            "paginator": {"type": "offset", "page_size": 50},
        }
        orders = {
            "name": "orders",
            "base_url": shop,
            "path": "/customers/{customer_id}/orders",
            "records_path": "$.data[*]",
            "primary_keys": ["id"],
            "parent": {"stream": "customers", "fields": {"customer_id": "id"}},
            "total_path": "$.total",
            "on_incomplete": "fail",
        }
        run = only([customers, orders], {"jsonplaceholder_url": sb.url}, tmp_path)
    assert run.returncode == 1
    assert (
        "Stream 'orders' (customer_id=1): received 4 records, but the API reported 5 "
        "(1 missing); on_incomplete is fail" in run.stderr
    )
    assert "orders" not in run.counts, "the partition that fell short is not written"


def test_records_a_stream_map_filters_out_are_not_missing(tmp_path, sandbox) -> None:
    config = {
        "jsonplaceholder_url": sandbox.url,
        "pokeapi_url": sandbox.pokeapi_url,
        "stream_maps": {"posts": {"__filter__": "userId <= 2"}},
    }
    run = run_tap(tmp_path, config, catalog=select(discover(tmp_path, config), {"posts"}))
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.counts == {"posts": 20}
    assert ", 100 of 100 reported" in run.stderr
    assert "missing" not in run.stderr


def test_a_total_reported_in_a_header_or_at_a_jsonpath_is_read(sandbox) -> None:
    listed = requests.get(f"{sandbox.url}/posts?_page=1&_limit=5", timeout=10)
    assert reported_total(listed, path=None, header="X-Total-Count") == 100
    assert reported_total(listed, path=None, header="X-Missing") is None


@pytest.mark.parametrize(
    ("body", "expected"),
    [({"count": 373}, 373), ({"count": "12"}, 12), ({"count": None}, None), ({}, None)],
)
def test_a_total_in_the_body_counts_only_when_it_is_a_number(body: dict, expected) -> None:
    response = requests.Response()
    response.status_code, response._content = 200, json.dumps(body).encode()
    decode(response, "abilities", Redactor())
    assert reported_total(response, path="$.count", header=None) == expected


@pytest.mark.parametrize("received", [20, None])
def test_a_resumed_stream_is_judged_whole_or_not_at_all(tmp_path, config, received) -> None:
    current = {"stream": "posts", "next": {"url": None, "params": [["_page", 3], ["_limit", 10]]}}
    if received is not None:
        current["received"] = received
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"tap_rest_run": {"completed": [], "current": current}}))
    settings = {**config, "page_size": 10}
    catalog = select(discover(tmp_path, settings), {"posts"})
    run = run_tap(tmp_path, settings, "--state", str(state), catalog=catalog)
    assert run.returncode == 0, run.stderr[-2000:]
    assert [p["id"] for p in run.records["posts"]] == list(range(21, 101))
    line = next(line for line in run.stderr.splitlines() if "Summary: posts:" in line)
    if received is None:
        assert "reported" not in line, "a STATE that did not count cannot be judged"
    else:
        assert line.endswith(", 100 of 100 reported"), line
    assert "missing" not in run.stderr
