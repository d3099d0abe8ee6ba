"""The README's usage examples, run as written: settings table, env config, stream maps."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

from tap_rest.sandbox import Sandbox
from tap_rest.sandbox.auth import AuthSpec
from tap_rest.tap import TapRest
from tests.conftest import ROOT, run_tap
from tests.test_catalog import discover, select
from tests.test_meltano import flat_settings


def test_readme_settings_table_is_current() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "update_readme.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_config_from_environment_variables(tmp_path, sandbox) -> None:
    env = {
        **os.environ,
        "TAP_REST_JSONPLACEHOLDER_URL": sandbox.url,
        "TAP_REST_POKEAPI_URL": sandbox.pokeapi_url,
        "TAP_REST_POST_IDS": "[2, 3]",
    }
    catalog = select(discover(tmp_path, {"jsonplaceholder_url": sandbox.url}), {"posts"})
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tap_rest",
            "--config",
            "ENV",
            "--catalog",
            str(tmp_path / "catalog.json"),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    records = [json.loads(line) for line in proc.stdout.splitlines() if '"RECORD"' in line]
    assert [r["record"]["id"] for r in records] == [2, 3]


def test_stream_maps_filter_and_hash(tmp_path, config) -> None:
    maps = {
        "posts": {"__filter__": "userId <= 2"},
        "post_comments": {"email": "md5(email)"},
    }
    catalog = select(discover(tmp_path, config), {"posts", "post_comments"})
    plain = run_tap(tmp_path, config, catalog=catalog)
    mapped = run_tap(tmp_path, {**config, "stream_maps": maps}, catalog=catalog)
    assert mapped.returncode == 0, mapped.stderr[-2000:]
    assert {p["userId"] for p in mapped.records["posts"]} == {1, 2}
    assert len(mapped.records["posts"]) == 20
    first_plain, first_mapped = (
        plain.records["post_comments"][0],
        mapped.records["post_comments"][0],
    )
    assert first_mapped["email"] == hashlib.md5(first_plain["email"].encode()).hexdigest()


def test_environment_values_are_typed_by_the_schema(monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the project's around
    monkeypatch.setenv("TAP_REST_REQUEST_TIMEOUT", "12.5")
    monkeypatch.setenv("TAP_REST_PAGE_SIZE", "7")
    monkeypatch.setenv("TAP_REST_AUTH_TYPE", "api_key")
    monkeypatch.setenv("TAP_REST_AUTH_NAME", "X-Key")
    monkeypatch.setenv("TAP_REST_AUTH_VALUE", "k-123456")
    monkeypatch.setenv("TAP_REST_SKIP_STATUSES", '{"posts": [404]}')
    tap = TapRest(config=None, parse_env_config=True)
    assert tap.config["request_timeout"] == 12.5
    assert tap.config["page_size"] == 7
    assert tap.config["auth"] == {"type": "api_key", "name": "X-Key", "value": "k-123456"}
    assert tap.config["skip_statuses"] == {"posts": [404]}
    monkeypatch.setenv("TAP_REST_AUTH", '{"type": "bearer", "token": "t-123456"}')
    assert TapRest(config=None, parse_env_config=True).config["auth"]["type"] == "bearer"


def test_an_unreadable_environment_value_names_the_variable(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = {**os.environ, "TAP_REST_PAGE_SIZE": "ten"}
    proc = subprocess.run(
        [sys.executable, "-m", "tap_rest", "--config", "ENV", "--discover"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "TAP_REST_PAGE_SIZE: cannot read 'ten' as integer" in proc.stderr


def test_env_example_lists_every_setting() -> None:
    names = {
        line.split("=", 1)[0].lstrip("# ").strip()
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "=" in line
    }
    settings = flat_settings(
        TapRest(config={}, validate_config=False).config_jsonschema["properties"]
    )
    expected = {"TAP_REST_" + name.upper().replace(".", "_") for name in settings}
    assert names >= expected, sorted(expected - names)


def test_fractional_numbers_in_a_config_file_are_numbers(tmp_path) -> None:
    # Meltano passes config as a file; the SDK reads its decimals as Decimal.
    spec = AuthSpec(mode="oauth2")
    with Sandbox(auth=spec) as sb:
        config = {
            "jsonplaceholder_url": sb.url,
            "builtin_streams": ["users", "posts"],
            "requests_per_second": 50.5,
            "rate_limit_burst": 5,
            "request_timeout": 30.5,
            "backoff_factor": 0.25,
            "max_wait": 1.5,
            "max_retry_after": 10.5,
            "max_retry_time": 60.5,
            "auth": {
                "type": "oauth2_client_credentials",
                "token_url": sb.token_url,
                "client_id": spec.client_id,
                "client_secret": spec.client_secret,
                "refresh_margin": 0.5,
            },
            "streams": [
                {
                    "name": "items",
                    "base_url": sb.url,
                    "path": "/generic/offset?total=5&limit=10",
                    "records_path": "$.items[*]",
                    "primary_keys": ["id"],
                    "schema": {
                        "type": "object",
                        "properties": {"id": {"type": "integer", "minimum": 0.5}},
                    },
                }
            ],
        }
        run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr[-2000:]
    assert dict(run.counts) == {"users": 10, "posts": 100, "items": 5}
    schema = next(m for m in run.of_type("SCHEMA") if m["stream"] == "items")["schema"]
    assert schema["properties"]["id"]["minimum"] == 0.5
