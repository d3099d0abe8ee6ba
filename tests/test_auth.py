"""Authentication: every mode against the sandbox, token refresh, fast failure, no leaks."""

from __future__ import annotations

import typing as t

import pytest
import requests

from tap_rest.auth import (
    ApiKeyAuth,
    BasicAuth,
    BearerAuth,
    NoAuth,
    OAuth2ClientCredentials,
    build_authenticator,
)
from tap_rest.sandbox import Sandbox
from tap_rest.sandbox.auth import AuthSpec
from tap_rest.sandbox.faults import FaultSpec
from tests.conftest import DEFAULT_COUNTS, run_tap

SPEC = AuthSpec()
SECRETS = [SPEC.api_key, SPEC.token, SPEC.password, SPEC.client_secret]
WRONG = "wrong-secret-0b7c1d"


def tap_auth(mode: str, sandbox: Sandbox, *, wrong: bool = False) -> dict[str, t.Any]:
    """The tap's auth setting for a sandbox mode (mode api_key_query: the key in the query)."""

    def secret(good):
        return WRONG if wrong else good

    if mode == "api_key":
        return {"type": "api_key", "name": SPEC.api_key_header, "value": secret(SPEC.api_key)}
    if mode == "api_key_query":
        return {
            "type": "api_key",
            "name": SPEC.api_key_param,
            "value": secret(SPEC.api_key),
            "location": "query",
        }
    if mode == "bearer":
        return {"type": "bearer", "token": secret(SPEC.token)}
    if mode == "basic":
        return {"type": "basic", "username": SPEC.username, "password": secret(SPEC.password)}
    return {
        "type": "oauth2_client_credentials",
        "token_url": sandbox.token_url,
        "client_id": SPEC.client_id,
        "client_secret": secret(SPEC.client_secret),
        "scopes": ["read", "list"],
    }


MODES = ["api_key", "api_key_query", "bearer", "basic", "oauth2"]


def server_mode(mode: str) -> str:
    return "api_key" if mode.startswith("api_key") else mode


@pytest.mark.parametrize("mode", MODES)
def test_full_sync_under_each_auth_mode_leaks_no_secret(tmp_path, mode, monkeypatch) -> None:
    monkeypatch.setenv("LOGLEVEL", "DEBUG")  # urllib3 then logs every URL it requests
    with Sandbox(auth=AuthSpec(mode=server_mode(mode))) as sb:
        config = {"jsonplaceholder_url": sb.url, "pokeapi_url": sb.pokeapi_url}
        run = run_tap(tmp_path, {**config, "auth": tap_auth(mode, sb)})
        unauthorized = sb.server.auth.unauthorized
    assert run.returncode == 0, run.stderr[-3000:]
    assert dict(run.counts) == DEFAULT_COUNTS
    assert unauthorized == 0
    output = run.stderr + "\n".join(map(str, run.messages))
    assert "DEBUG" in run.stderr
    for secret in SECRETS:
        assert secret not in output, f"{mode}: a secret reached the output"


#: 10 ms a request: a full sync lasts longer than the tokens below, however fast the machine
SLOW = FaultSpec(latency_ms=10)


def test_oauth_token_shorter_than_the_run_is_refreshed_before_it_expires(tmp_path) -> None:
    with Sandbox(auth=AuthSpec(mode="oauth2", token_lifetime=1.0), faults=SLOW) as sb:
        config = {"jsonplaceholder_url": sb.url, "pokeapi_url": sb.pokeapi_url}
        run = run_tap(tmp_path, {**config, "auth": tap_auth("oauth2", sb)})
        issued, refused = sb.server.auth.tokens_issued, sb.server.auth.unauthorized
    assert run.returncode == 0, run.stderr[-3000:]
    assert dict(run.counts) == DEFAULT_COUNTS
    assert issued >= 2, "a run longer than the token's life must fetch more than one token"
    assert refused == 0, "the token must be refreshed before it expires, not after a 401"


@pytest.mark.parametrize("concurrency", [1, 10])
def test_a_401_under_oauth_fetches_a_new_token_and_retries_once(tmp_path, concurrency) -> None:
    # The server says tokens live an hour but drops them after half a second.
    spec = AuthSpec(mode="oauth2", token_lifetime=0.5, reported_lifetime=3600)
    with Sandbox(auth=spec, faults=SLOW) as sb:
        config = {"jsonplaceholder_url": sb.url, "pokeapi_url": sb.pokeapi_url}
        config |= {"auth": tap_auth("oauth2", sb), "max_concurrency": concurrency}
        run = run_tap(tmp_path, config)
        issued, refused = sb.server.auth.tokens_issued, sb.server.auth.unauthorized
    assert run.returncode == 0, run.stderr[-3000:]
    assert dict(run.counts) == DEFAULT_COUNTS
    assert refused >= 1
    if concurrency == 1:
        assert issued == refused + 1, "one new token per refusal, one retry each"
    else:
        assert 2 <= issued <= refused + 1, "threads refused the same token share its successor"
    assert "retrying once" in run.stderr


