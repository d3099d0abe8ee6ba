"""Redaction: secrets and sensitive query values never reach a log line."""

from __future__ import annotations

import logging

from tap_rest.redact import RedactingFilter, Redactor, redact_url


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
