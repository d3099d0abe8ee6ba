"""OAuth 2.0 refresh tokens: short access tokens, refresh tokens rotated on every use and kept
in a token store from one run to the next, refusals said in one line, no token in any output."""

from __future__ import annotations

import json
import stat
import time
import typing as t

import pytest

from tap_rest.errors import AuthError
from tap_rest.oauth import _seconds
from tap_rest.sandbox import Sandbox
from tap_rest.sandbox.auth import AuthSpec
from tap_rest.sandbox.faults import FaultSpec
from tap_rest.token_store import TokenStore
from tests.conftest import run_tap
from tests.test_catalog import discover, select

SPEC = AuthSpec()
JSONPLACEHOLDER = {"posts", "post_comments", "albums", "album_photos", "todos", "users"}


def refresh_auth(sb: Sandbox, store: t.Any = None, **changes: object) -> dict:
    auth = {
        "type": "oauth2_refresh_token",
        "token_url": sb.token_url,
        "client_id": SPEC.client_id,
        "client_secret": SPEC.client_secret,
        "refresh_token": SPEC.refresh_token,
    }
    if store is not None:
        auth["token_store"] = str(store)
    return {**auth, **changes}


def config(sb: Sandbox, auth: dict, **extra: object) -> dict:
    return {"jsonplaceholder_url": sb.url, "pokeapi_url": sb.pokeapi_url, "auth": auth, **extra}


def leaked(sb: Sandbox, *outputs: str) -> list[str]:
    """Return the tokens the sandbox issued (and the first refresh token) found in outputs."""
    text = "\n".join(outputs)
    return [token for token in [SPEC.refresh_token, *sb.server.auth.issued] if token in text]


def test_a_30_second_run_and_the_next_both_go_on_rotated_refresh_tokens(
    tmp_path, full_run, monkeypatch
) -> None:
    monkeypatch.setenv("LOGLEVEL", "DEBUG")
    store = tmp_path / "secrets" / "token.json"
    spec = AuthSpec(mode="oauth2", token_lifetime=2.0)
    with Sandbox(auth=spec, faults=FaultSpec(latency_ms=140)) as sb:
        settings = config(sb, refresh_auth(sb, store), page_size=10, max_concurrency=4)
        catalog = discover(tmp_path, settings)
        started = time.monotonic()
        first = run_tap(tmp_path, settings, catalog=select(catalog, JSONPLACEHOLDER))
        seconds = time.monotonic() - started
        refreshes = sb.server.auth.refreshes
        second = run_tap(tmp_path, settings, catalog=select(catalog, {"users", "todos"}))
        kept = json.loads(store.read_text())["refresh_token"]
        valid = set(sb.server.auth.refresh_tokens)
        refused = sb.server.auth.refused_refreshes
        tokens = leaked(sb, first.stdout, first.stderr, second.stdout, second.stderr)
    assert first.returncode == 0, first.stderr[-3000:]
    assert second.returncode == 0, second.stderr[-3000:]
    assert first.records == {s: full_run.records[s] for s in JSONPLACEHOLDER}
    assert dict(second.counts) == {"users": 10, "todos": 200}
    assert seconds > 20, f"a run that outlives many access tokens ({seconds:.0f} s)"
    assert refreshes >= 10, "two-second access tokens over a long run: many refreshes"
    assert refused == 0, "no refresh token was spent twice, by two threads or two runs"
    assert valid == {kept}, "the store holds the one refresh token the server accepts"
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert [p.name for p in store.parent.iterdir()] == ["token.json"], "no temporary file left"
    assert "DEBUG" in first.stderr
    assert tokens == [], "a token reached the output"


def test_the_next_run_starts_from_the_kept_refresh_token(tmp_path) -> None:
    store = tmp_path / "token.json"
    with Sandbox(auth=AuthSpec(mode="oauth2")) as sb:
        settings = config(sb, refresh_auth(sb, store))
        catalog = select(discover(tmp_path, settings), {"users"})
        runs = [run_tap(tmp_path, settings, catalog=catalog) for _ in range(3)]
        refreshes, refused = sb.server.auth.refreshes, sb.server.auth.refused_refreshes
        kept = json.loads(store.read_text())["refresh_token"]
        valid = set(sb.server.auth.refresh_tokens)
    assert [r.returncode for r in runs] == [0, 0, 0], runs[-1].stderr[-2000:]
    assert all(r.counts == {"users": 10} for r in runs)
    assert (refreshes, refused) == (3, 0), "one refresh a run, each from the last one's token"
    assert valid == {kept}


def test_a_refused_refresh_token_says_to_re_authorise_in_one_line(tmp_path) -> None:
    with Sandbox(auth=AuthSpec(mode="oauth2")) as sb:
        auth = refresh_auth(sb, refresh_token="revoked-refresh-token-00aa")
        run = run_tap(tmp_path, config(sb, auth))
        data_requests = sum(sb.server.requests.values())
    assert run.returncode == 1
    refusals = [line for line in run.stderr.splitlines() if "re-authorise" in line]
    assert len(refusals) == 1, run.stderr[-3000:]
    assert (
        f"auth: the OAuth token endpoint {sb.token_url} refused the refresh token "
        "(auth.refresh_token) as expired or revoked: 400 Bad Request: "
        '{"error":"invalid_grant","error_description":"refresh token is invalid, expired or '
        'revoked"}; re-authorise and set auth.refresh_token to the new refresh token'
    ) in refusals[0]
    assert data_requests == 0
    assert "revoked-refresh-token-00aa" not in run.stderr