@pytest.mark.parametrize("mode", MODES)
def test_wrong_credentials_fail_fast_with_a_clear_message(tmp_path, mode) -> None:
    with Sandbox(auth=AuthSpec(mode=server_mode(mode))) as sb:
        config = {"jsonplaceholder_url": sb.url, "pokeapi_url": sb.pokeapi_url}
        run = run_tap(tmp_path, {**config, "auth": tap_auth(mode, sb, wrong=True)})
        data_requests = sum(sb.server.requests.values())
        token_requests = sb.server.auth.token_requests
    assert run.returncode != 0
    assert not run.of_type("RECORD")
    if mode == "oauth2":
        assert data_requests == 0
        assert token_requests == 1
        assert f"auth: the OAuth token endpoint {sb.token_url} refused" in run.stderr
        assert "401" in run.stderr
        assert "invalid_client" in run.stderr
    else:
        assert data_requests == 1, "no retry storm: one request, then stop"
        assert "returned 401 Unauthorized" in run.stderr
        assert f"{sb.url}/" in run.stderr
    for secret in [*SECRETS, WRONG]:
        assert secret not in run.stderr + str(run.messages)


def test_an_unreachable_token_endpoint_is_a_clear_error(tmp_path, config) -> None:
    auth = {
        "type": "oauth2_client_credentials",
        "token_url": "http://127.0.0.1:9/oauth/token",
        "client_id": "c",
        "client_secret": "s3cr3t-value",
    }
    run = run_tap(tmp_path, {**config, "auth": auth})
    assert run.returncode != 0
    assert (
        "auth: the OAuth token endpoint http://127.0.0.1:9/oauth/token is unreachable" in run.stderr
    )
    assert "s3cr3t-value" not in run.stderr


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        ({"type": "bearer"}, "auth.token: required when auth.type is 'bearer'"),
        ({"type": "magic"}, "auth.type: 'magic' is not one of"),
        ({"type": "bearer", "token": "abcd-secret", "tokne": "x"}, "auth.tokne: not a field"),
        (
            {"type": "api_key", "name": "k", "value": "abcd-secret", "location": "body"},
            "auth.location",
        ),
        ({"type": "basic", "username": "u"}, "auth.password: required"),
    ],
)
def test_bad_auth_settings_are_named_without_quoting_secrets(
    tmp_path, config, auth, message
) -> None:
    run = run_tap(tmp_path, {**config, "auth": auth})
    assert run.returncode != 0
    assert message in run.stderr
    assert "abcd-secret" not in run.stderr


def test_about_shows_no_secret(tmp_path, config) -> None:
    run = run_tap(tmp_path, {**config, "auth": {"type": "bearer", "token": SPEC.token}}, "--about")
    assert run.returncode == 0
    assert SPEC.token not in run.stderr + str(run.messages)


def test_factory_builds_each_type() -> None:
    assert isinstance(build_authenticator(None), NoAuth)
    assert isinstance(build_authenticator({"type": "none"}), NoAuth)
    key = build_authenticator({"type": "api_key", "name": "X-Key", "value": "v"})
    assert isinstance(key, ApiKeyAuth)
    assert key.auth_headers == {"X-Key": "v"}
    query = build_authenticator({"type": "api_key", "name": "k", "value": "v", "location": "query"})
    assert query.auth_params == {"k": "v"}
    assert isinstance(build_authenticator({"type": "bearer", "token": "t"}), BearerAuth)
    assert isinstance(
        build_authenticator({"type": "basic", "username": "u", "password": "p"}), BasicAuth
    )
    oauth = build_authenticator(
        {
            "type": "oauth2_client_credentials",
            "token_url": "https://idp.test/token",
            "client_id": "c",
            "client_secret": "s",
            "scopes": ["a", "b"],
            "audience": "https://api.test",
        }
    )
    assert isinstance(oauth, OAuth2ClientCredentials)
    assert oauth.oauth_request_body == {
        "grant_type": "client_credentials",
        "client_id": "c",
        "client_secret": "s",
        "scope": "a b",
        "audience": "https://api.test",
    }


def test_api_key_in_query_keeps_other_parameters() -> None:
    auth = ApiKeyAuth(name="api_key", value="k1", location="query")
    request = requests.Request("GET", "https://api.test/x?a=1&empty=&api_key=old&b=2").prepare()
    assert auth(request).url == "https://api.test/x?a=1&empty=&b=2&api_key=k1"
