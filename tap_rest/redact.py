"""Secrets kept out of every log line: config values, and sensitive query parameters in URLs."""

from __future__ import annotations

import base64
import json
import logging
import re
import sys
import typing as t
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

#: the fields of an ``auth`` setting that hold a secret
SECRET_FIELDS = ("value", "token", "password", "client_secret", "refresh_token")
#: query parameters whose values never reach a log line, whatever the auth type
SENSITIVE_PARAMS = frozenset(
    {
        "api_key",
        "apikey",
        "api-key",
        "key",
        "token",
        "access_token",
        "refresh_token",
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


#: the name of a header or parameter that carries a credential (``X-Auth-Token``, ``apikey``)
CREDENTIAL_NAME = re.compile(r"auth|token|key|secret|signature|session|cookie|password", re.I)


def credential_values(named: t.Mapping[str, t.Any] | None) -> list[str]:
    """Return the values of the headers or parameters whose names say they hold a credential."""
    if not isinstance(named, t.Mapping):
        return []
    return [str(v) for k, v in named.items() if CREDENTIAL_NAME.search(str(k)) and v]


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


def _forms(secret: str) -> set[str]:
    """Return the forms a secret may take in a text: as is, URL-, JSON- and base64-encoded."""
    raw = secret.encode()
    return {
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    }


def _pairs(auth: t.Mapping[str, t.Any]) -> list[str]:
    """Return the ``user:password`` pairs an auth setting sends base64-encoded (Basic)."""
    pairs = []
    for user, password in (("username", "password"), ("client_id", "client_secret")):
        if auth.get(user) and auth.get(password):
            pairs.append(f"{auth[user]}:{auth[password]}")
            # RFC 6749 2.3.1: a client's id and secret are form-encoded before base64.
            pairs.append(f"{quote_plus(str(auth[user]))}:{quote_plus(str(auth[password]))}")
    return pairs


#: a header, field or parameter that carries a credential, and its value, in any text: an error
#: body that echoes the request's headers, a JSON dump, a form
_CREDENTIAL = re.compile(
    r"""(?ix)
    ((?<![\w.-])["']?(?:proxy-)?authorization["']?\s*[:=]\s*["']?(?:(?:bearer|basic|token|digest)\s+)?)
    ([^\s"',;}&]+)
    |
    ((?<![\w.-])["']?(?:x-)?(?:api[-_]?key|access[-_]?token|refresh[-_]?token|client[-_]?secret|password
    |secret|token)["']?\s*[:=]\s*["']?)
    ([^\s"',;}&]+)
    """
)


class Redactor:
    """Replaces secrets in any text: every form, any 12-character piece, credentials by name.

    A credential shown by name is, say, an ``Authorization`` header echoed in an error body.
    Secrets come from the config and, as the run goes, from the tokens it is issued (``add``).
    """

    _URL = re.compile(r"https?://[^\s'\"<>]+")
    #: the longest piece of a secret allowed to stand in a text
    PIECE = 12

    def __init__(
        self, secrets: t.Iterable[str] = (), sensitive_params: t.Iterable[str] = ()
    ) -> None:
        self.secrets: list[str] = []
        self.pieces: frozenset[str] = frozenset()
        self.sensitive_params = tuple(sensitive_params)
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        """Hide one more secret, in all its forms, from now on (a token the run was issued)."""
        if len(secret) < _MIN_SECRET_LENGTH or secret in self.secrets:
            return
        forms = {f for f in _forms(secret) if len(f) >= _MIN_SECRET_LENGTH}
        pieces = {
            form[i : i + self.PIECE] for form in forms for i in range(len(form) - self.PIECE + 1)
        }
        # New collections, swapped in whole: threads that are redacting keep the old ones.
        self.secrets = sorted({*self.secrets, *forms}, key=len, reverse=True)
        self.pieces = self.pieces | pieces

    @classmethod
    def for_auths(
        cls, auths: t.Iterable[t.Mapping[str, t.Any]], others: t.Iterable[str] = ()
    ) -> Redactor:
        """Return the redactor of a run whose ``auth`` settings (and other secrets) are these."""
        auths = list(auths)
        return cls(
            [
                *(value for auth in auths for value in [*secret_values(auth), *_pairs(auth)]),
                *others,
            ],
            [str(a["name"]) for a in auths if a.get("location") == "query" and a.get("name")],
        )

    def __call__(self, text: str) -> str:
        """Return the text with every secret replaced."""
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        for piece in self.pieces:
            if piece in text:
                text = text.replace(piece, REDACTED)
        text = _CREDENTIAL.sub(_hide_value, text)
        if "?" in text:
            text = self._URL.sub(lambda m: redact_url(m.group(0), self.sensitive_params), text)
        return text

    def url(self, url: str) -> str:
        """Return a URL fit for a log line."""
        return redact_url(url, self.sensitive_params)


def _hide_value(match: re.Match[str]) -> str:
    name = match.group(1) if match.group(1) is not None else match.group(3)
    value = match.group(2) if match.group(1) is not None else match.group(4)
    return name + (value if value == REDACTED else REDACTED)


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


_installed: list[Redactor] = []


def redact_text(text: str) -> str:
    """Return a text with the secrets of the installed redactor hidden (for lines not logged)."""
    for current in _installed:
        text = current(text)
    return text


def install_redaction(redactor: Redactor) -> None:
    """Redact every log record as it is made, whichever logger and handler, and every traceback.

    A filter on each handler that exists now, a log record factory for those made later, and
    an ``excepthook`` for an exception that ends the process.
    """
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        for handler in getattr(logger, "handlers", []):
            for old in [f for f in handler.filters if isinstance(f, RedactingFilter)]:
                handler.removeFilter(old)
            handler.addFilter(RedactingFilter(redactor))
    _installed[:] = [redactor]
    if not getattr(logging.getLogRecordFactory(), "redacting", False):
        make = logging.getLogRecordFactory()

        def factory(*args: t.Any, **kwargs: t.Any) -> logging.LogRecord:
            record = make(*args, **kwargs)
            for current in _installed:
                RedactingFilter(current).filter(record)
            return record

        factory.redacting = True  # type: ignore[attr-defined]
        logging.setLogRecordFactory(factory)
    if not getattr(sys.excepthook, "redacting", False):
        hook = sys.excepthook

        def excepthook(kind: type[BaseException], value: BaseException, tb: t.Any) -> None:
            import traceback  # noqa: PLC0415 - only when the process dies of an exception

            text = "".join(traceback.format_exception(kind, value, tb))
            for current in _installed:
                text = current(text)
            sys.stderr.write(text)

        excepthook.redacting = True  # type: ignore[attr-defined]
        excepthook.previous = hook  # type: ignore[attr-defined]
        sys.excepthook = excepthook