def test_a_spent_token_in_the_store_is_named_as_the_stores(tmp_path) -> None:
    store = tmp_path / "token.json"
    TokenStore(store, SPEC.refresh_token).write("spent-refresh-token-11bb")
    with Sandbox(auth=AuthSpec(mode="oauth2")) as sb:
        run = run_tap(tmp_path, config(sb, refresh_auth(sb, store)))
    assert run.returncode == 1
    assert f"refused the refresh token (kept in auth.token_store {store})" in run.stderr
    assert "re-authorise" in run.stderr
    assert "spent-refresh-token-11bb" not in run.stderr


def test_a_new_configured_refresh_token_wins_over_the_store(tmp_path) -> None:
    store = tmp_path / "token.json"
    TokenStore(store, "an-older-authorisation-22cc").write("spent-refresh-token-11bb")
    with Sandbox(auth=AuthSpec(mode="oauth2")) as sb:
        settings = config(sb, refresh_auth(sb, store))
        catalog = select(discover(tmp_path, settings), {"users"})
        run = run_tap(tmp_path, settings, catalog=catalog)
        valid = set(sb.server.auth.refresh_tokens)
    assert run.returncode == 0, run.stderr[-2000:]
    assert json.loads(store.read_text())["refresh_token"] in valid


def test_a_refresh_that_returns_no_refresh_token_keeps_the_old_one(tmp_path) -> None:
    store = tmp_path / "token.json"
    spec = AuthSpec(mode="oauth2", token_lifetime=1.0, rotate_refresh_tokens=False)
    with Sandbox(auth=spec, faults=FaultSpec(latency_ms=50)) as sb:
        settings = config(sb, refresh_auth(sb, store), page_size=20, max_concurrency=2)
        catalog = select(discover(tmp_path, settings), {"posts", "post_comments"})
        run = run_tap(tmp_path, settings, catalog=catalog)
        refreshes = sb.server.auth.refreshes
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.counts == {"posts": 100, "post_comments": 500}
    assert refreshes >= 2, "the same refresh token, spent again and again"
    assert not store.exists(), "nothing new to keep"


def test_a_token_endpoint_down_for_a_moment_is_retried(tmp_path) -> None:
    with Sandbox(auth=AuthSpec(mode="oauth2", token_failures=2)) as sb:
        settings = config(sb, refresh_auth(sb, tmp_path / "token.json"))
        catalog = select(discover(tmp_path, settings), {"users"})
        run = run_tap(tmp_path, settings, catalog=catalog)
        token_requests = sb.server.auth.token_requests
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.counts == {"users": 10}
    assert token_requests == 3


def test_without_a_token_store_a_rotation_is_warned_about(tmp_path) -> None:
    with Sandbox(auth=AuthSpec(mode="oauth2")) as sb:
        settings = config(sb, refresh_auth(sb))
        catalog = select(discover(tmp_path, settings), {"users"})
        run = run_tap(tmp_path, settings, catalog=catalog)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "auth.token_store is not set" in run.stderr


def test_the_store_is_owner_only_and_replaced_whole(tmp_path) -> None:
    store = TokenStore(tmp_path / "deep" / "token.json", "configured-33dd")
    store.check_writable()
    for n in range(3):
        store.write(f"refresh-token-{n}")
    assert store.read() == "refresh-token-2"
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert [p.name for p in store.path.parent.iterdir()] == ["token.json"]
    assert TokenStore(store.path, "another-authorisation").read() is None


def test_an_unreadable_store_is_one_clear_error(tmp_path) -> None:
    path = tmp_path / "token.json"
    path.write_text("{not json")
    with pytest.raises(AuthError, match=r"auth.token_store .*token.json: cannot read"):
        TokenStore(path, "configured-33dd").read()


def test_an_access_token_refused_before_its_time_is_refreshed_once_for_all_threads(
    tmp_path,
) -> None:
    # The server says access tokens live an hour but drops them after half a second.
    spec = AuthSpec(mode="oauth2", token_lifetime=0.5, reported_lifetime=3600)
    with Sandbox(auth=spec, faults=FaultSpec(latency_ms=50)) as sb:
        store = tmp_path / "token.json"
        settings = config(sb, refresh_auth(sb, store), max_concurrency=4, page_size=10)
        catalog = select(discover(tmp_path, settings), {"posts", "post_comments"})
        run = run_tap(tmp_path, settings, catalog=catalog)
        unauthorized = sb.server.auth.unauthorized
        refreshes, refused = sb.server.auth.refreshes, sb.server.auth.refused_refreshes
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.counts == {"posts": 100, "post_comments": 500}
    assert unauthorized >= 1, "the server dropped tokens the tap still held"
    assert 2 <= refreshes <= unauthorized + 1, "threads refused one token share its successor"
    assert refused == 0, "no rotated refresh token was spent twice"
    assert "fetching a new OAuth token and retrying once" in run.stderr


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (3600, 3600),
        ("3600", 3600),
        ("3599.5", 3599),
        (59.9, 59),
        (None, None),
        ("soon", None),
        (0, None),
    ],
)
def test_a_token_lifetime_is_read_whatever_its_form(value, seconds) -> None:
    assert _seconds(value) == seconds
