"""Credentials stay with their API's origin: no link, redirect or STATE takes them elsewhere."""

from __future__ import annotations

import json

import pytest

from tap_rest.sandbox import Sandbox
from tap_rest.sandbox.auth import AuthSpec
from tap_rest.scope import same_origin
from tap_rest.tap import TapRest
from tests.conftest import run_tap
from tests.test_auth import MODES, SECRETS, server_mode, tap_auth

EVIL_PATH = "/generic/offset?total=5&limit=10"


def test_same_origin() -> None:
    assert same_origin("https://api.test/v1", "https://api.test:443/v2?x=1")
    assert same_origin("http://api.test", "https://api.test/x"), "an upgrade to https"
    assert not same_origin("https://api.test", "http://api.test/x"), "a downgrade"
    assert not same_origin("https://api.test", "https://api.test:8443/x")
    assert not same_origin("https://api.test", "https://evil.test/x")
    assert not same_origin("https://api.test", "https://api.test.evil.test/x")
    assert same_origin("http://127.0.0.1:8080", "http://127.0.0.1:8080/x")
    assert not same_origin("http://127.0.0.1:8080", "http://127.0.0.1:8081/x")


def leaked(evil: Sandbox) -> list[str]:
    """Return what of the API's credentials reached the other host."""
    found = []
    for path, headers in evil.server.seen:
        text = path + json.dumps(headers)
        found += [s for s in SECRETS if s in text]
        found += [h for h in headers if h.lower() in ("authorization", "x-api-key")]
    return found


def stream(api_url: str, first_page: str, **paginator: str) -> dict:
    return {
        "name": "items",
        "api": "api",
        "path": first_page,
        "records_path": "$[*]",
        "primary_keys": ["id"],
        "paginator": {"type": "link_header", **paginator},
        "schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
    }


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("allowed", [False, True])
def test_a_next_link_to_another_host_never_gets_a_credential(tmp_path, mode, allowed) -> None:
    with Sandbox(auth=AuthSpec(mode=server_mode(mode))) as api, Sandbox() as evil:
        evil_host = evil.url.removeprefix("http://")
        api.server.canned["page1"] = (
            200,
            [
                ("Content-Type", "application/json"),
                ("Link", f'<{evil.url}/canned/items?page=2>; rel="next"'),
            ],
            b'[{"id": 1}]',
        )
        evil.server.canned["items"] = (200, [("Content-Type", "application/json")], b"[]")
        entry = {"base_url": api.url, "auth": tap_auth(mode, api)}
        if allowed:
            entry["allowed_hosts"] = [evil_host]
        config = {"apis": {"api": entry}, "streams": [stream(api.url, "/canned/page1")]}
        run = run_tap(tmp_path, config)
        # the page on the other host is /canned/items?page=2
        asked_evil = [p for p, _ in evil.server.seen]
        found = leaked(evil)
    assert not found, f"{mode}: {found} reached another host"
    assert not any(s in run.stderr for s in SECRETS)
    if allowed:
        assert run.returncode == 0, run.stderr[-2000:]
        assert asked_evil, "an allowed host is followed (without credentials)"
    else:
        assert run.returncode == 1
        assert not asked_evil
        assert f"the next page is on another host ({evil_host}) than the API's" in run.stderr
        assert "refused, so that its credentials go nowhere else" in run.stderr
        assert f"add '{evil_host}' to apis.api.allowed_hosts" in run.stderr
        assert "Traceback" not in run.stderr


@pytest.mark.parametrize("mode", MODES)
def test_a_redirect_to_another_host_loses_every_credential(tmp_path, mode) -> None:
    with Sandbox(auth=AuthSpec(mode=server_mode(mode))) as api, Sandbox() as evil:
        api.server.canned["page1"] = (302, [("Location", f"{evil.url}/canned/items")], b"")
        evil.server.canned["items"] = (200, [("Content-Type", "application/json")], b"[]")
        config = {
            "apis": {"api": {"base_url": api.url, "auth": tap_auth(mode, api)}},
            "streams": [stream(api.url, "/canned/page1")],
        }
        run = run_tap(tmp_path, config)
        asked_evil = [p for p, _ in evil.server.seen]
        found = leaked(evil)
    assert run.returncode == 0, run.stderr[-2000:]
    assert asked_evil == ["/canned/items"]
    assert not found, f"{mode}: {found} reached another host"


