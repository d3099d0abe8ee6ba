"""Every mistake ends in one clear line: the culprit named, no traceback, exit non-zero.

Each bad input runs as ``--discover`` (which Meltano runs before every sync) and as a sync with
a catalog, as users and Meltano run the tap.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import typing as t
from pathlib import Path

import pytest

from tap_rest.sandbox import Sandbox
from tests.test_catalog import discover

GOOD_STREAM = {
    "name": "orders",
    "base_url": "http://127.0.0.1:9/shop",
    "path": "/orders",
    "primary_keys": ["id"],
    "schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
}

# name -> (config changes, the line the run must print)
BAD_CONFIGS: dict[str, tuple[dict[str, t.Any], str]] = {
    "negative page size": ({"page_size": -5}, "page_size: -5 is less than the minimum of 1"),
    "page size of the wrong type": ({"page_size": "ten"}, "page_size: 'ten' is not an integer"),
    "zero concurrency": ({"max_concurrency": 0}, "max_concurrency: 0 is less than the minimum"),
    "negative timeout": ({"request_timeout": -1}, "request_timeout: -1 is less than or equal"),
    "unknown auth type": ({"auth": {"type": "magic"}}, "auth.type: 'magic' is not one of"),
    "auth field missing": (
        {"auth": {"type": "bearer"}},
        "auth.token: required when auth.type is 'bearer'",
    ),
    "auth field misspelled": (
        {"auth": {"type": "bearer", "token": "t0k3n-abcdef", "tokne": "x"}},
        "auth.tokne: not a field of auth.type 'bearer'",
    ),
    "URL without a scheme": (
        {"jsonplaceholder_url": "127.0.0.1:8080"},
        "jsonplaceholder_url: '127.0.0.1:8080' is not a URL with a scheme and a host",
    ),
    "URL with a wrong scheme": (
        {"pokeapi_url": "htp://127.0.0.1/api/v2"},
        "pokeapi_url: 'htp://127.0.0.1/api/v2' is not a URL with a scheme and a host",
    ),
    "unknown stream in query_params": (
        {"query_params": {"postz": {"userId": 1}}},
        "query_params: unknown stream(s) 'postz'",
    ),
    "unknown stream in skip_statuses": (
        {"skip_statuses": {"comments": [404]}},
        "skip_statuses: unknown stream(s) 'comments'",
    ),
    "unknown built-in stream": (
        {"builtin_streams": ["postz"]},
        "builtin_streams[#1]: 'postz' is not one of posts",
    ),
    "unknown paginator type": (
        {"streams": [{**GOOD_STREAM, "paginator": {"type": "pages"}}]},
        "streams[orders].paginator.type: 'pages' is not one of single, offset, page",
    ),
    "definition without primary keys": (
        {"streams": [{k: v for k, v in GOOD_STREAM.items() if k != "primary_keys"}]},
        "streams[orders].primary_keys: required",
    ),
    "broken JSONPath": (
        {"streams": [{**GOOD_STREAM, "records_path": "$.data[*"}]},
        "streams[orders].records_path: '$.data[*' is not a JSONPath",
    ),
    "unknown definition field": (
        {"streams": [{**GOOD_STREAM, "recordspath": "$[*]"}]},
        "streams[orders].recordspath: not a field of streams[orders]",
    ),
    "unknown API": (
        {"streams": [{**GOOD_STREAM, "api": "shop"}]},
        "streams[orders].api: no API named 'shop' in apis",
    ),
    "API without base_url": ({"apis": {"shop": {}}}, "apis.shop.base_url: required"),
    "invalid rate limit pattern": (
        {"rate_limit_pattern": "(("},
        "rate_limit_pattern: '((' is not a regular expression",
    ),
    "unknown schema evolution mode": (
        {"schema_evolution": {"users": "sometimes"}},
        "schema_evolution.users: 'sometimes' is not one of evolve, freeze",
    ),
}


def tap(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tap_rest", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )


def one_clear_line(proc: subprocess.CompletedProcess, expected: str) -> None:
    assert proc.returncode != 0, proc.stderr
    assert f"tap-rest: error: {expected}" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) <= 6, "\n".join(lines)


@pytest.fixture(scope="module")
def good(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    """A good config on the sandbox, and a catalog discovered from it."""
    folder = tmp_path_factory.mktemp("good")
    config = {"jsonplaceholder_url": sandbox.url, "pokeapi_url": sandbox.pokeapi_url}
    catalog = folder / "catalog.json"
    catalog.write_text(json.dumps(discover(folder, config)))
    return config, catalog


@pytest.mark.parametrize("mode", ["discover", "sync"])
@pytest.mark.parametrize("case", list(BAD_CONFIGS))
def test_a_bad_setting_is_one_line_naming_it(tmp_path, good, case, mode) -> None:
    config, catalog = good
    changes, expected = BAD_CONFIGS[case]
    (tmp_path / "config.json").write_text(json.dumps({**config, **changes}))
    args = ["--discover"] if mode == "discover" else ["--catalog", str(catalog)]
    one_clear_line(tap(tmp_path, "--config", "config.json", *args), expected)


BAD_FILES: dict[str, tuple[str, str, str]] = {
    # name -> (which file, its text, the line)
    "config not JSON": ("config", '{"page_size": 5,}', "config file 'bad.json' is not JSON: "),
    "config not an object": ("config", "[]", "config file 'bad.json' must hold a JSON object"),
    "catalog not JSON": ("catalog", "{", "catalog 'bad.json' is not JSON: "),
    "catalog a list": ("catalog", "[]", "catalog 'bad.json' must hold a JSON object, not list"),
    "catalog streams not a list": (
        "catalog",
        '{"streams": "x"}',
        "catalog 'bad.json': 'streams' must be a list of stream entries",
    ),
    "catalog entry without id": (
        "catalog",
        '{"streams": [{"schema": {}}]}',
        "catalog 'bad.json': streams[0] is not an entry with a tap_stream_id",
    ),
    "state not JSON": ("state", "{'bookmarks': 1}", "state 'bad.json' is not JSON: "),
    "state bookmarks not an object": (
        "state",
        '{"bookmarks": []}',
        "state 'bad.json': 'bookmarks' must be an object",
    ),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_file_is_one_line_naming_it(tmp_path, good, case) -> None:
    config, catalog = good
    which, text, expected = BAD_FILES[case]
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "bad.json").write_text(text)
    files = {"config": "config.json", "catalog": str(catalog), "state": None, which: "bad.json"}
    args = ["--config", files["config"], "--catalog", files["catalog"]]
    if files["state"]:
        args += ["--state", files["state"]]
    one_clear_line(tap(tmp_path, *args), expected)
    if which == "config":
        one_clear_line(tap(tmp_path, "--config", "bad.json", "--discover"), expected)


def test_a_missing_config_file_is_named(tmp_path) -> None:
    one_clear_line(tap(tmp_path, "--config", "nope.json"), "config file 'nope.json' not found")
    one_clear_line(
        tap(tmp_path, "--config", "nope.json", "--discover"), "config file 'nope.json' not found"
    )


def test_a_catalog_that_selects_an_unknown_stream_is_named(tmp_path, good) -> None:
    config, catalog = good
    entries = json.loads(catalog.read_text())
    entries["streams"][0]["tap_stream_id"] = entries["streams"][0]["stream"] = "postz"
    (tmp_path / "catalog.json").write_text(json.dumps(entries))
    (tmp_path / "config.json").write_text(json.dumps(config))
    proc = tap(tmp_path, "--config", "config.json", "--catalog", "catalog.json")
    one_clear_line(proc, "catalog: stream 'postz' is selected but the config has no such stream")


@pytest.mark.parametrize(
    ("url", "reason"),
    [("http://127.0.0.1:9", "connection refused"), ("http://no-such-host.invalid", "unknown host")],
)
def test_an_api_nobody_answers_gives_up_in_seconds(tmp_path, url, reason) -> None:
    (tmp_path / "config.json").write_text(
        json.dumps({"jsonplaceholder_url": url, "builtin_streams": ["users"]})
    )
    started = time.monotonic()
    proc = tap(tmp_path, "--config", "config.json")
    assert time.monotonic() - started < 30
    one_clear_line(proc, f"cannot connect to {url}/users?_page=1&_limit=100 ({reason}): ")
    assert "is jsonplaceholder_url right?" in proc.stderr
    # Schema inference at discovery gives up as soon.
    declared = {**GOOD_STREAM, "base_url": url}
    del declared["schema"]
    (tmp_path / "config.json").write_text(json.dumps({"streams": [declared]}))
    started = time.monotonic()
    proc = tap(tmp_path, "--config", "config.json", "--discover")
    assert time.monotonic() - started < 30
    one_clear_line(proc, f"cannot connect to {url}/orders ({reason}): ")
    assert "is streams[orders].base_url right?" in proc.stderr


def test_an_unknown_setting_is_a_warning_with_the_closest_known_one(tmp_path, good) -> None:
    config, _ = good
    (tmp_path / "config.json").write_text(json.dumps({**config, "pagesize": 50}))
    proc = tap(tmp_path, "--config", "config.json", "--discover")
    assert proc.returncode == 0, proc.stderr
    assert "pagesize: not a setting of tap-rest, ignored; did you mean 'page_size'?" in proc.stderr


def test_a_debug_run_shows_the_traceback(tmp_path) -> None:
    (tmp_path / "config.json").write_text(
        json.dumps({"jsonplaceholder_url": "http://127.0.0.1:9", "builtin_streams": ["users"]})
    )
    proc = tap(tmp_path, "--config", "config.json", "--log-level", "debug")
    assert proc.returncode == 1
    assert "tap-rest: error: cannot connect to" in proc.stderr
    assert "DEBUG" in proc.stderr


def test_an_api_that_speaks_no_tls_gives_up_in_seconds(tmp_path, sandbox) -> None:
    # https:// to a server that answers plain HTTP: the handshake can never succeed.
    url = sandbox.url.replace("http://", "https://")
    (tmp_path / "config.json").write_text(
        json.dumps({"jsonplaceholder_url": url, "builtin_streams": ["users"]})
    )
    started = time.monotonic()
    proc = tap(tmp_path, "--config", "config.json")
    assert time.monotonic() - started < 30
    one_clear_line(proc, f"cannot connect to {url}/users?_page=1&_limit=100 (TLS handshake failed")
