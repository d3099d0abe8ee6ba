"""Full syncs against the sandbox: counts, SCHEMA once, valid records, parent keys, small STATE."""

from __future__ import annotations

import json
from collections import Counter

import jsonschema
import pytest

from tap_rest.sandbox import Sandbox
from tap_rest.sandbox.data import Generated
from tests.conftest import DEFAULT_COUNTS, TapRun, run_tap
from tests.test_catalog import discover, select


def test_full_sync_emits_every_record_of_every_stream(full_run: TapRun) -> None:
    assert dict(full_run.counts) == DEFAULT_COUNTS


def test_each_schema_is_sent_once_before_its_records(full_run: TapRun) -> None:
    schemas = Counter(m["stream"] for m in full_run.of_type("SCHEMA"))
    assert schemas == Counter(dict.fromkeys(DEFAULT_COUNTS, 1))
    seen: set[str] = set()
    for m in full_run.messages:
        if m["type"] == "SCHEMA":
            seen.add(m["stream"])
        elif m["type"] == "RECORD":
            assert m["stream"] in seen, f"RECORD of {m['stream']} before its SCHEMA"


def test_every_record_is_valid_against_its_schema(full_run: TapRun) -> None:
    schemas = {m["stream"]: m for m in full_run.of_type("SCHEMA")}
    for stream, records in full_run.records.items():
        validator = jsonschema.Draft7Validator(schemas[stream]["schema"])
        for record in records:
            errors = list(validator.iter_errors(record))
            assert not errors, f"{stream} {record.get('id')}: {errors[0].message}"
        for key in schemas[stream]["key_properties"]:
            assert all(r.get(key) is not None for r in records), f"{stream} lacks {key}"


def test_primary_keys_are_unique(full_run: TapRun) -> None:
    for stream, records in full_run.records.items():
        ids = [r["id"] for r in records]
        assert len(ids) == len(set(ids)), stream


def test_child_records_carry_their_parent_key(full_run: TapRun) -> None:
    records = full_run.records
    post_ids = {p["id"] for p in records["posts"]}
    assert {c["postId"] for c in records["post_comments"]} == post_ids
    assert Counter(c["postId"] for c in records["post_comments"]) == Counter(
        dict.fromkeys(post_ids, 5)
    )
    album_ids = {a["id"] for a in records["albums"]}
    assert {p["albumId"] for p in records["album_photos"]} == album_ids
    assert {d["id"] for d in records["ability_details"]} == {a["id"] for a in records["abilities"]}
    names = {a["id"]: a["name"] for a in records["abilities"]}
    assert all(names[d["id"]] == d["name"] for d in records["ability_details"])


def test_abilities_take_their_id_from_the_url(full_run: TapRun, sandbox: Sandbox) -> None:
    abilities = full_run.records["abilities"]
    assert all(a["url"] == f"{sandbox.pokeapi_url}/ability/{a['id']}/" for a in abilities)
    assert [a["id"] for a in abilities[:2]] == [1, 2]
    assert abilities[-1]["id"] == 10060


def test_state_stays_small(full_run: TapRun) -> None:
    states = full_run.of_type("STATE")
    for state in states:
        text = json.dumps(state["value"])
        assert "partitions" not in text
        assert len(text) < 1000
    final = states[-1]["value"]
    assert set(final["bookmarks"]) == set(DEFAULT_COUNTS)
    assert "tap_rest_run" not in final, "a run that ends well leaves no resume marker"


def test_state_does_not_grow_with_the_number_of_parents(tmp_path, config) -> None:
    states = {}
    for scale in (1, 3):
        with Sandbox(dataset=Generated(scale)) as sb:
            scaled = {
                "jsonplaceholder_url": sb.url,
                "pokeapi_url": sb.pokeapi_url,
                "page_size": 1000,
            }
            catalog = select(discover(tmp_path, scaled), {"posts", "post_comments"})
            run = run_tap(tmp_path, scaled, catalog=catalog)
        assert run.returncode == 0, run.stderr[-2000:]
        assert run.counts["post_comments"] == 500 * scale
        states[scale] = [json.dumps(m["value"]) for m in run.of_type("STATE")]
    assert len(states[3]) == len(states[1]), "one STATE per parent would triple"
    assert max(map(len, states[3])) == max(map(len, states[1]))


def test_a_rerun_from_the_final_state_emits_everything_again(tmp_path, config, full_run) -> None:
    state = tmp_path / "state.json"
    state.write_text(json.dumps(full_run.of_type("STATE")[-1]["value"]))
    run = run_tap(tmp_path, config, "--state", str(state))
    assert run.returncode == 0, run.stderr[-2000:]
    assert dict(run.counts) == DEFAULT_COUNTS


