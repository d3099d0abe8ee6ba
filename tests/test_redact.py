"""Redaction: secrets and sensitive query values never reach a log line."""

from __future__ import annotations

import base64
import logging

import pytest

from tap_rest.redact import RedactingFilter, Redactor, redact_url
from tap_rest.sandbox import Sandbox
from tap_rest.sandbox.auth import AuthSpec
from tests.conftest import run_tap
from tests.test_auth import MODES, SECRETS, server_mode, tap_auth


def test_redact_url_hides_sensitive_query_values_and_userinfo() -> None:
    url = "https://user:pw@api.test/x?api_key=abc&page=2&Token=zz&mykey=q"
    assert redact_url(url, ["mykey"]) == (
        "https://REDACTED@api.test/x?api_key=REDACTED&page=2&Token=REDACTED&mykey=REDACTED"
    )


def test_redacting_filter_cleans_messages_and_tracebacks(caplog) -> None:
    redactor = Redactor(["hunter2-secret"], ["sig"])
    handler = logging.Handler()
    seen: list[str] = []
    handler.emit = lambda record: seen.append(logging.Formatter().format(record))  # type: ignore[method-assign]
    handler.addFilter(RedactingFilter(redactor))
    logger = logging.getLogger("test-redaction")
    logger.addHandler(handler)
    try:
        try:
            raise RuntimeError("failed at https://api.test/x?sig=abc&p=1 with hunter2-secret")
        except RuntimeError:
            logger.exception("token %s", "hunter2-secret")
    finally:
        logger.removeHandler(handler)
    assert seen
    assert "hunter2-secret" not in seen[0]
    assert "sig=abc" not in seen[0]
    assert "sig=REDACTED&p=1" in seen[0]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("status", [401, 403, 500])
def test_a_server_that_echoes_credentials_leaks_nothing_to_the_output(
    tmp_path, monkeypatch, mode, status
) -> None:
    monkeypatch.setenv("LOGLEVEL", "DEBUG")
    with Sandbox(auth=AuthSpec(mode=server_mode(mode))) as sb:
        stream = {
            "name": "echoed",
            "api": "api",
            "path": f"/echo/{status}/things",
            "primary_keys": ["id"],
            "schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
        }
        config = {
            "apis": {"api": {"base_url": sb.url, "auth": tap_auth(mode, sb)}},
            "streams": [stream],
            "max_tries": 2,
            "backoff_factor": 0.01,
        }
        run = run_tap(tmp_path, config)
        issued = list(sb.server.auth.tokens)
    assert run.returncode == 1
    # The echo reached the output, its credentials hidden.
    assert any(h in run.stderr.lower() for h in ("authorization", "x-api-key", "api_key="))
    output = run.stdout + run.stderr
    spec = AuthSpec()
    pairs = [f"{spec.username}:{spec.password}", f"{spec.client_id}:{spec.client_secret}"]
    secrets = [*SECRETS, *issued, *(base64.b64encode(p.encode()).decode() for p in pairs)]
    secrets += [base64.b64encode(s.encode()).decode().rstrip("=") for s in SECRETS]
    for secret in secrets:
        for i in range(len(secret) - 11):
            piece = secret[i : i + 12]
            assert piece not in output, f"{mode}: a 12-character piece of a secret: {piece}"


def test_a_secret_in_a_configured_header_never_reaches_the_output(tmp_path) -> None:
    token = "hdr-secret-4f7a9c2e1b"
    with Sandbox() as sb:
        stream = {
            "name": "echoed",
            "api": "api",
            "path": "/echo/401/things",
            "primary_keys": ["id"],
            "schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
        }
        api = {"base_url": sb.url, "headers": {"X-Auth-Token": token, "Accept-Language": "en"}}
        run = run_tap(tmp_path, {"apis": {"api": api}, "streams": [stream]})
    assert run.returncode == 1
    assert "X-Auth-Token" in run.stderr, "the echo reached the output"
    assert token[:12] not in run.stdout + run.stderr
    assert "Accept-Language" in run.stderr