@pytest.mark.parametrize("mode", MODES)
def test_a_state_that_names_another_host_takes_no_credential_there(tmp_path, mode) -> None:
    with Sandbox(auth=AuthSpec(mode=server_mode(mode))) as api, Sandbox() as evil:
        state = {
            "tap_rest_run": {
                "completed": [],
                "current": {
                    "stream": "posts",
                    "next": {"url": f"{evil.url}/posts?_page=9&_limit=10", "params": []},
                },
            }
        }
        (tmp_path / "state.json").write_text(json.dumps(state))
        config = {
            "jsonplaceholder_url": api.url,
            "builtin_streams": ["posts"],
            "auth": tap_auth(mode, api),
        }
        run = run_tap(tmp_path, config, "--state", str(tmp_path / "state.json"))
        asked_evil = [p for p, _ in evil.server.seen]
    assert run.returncode == 0, run.stderr[-2000:]
    assert not asked_evil, "the page is asked of the API's own host"
    assert [p["id"] for p in run.records["posts"]] == list(range(81, 101))


def test_state_pages_are_relative_and_resume_against_a_moved_api(tmp_path, config) -> None:
    with Sandbox() as first:
        moved = {**config, "pokeapi_url": first.pokeapi_url, "builtin_streams": ["abilities"]}
        run = run_tap(tmp_path, {**moved, "page_size": 100})
    pages = [
        m["value"]["tap_rest_run"]["current"]["next"]
        for m in run.of_type("STATE")
        if (m["value"].get("tap_rest_run") or {}).get("current")
    ]
    assert pages[0] == {"path": "/ability/?offset=100&limit=100", "params": []}
    assert not any("127.0.0.1" in json.dumps(p) for p in pages), "no host in STATE"
    # The API moved (another port): both a relative page and an old absolute one resume there.
    for page in (pages[-1], {"url": "http://127.0.0.1:9/api/v2/ability/?offset=300&limit=100"}):
        state = {
            "tap_rest_run": {"completed": [], "current": {"stream": "abilities", "next": page}}
        }
        (tmp_path / "state.json").write_text(json.dumps(state))
        resumed = run_tap(
            tmp_path,
            {**config, "builtin_streams": ["abilities"]},
            "--state",
            str(tmp_path / "state.json"),
        )
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        assert len(resumed.records["abilities"]) == 73


def test_requests_are_prepared_without_credentials(config) -> None:
    tap = TapRest(config={**config, "auth": {"type": "bearer", "token": "abcd-1234-token"}})
    posts = tap.streams["posts"]
    prepared = posts.build_prepared_request(method="GET", url=f"{config['jsonplaceholder_url']}/x")
    assert "Authorization" not in prepared.headers
    assert posts.requests_session.auth is None, "the shared session carries no authenticator"


def test_an_api_key_echoed_in_a_link_to_an_allowed_host_goes_no_further(tmp_path) -> None:
    with Sandbox(auth=AuthSpec(mode="api_key")) as api, Sandbox() as other:
        api.server.canned["page1"] = (
            200,
            [
                ("Content-Type", "application/json"),
                (
                    "Link",
                    f'<{other.url}/canned/p2?page=2&api_key={AuthSpec().api_key}>; rel="next"',
                ),
            ],
            b'[{"id": 1}]',
        )
        other.server.canned["p2"] = (200, [("Content-Type", "application/json")], b'[{"id": 2}]')
        entry = {
            "base_url": api.url,
            "auth": tap_auth("api_key_query", api),
            "allowed_hosts": [other.url.removeprefix("http://")],
        }
        run = run_tap(
            tmp_path, {"apis": {"api": entry}, "streams": [stream(api.url, "/canned/page1")]}
        )
        found = leaked(other)
        asked = [p for p, _ in other.server.seen]
    assert run.returncode == 0, run.stderr[-2000:]
    assert asked == ["/canned/p2?page=2"]
    assert not found
