"""Placeholders: parent fields by name, dotted path or JSONPath, filled into paths, params and
JSON bodies; a field that resolves to nothing stops the run with one line."""

from __future__ import annotations

import pytest

from tap_rest.errors import ParentFieldError
from tap_rest.placeholders import (
    child_context,
    fill,
    fill_json,
    fill_params,
    names,
    names_in,
    parent_values,
)

REPO = {"id": 7, "name": "tap", "owner": {"login": "meltano", "site": None}, "tags": ["a"]}


def resolve(fields: dict[str, str], record: dict | None = None) -> dict:
    context = child_context("repos", ["id"], record or REPO)
    return parent_values("issues", fields, context)


def test_a_field_by_name_dotted_path_or_jsonpath() -> None:
    found = resolve({"repo": "name", "owner": "owner.login", "login": "$.owner.login"})
    assert found == {"repo": "tap", "owner": "meltano", "login": "meltano"}


def test_a_top_level_name_with_a_dot_wins_over_a_path() -> None:
    assert resolve({"v": "a.b"}, {"id": 1, "a.b": "flat", "a": {"b": "nested"}}) == {"v": "flat"}


@pytest.mark.parametrize(
    ("field", "problem"),
    [
        ("owner.email", "has no field 'owner.email'"),
        ("$.owner.email", "has no field '$.owner.email'"),
        ("owner.site", "has null at 'owner.site'"),
        ("owner", "has an object at 'owner'"),
        ("tags", "has a list at 'tags'"),
    ],
)
def test_a_field_that_resolves_to_nothing_names_stream_key_and_field(field, problem) -> None:
    with pytest.raises(ParentFieldError) as caught:
        resolve({"x": field})
    assert str(caught.value) == (
        f"Stream 'issues': the 'repos' record {{\"id\": 7}} {problem} (parent.fields.x), "
        "so {x} cannot be filled"
    )


def test_a_resolved_context_is_kept() -> None:
    assert parent_values("issues", {"owner": "owner.login"}, {"owner": "meltano"}) == {
        "owner": "meltano"
    }


def test_fill_a_path_params_and_a_json_body() -> None:
    values = {"owner": "me/you", "id": 7, "open": True, "q": "a b"}
    assert fill("/repos/{owner}/{id}/issues", values, in_path=True) == "/repos/me/you/7/issues"
    assert fill("/search/{q}", values, in_path=True) == "/search/a%20b"
    assert fill_params(
        {"id": "{id}", "state": "{open}", "ids": ["{id}", 8], "f": False}, values
    ) == {
        "id": "7",
        "state": "true",
        "ids": ["7", "8"],
        "f": "false",
    }
    body = {"query": {"term": {"repo_id": "{id}"}}, "text": "repo {id} of {owner}", "n": 1}
    assert fill_json(body, values) == {
        "query": {"term": {"repo_id": 7}},
        "text": "repo 7 of me/you",
        "n": 1,
    }


def test_braces_that_are_not_placeholders_are_left_alone() -> None:
    graphql = "query($after: String) { issues(after: $after) { nodes { id } } }"
    assert names(graphql) == []
    assert fill(graphql, {}) == graphql
    assert fill('{"a": 1}', {}) == '{"a": 1}'
    assert fill("{{id}} is {id}", {"id": 3}) == "{id} is 3"
    assert names("{{id}}") == []
    assert names_in({"a": ["{x}", {"b": "{y}"}], "c": 1}) == ["x", "y"]
