"""Discovery and catalog-driven stream selection."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

from tests.conftest import DEFAULT_COUNTS, run_tap

KEYS = {
    "posts": ["id"],
    "post_comments": ["id"],
    "albums": ["id"],
    "album_photos": ["id"],
    "todos": ["id"],
    "users": ["id"],
    "abilities": ["id"],
    "ability_details": ["id"],
}


def discover(tmp_path, config: dict) -> dict:
    (tmp_path / "config.json").write_text(json.dumps(config))
    out = subprocess.run(
        [sys.executable, "-m", "tap_rest", "--config", str(tmp_path / "config.json"), "--discover"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(out.stdout)


def select(catalog: dict, streams: set[str]) -> dict:
    """Return a copy of the catalog with exactly these streams (and all their fields) selected."""
    catalog = copy.deepcopy(catalog)
    for entry in catalog["streams"]:
        for md in entry["metadata"]:
            if not md["breadcrumb"]:
                md["metadata"]["selected"] = entry["tap_stream_id"] in streams
    return catalog


def test_discover_lists_every_stream_with_its_key_properties(tmp_path, config) -> None:
    catalog = discover(tmp_path, config)
    found = {e["tap_stream_id"]: e for e in catalog["streams"]}
    assert set(found) == set(DEFAULT_COUNTS)
    for name, entry in found.items():
        top = next(m for m in entry["metadata"] if not m["breadcrumb"])
        assert top["metadata"]["table-key-properties"] == KEYS[name], name
        assert entry["key_properties"] == KEYS[name]
        assert entry["schema"]["properties"]["id"]["type"] in ("integer", ["integer"])
        assert "id" in entry["schema"]["required"]


def test_discover_needs_no_reachable_api(tmp_path) -> None:
    config = {"jsonplaceholder_url": "http://127.0.0.1:9", "pokeapi_url": "http://127.0.0.1:9"}
    assert len(discover(tmp_path, config)["streams"]) == len(DEFAULT_COUNTS)


def test_selecting_only_a_child_emits_only_the_child(tmp_path, config) -> None:
    run = run_tap(tmp_path, config, catalog=select(discover(tmp_path, config), {"post_comments"}))
    assert run.returncode == 0, run.stderr[-2000:]
    assert dict(run.counts) == {"post_comments": 500}
    assert {m["stream"] for m in run.of_type("SCHEMA")} == {"post_comments"}


def test_selecting_nothing_emits_no_records(tmp_path, config, sandbox) -> None:
    sandbox.server.requests.clear()
    run = run_tap(tmp_path, config, catalog=select(discover(tmp_path, config), set()))
    assert run.returncode == 0, run.stderr[-2000:]
    assert not run.of_type("RECORD")
    assert not run.of_type("SCHEMA")
    assert not sandbox.server.requests


def test_deselected_field_is_left_out(tmp_path, config) -> None:
    catalog = select(discover(tmp_path, config), {"users"})
    entry = next(e for e in catalog["streams"] if e["tap_stream_id"] == "users")
    for md in entry["metadata"]:
        if md["breadcrumb"] == ["properties", "phone"]:
            md["metadata"]["selected"] = False
    run = run_tap(tmp_path, config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-2000:]
    users = run.records["users"]
    assert len(users) == 10
    assert all("phone" not in u and "email" in u for u in users)


def test_about_markdown_needs_no_config() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "tap_rest", "--about", "--format=markdown"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    for setting in (
        "jsonplaceholder_url",
        "pokeapi_url",
        "page_size",
        "request_timeout",
        "user_agent",
        "post_ids",
        "ability_ids",
        "query_params",
    ):
        assert setting in out.stdout
