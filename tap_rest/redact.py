"""Secrets kept out of every log line: config values, and sensitive query parameters in URLs."""

from __future__ import annotations

import logging
import re
import typing as t
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

#: the fields of an ``auth`` setting that hold a secret
SECRET_FIELDS = ("value", "token", "password", "client_secret")
#: query parameters whose values never reach a log line, whatever the auth type
SENSITIVE_PARAMS = frozenset(
    {
        "api_key",
        "apikey",
        "api-key",
        "key",
        "token",
        "access_token",
        "auth",
        "client_secret",
        "password",
        "secret",
        "sig",
        "signature",
    }
)
REDACTED = "REDACTED"
_MIN_SECRET_LENGTH = 4


def secret_values(auth: t.Mapping[str, t.Any] | None) -> list[str]:
    """Return the secret values of an ``auth`` setting, longest first."""
    values = {str(auth[f]) for f in SECRET_FIELDS if auth and auth.get(f)}
    return sorted((v for v in values if len(v) >= _MIN_SECRET_LENGTH), key=len, reverse=True)


def redact_url(url: str, sensitive: t.Iterable[str] = ()) -> str:
    """Return a URL with the values of sensitive query parameters (and userinfo) replaced."""
    parts = urlsplit(url)
    names = SENSITIVE_PARAMS | {n.lower() for n in sensitive}
    query = [
        (k, REDACTED if k.lower() in names else v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    netloc = parts.netloc.rpartition("@")[2] if "@" in parts.netloc else parts.netloc
    if netloc != parts.netloc:
        netloc = f"{REDACTED}@{netloc}"
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode(query, safe="/:")))


def without_secrets(url: str, sensitive: t.Iterable[str] = ()) -> str:
    """Return a URL without its sensitive query parameters (for STATE; auth adds them back)."""
    parts = urlsplit(url)
    names = SENSITIVE_PARAMS | {n.lower() for n in sensitive}
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() not in names
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))


class Redactor:
    """Replaces known secret values, and sensitive query values in URLs, in any text."""

    _URL = re.compile(r"https?://[^\s'\"<>]+")

    def __init__(
        self, secrets: t.Iterable[str] = (), sensitive_params: t.Iterable[str] = ()
    ) -> None:
        self.secrets: list[str] = []
        self.sensitive_params = tuple(sensitive_params)
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        """Hide one more secret from now on (a token the run was issued, say)."""
        if len(secret) >= _MIN_SECRET_LENGTH and secret not in self.secrets:
            # A new list, swapped in whole: threads that are redacting keep the old one.
            self.secrets = sorted([*self.secrets, secret], key=len, reverse=True)

    @classmethod
    def for_auths(cls, auths: t.Iterable[t.Mapping[str, t.Any]]) -> Redactor:
        """Return the redactor of a run whose ``auth`` settings are these."""
        auths = list(auths)
        return cls(
            [value for auth in auths for value in secret_values(auth)],
            [str(a["name"]) for a in auths if a.get("location") == "query" and a.get("name")],
        )

    def __call__(self, text: str) -> str:
        """Return the text with every secret replaced."""
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        if "?" in text:
            text = self._URL.sub(lambda m: redact_url(m.group(0), self.sensitive_params), text)
        return text

    def url(self, url: str) -> str:
        """Return a URL fit for a log line."""
        return redact_url(url, self.sensitive_params)


class RedactingFilter(logging.Filter):
    """A logging filter that passes every record through a Redactor, tracebacks included."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record's message and traceback in place; never drop it."""
        message = record.getMessage()
        redacted = self.redactor(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor(record.exc_text)
        return True


def install_redaction(redactor: Redactor) -> None:
    """Attach a redacting filter to every handler that exists now (the root's included)."""
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        for handler in getattr(logger, "handlers", []):
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter(redactor))
