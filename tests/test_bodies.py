"""Bodies of the wrong shape stop the run with one named error; nothing is read as empty."""

from __future__ import annotations

import json

import pytest

from tap_rest.sandbox import Sandbox
from tests.conftest import run_tap

JSON = [("Content-Type", "application/json")]
SCHEMA = {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}


def declared(sb: Sandbox, records_path: str = "$[*]") -> dict:
    stream = {
        "name": "things",
        "base_url": f"{sb.url}/canned",
        "path": "/things",
        "records_path": records_path,
        "primary_keys": ["id"],
        "schema": SCHEMA,
    }
    return {"streams": [stream]}


@pytest.mark.parametrize(
    ("body", "records_path", "expected"),
    [
        (None, "$[*]", "returned 200 with null where a list of records was expected"),
        (
            {"id": 1},
            "$[*]",
            "returned 200 with an object (keys: id) where a list of records was expected",
        ),
        (["a"], "$[*]", "with record #1 a str ('a'), not an object"),
        ([{"id": 1}, None], "$[*]", "with record #2 null, not an object"),
        ({"data": None}, "$.data[*]", "with null where a list of records was expected"),
        ({"data": "x"}, "$.data[*]", "with a str ('x') where a list of records was expected"),
        ({"error": "quota"}, "$.data[*]", "with an error instead of records"),
        ({"ok": False, "error": "ratelimited"}, "$.data[*]", "with an error instead of records"),
        ([{"name": "no key"}], "$[*]", "a record has no 'id' (a key property)"),
        ([{"id": None, "name": "null key"}], "$[*]", "a record has no 'id' (a key property)"),
    ],
)
def test_a_body_of_the_wrong_shape_is_a_named_error(tmp_path, body, records_path, expected) -> None:
    with Sandbox() as sb:
        sb.server.canned["things"] = (200, JSON, json.dumps(body).encode())
        run = run_tap(tmp_path, declared(sb, records_path))
    assert run.returncode == 1
    assert "Stream 'things'" in run.stderr
    assert expected in run.stderr, run.stderr[-1500:]
    assert "Traceback" not in run.stderr
    if "key property" not in expected:
        assert f"GET {sb.url}/canned/things" in run.stderr
    assert not run.of_type("RECORD")


def test_no_content_is_an_empty_page(tmp_path) -> None:
    with Sandbox() as sb:
        sb.server.canned["things"] = (204, [], b"")
        run = run_tap(tmp_path, declared(sb))
    assert run.returncode == 0, run.stderr[-1500:]
    assert not run.of_type("RECORD")


def test_an_empty_collection_left_out_is_an_empty_page(tmp_path) -> None:
    # HAL leaves _embedded out when a collection is empty.
    with Sandbox() as sb:
        sb.server.canned["things"] = (200, JSON, b'{"_links": {"self": {"href": "/things"}}}')
        run = run_tap(tmp_path, declared(sb, "$._embedded.things[*]"))
    assert run.returncode == 0, run.stderr[-1500:]
    assert not run.of_type("RECORD")


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        ("posts", [{"userId": 1, "title": "no id"}], "Stream 'posts': a record has no 'id'"),
        (
            "posts/1/comments",
            {"id": 1},
            "an object (keys: id) where a list of records was expected",
        ),
        ("posts/1/comments", None, "null where a list of records was expected"),
    ],
)
def test_built_in_streams_name_a_wrong_body_too(tmp_path, path, body, expected) -> None:
    with Sandbox() as sb:
        sb.server.canned["jp/posts"] = (200, JSON, b'[{"id": 1, "title": "t"}]')
        sb.server.canned[f"jp/{path}"] = (200, JSON, json.dumps(body).encode())
        config = {
            "jsonplaceholder_url": f"{sb.url}/canned/jp",
            "builtin_streams": ["post_comments"],
        }
        run = run_tap(tmp_path, config)
    assert run.returncode == 1
    assert expected in run.stderr, run.stderr[-1500:]
    assert "Traceback" not in run.stderr


def test_a_whole_body_with_nan_is_read_not_retried(tmp_path) -> None:
    # Python APIs write NaN and Infinity, which strict JSON refuses: the body is whole.
    with Sandbox() as sb:
        sb.server.canned["things"] = (200, JSON, b'[{"id": 1, "name": "x", "score": NaN}]')
        run = run_tap(tmp_path, declared(sb))
        asked = sum(sb.server.requests.values())
    assert run.returncode == 0, run.stderr[-1500:]
    assert [r["id"] for r in run.records["things"]] == [1]
    assert asked == 1, "not retried as a body cut short"