@pytest.mark.parametrize("page_size", [1, 7, 100, 1000])
def test_lists_are_paged_along_the_link_header(tmp_path, config, sandbox, page_size) -> None:
    sandbox.server.requests.clear()
    catalog = _catalog_selecting(tmp_path, config, {"posts", "todos", "abilities"})
    run = run_tap(tmp_path, {**config, "page_size": page_size}, catalog=catalog)
    assert run.returncode == 0, run.stderr[-2000:]
    assert dict(run.counts) == {"posts": 100, "todos": 200, "abilities": 373}
    assert sorted(r["id"] for r in run.records["todos"]) == list(range(1, 201))
    requests = sandbox.server.requests
    posts_pages = sum(n for path, n in requests.items() if path.startswith("/posts?"))
    ability_pages = sum(n for path, n in requests.items() if path.startswith("/api/v2/ability/?"))
    assert posts_pages == -(-100 // page_size)
    assert ability_pages == -(-373 // page_size)
    assert f"/posts?_page=1&_limit={page_size}" in requests


def test_posts_by_id_fetch_each_post_and_its_comments(tmp_path, config, sandbox) -> None:
    sandbox.server.requests.clear()
    catalog = _catalog_selecting(tmp_path, config, {"posts", "post_comments"})
    run = run_tap(tmp_path, {**config, "post_ids": [1, 7]}, catalog=catalog)
    assert run.returncode == 0, run.stderr[-2000:]
    assert [p["id"] for p in run.records["posts"]] == [1, 7]
    assert len(run.records["post_comments"]) == 10
    assert {c["postId"] for c in run.records["post_comments"]} == {1, 7}
    assert "/posts/1" in sandbox.server.requests
    assert "/posts/7" in sandbox.server.requests
    assert not any(p.startswith("/posts?") for p in sandbox.server.requests)


def test_abilities_by_id_or_name(tmp_path, config, sandbox) -> None:
    name = sandbox.server.replica.data.ability_name(5)
    catalog = _catalog_selecting(tmp_path, config, {"abilities", "ability_details"})
    config = {**config, "ability_ids": [3, name, "3", 5]}
    run = run_tap(tmp_path, config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-2000:]
    assert [(a["id"], a["url"]) for a in run.records["abilities"]] == [
        (3, f"{sandbox.pokeapi_url}/ability/3/"),
        (5, f"{sandbox.pokeapi_url}/ability/5/"),
    ]
    assert [d["id"] for d in run.records["ability_details"]] == [3, 5]
    assert run.records["ability_details"][1]["name"] == name


def test_query_params_filter_list_requests(tmp_path, config) -> None:
    catalog = _catalog_selecting(tmp_path, config, {"posts", "todos"})
    params = {"posts": {"userId": 1}, "todos": {"userId": [2, 3], "completed": True}}
    run = run_tap(tmp_path, {**config, "query_params": params}, catalog=catalog)
    assert run.returncode == 0, run.stderr[-2000:]
    assert len(run.records["posts"]) == 10
    assert {p["userId"] for p in run.records["posts"]} == {1}
    todos = run.records["todos"]
    assert todos
    assert {t["userId"] for t in todos} <= {2, 3}
    assert all(t["completed"] for t in todos)


def test_query_params_for_an_unknown_stream_fail_before_any_request(
    tmp_path, config, sandbox
) -> None:
    sandbox.server.requests.clear()
    run = run_tap(tmp_path, {**config, "query_params": {"postz": {"userId": 1}}})
    assert run.returncode != 0
    assert "query_params" in run.stderr
    assert "'postz'" in run.stderr
    assert not run.of_type("RECORD")
    assert not sandbox.server.requests


def test_a_missing_post_fails_with_stream_url_and_status(tmp_path, config, sandbox) -> None:
    catalog = _catalog_selecting(tmp_path, config, {"posts"})
    run = run_tap(tmp_path, {**config, "post_ids": [1, 999]}, catalog=catalog)
    assert run.returncode != 0
    assert f"Stream 'posts': GET {sandbox.url}/posts/999 returned 404" in run.stderr
    assert [p["id"] for p in run.records["posts"]] == [1]


def test_invalid_setting_is_named(tmp_path, config) -> None:
    run = run_tap(tmp_path, {**config, "page_size": 0})
    assert run.returncode != 0
    assert "page_size" in run.stderr


def _catalog_selecting(tmp_path, config: dict, streams: set[str]) -> dict:
    return select(discover(tmp_path, config), streams)


def test_max_pages_caps_every_list_and_says_so(tmp_path, config) -> None:
    catalog = select(discover(tmp_path, config), {"posts", "abilities"})
    run = run_tap(tmp_path, {**config, "page_size": 10, "max_pages": 2}, catalog=catalog)
    assert run.returncode == 0, run.stderr[-2000:]
    assert dict(run.counts) == {"posts": 20, "abilities": 20}
    assert "Stream 'posts' stopped at its cap of 2 pages" in run.stderr


def _sequence(run: TapRun) -> list[tuple[str, str]]:
    return [
        (m["stream"], json.dumps(m["record"], sort_keys=True))
        for m in run.messages
        if m["type"] == "RECORD"
    ]


def test_concurrent_fetching_writes_exactly_what_one_at_a_time_writes(tmp_path, config) -> None:
    one = run_tap(tmp_path, {**config, "max_concurrency": 1})
    many = run_tap(tmp_path, {**config, "max_concurrency": 10, "post_ids": [5, 3, 9]})
    assert one.returncode == 0, one.stderr[-2000:]
    assert many.returncode == 0, many.stderr[-2000:]
    by_id = run_tap(tmp_path, {**config, "max_concurrency": 1, "post_ids": [5, 3, 9]})
    assert _sequence(many) == _sequence(by_id), "same records, in the same order"
    full = run_tap(tmp_path, {**config, "max_concurrency": 10})
    assert _sequence(full) == _sequence(one)
    states_one = [m for m in one.messages if m["type"] == "STATE"]
    states_many = [m for m in full.messages if m["type"] == "STATE"]
    assert states_one == states_many, "STATE at the same points, covering the same work"
