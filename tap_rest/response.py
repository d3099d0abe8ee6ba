"""Reading a response: its body decoded once, its records checked, and what to say when wrong."""

from __future__ import annotations

import json
import re
import typing as t
from http import HTTPStatus

import msgspec
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.helpers.jsonpath import extract_jsonpath

from tap_rest.errors import BodyShapeError

if t.TYPE_CHECKING:
    import requests

    from tap_rest.redact import Redactor

_BODY_EXCERPT = 300
#: where a response's decoded body is kept, so that it is decoded once, inside the retries
_BODY = "_tap_rest_body"
_SIMPLE_PATH = re.compile(r"\$((?:\.[A-Za-z_][A-Za-z0-9_]*)*)(\[\*\])?")
#: keys of a body that reports an error with a 200 (Slack's ``{"ok": false, "error": ...}``)
_ERROR_KEYS = ("error", "errors", "fault")
_MISSING = object()


def body_of(response: requests.Response) -> t.Any:
    """Return the body ``decode`` kept (None for a 204 or an undecoded response)."""
    return getattr(response, _BODY, None)


def excerpt(text: str, redactor: Redactor | None = None) -> str:
    """Return the start of a body on one line, its secrets hidden before it is cut."""
    return " ".join((redactor(text) if redactor else text)[:_BODY_EXCERPT].split())


def where(stream: str, response: requests.Response, redactor: Redactor) -> str:
    """Return ``Stream 'x': GET <redacted URL>``."""
    return f"Stream '{stream}': {response.request.method} {redactor.url(response.url)}"


def error_message(stream: str, response: requests.Response, redactor: Redactor) -> str:
    """Describe a failed response: stream, method, redacted URL, status and a body excerpt."""
    body = excerpt(response.text, redactor)
    return (
        f"{where(stream, response, redactor)} returned {response.status_code} {response.reason}"
        + (f": {body}" if body else "")
    )


def decode(response: requests.Response, stream: str, redactor: Redactor) -> None:
    """Decode a body once, inside the retries: a JSON body cut short is retried, HTML is not."""
    if response.status_code == HTTPStatus.NO_CONTENT or not response.content:
        setattr(response, _BODY, None)
        return
    content_type = response.headers.get("Content-Type", "")
    try:
        setattr(response, _BODY, _loads(response.content))
    except msgspec.DecodeError as exc:
        here = where(stream, response, redactor)
        if "json" in content_type.lower() or not content_type:
            msg = (
                f"{here} returned a JSON body cut short or undecodable "
                f"({len(response.content)} bytes)"
            )
            raise RetriableAPIError(msg, response) from exc
        msg = (
            f"{here} returned {response.status_code} with a body that is not JSON "
            f"(Content-Type: {content_type}): {excerpt(response.text, redactor)!r}"
        )
        raise FatalAPIError(msg) from exc


def _loads(content: bytes) -> t.Any:
    """Decode JSON; a whole body that only strict JSON refuses (``NaN``) is read as Python does.

    Python APIs often write ``NaN`` and ``Infinity``; such a body is whole, not cut short.
    """
    try:
        return msgspec.json.decode(content)
    except msgspec.DecodeError:
        try:
            return json.loads(content)
        except ValueError:
            raise msgspec.DecodeError("undecodable JSON") from None


def _kind(value: t.Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict):
        keys = ", ".join(k if k.isprintable() else repr(k) for k in list(value)[:8])
        return f"an object (keys: {keys})" if keys else "an empty object"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__} ({value!r:.40})"


class Records:
    """Takes a stream's records out of a body, and stops loudly when the body is not as expected.

    A list where records are expected, objects in it; an error reported with a 200 or an
    object where a list belongs is never read as an empty page.
    """

    def __init__(self, stream: str, jsonpath: str, redactor: Redactor) -> None:
        self.stream, self.jsonpath, self.redactor = stream, jsonpath, redactor
        match = _SIMPLE_PATH.fullmatch(jsonpath)
        self.keys = match.group(1).split(".")[1:] if match else None
        self.many = bool(match and match.group(2))

    def _fail(self, response: requests.Response, what: str) -> t.NoReturn:
        msg = (
            f"{where(self.stream, response, self.redactor)} returned {response.status_code} "
            f"with {what} (records_path '{self.jsonpath}'): {excerpt(response.text, self.redactor)}"
        )
        raise BodyShapeError(msg)

    def _node(self, body: t.Any, response: requests.Response, *, empty_ok: bool) -> t.Any:
        node = body
        for key in self.keys or ():
            if not isinstance(node, dict):
                self._fail(response, f"{_kind(node)} where an object with '{key}' was expected")
            if key not in node:
                if any(k in node for k in _ERROR_KEYS) or node.get("ok") is False:
                    self._fail(response, "an error instead of records")
                lists = [k for k, v in node.items() if isinstance(v, list)]
                if lists:
                    self._fail(response, f"no '{key}' but a list at '{lists[0]}'")
                if not empty_ok:
                    self._fail(response, f"no '{key}' in the middle of the list")
                return _MISSING  # HAL and others leave an empty collection out
            node = node[key]
        return node

    def of(
        self, response: requests.Response, *, first: bool = True, probing: bool = False
    ) -> list[dict]:
        """Return the records of a response, each an object (none in a 204 No Content).

        A body without the records' key is an empty page only on a partition's first page (HAL
        leaves an empty collection out) or on a page asked past the end (``probing``), and
        only when it holds no list that the records may be in (``records_path`` mistyped).
        """
        if response.status_code == HTTPStatus.NO_CONTENT:
            return []
        body = body_of(response)
        if self.keys is None:
            records = list(extract_jsonpath(self.jsonpath, body))
        else:
            node = self._node(body, response, empty_ok=first or probing)
            if node is _MISSING:
                return []
            if not self.many:
                records = [node]
            elif isinstance(node, list):
                records = node
            else:
                self._fail(response, f"{_kind(node)} where a list of records was expected")
        for n, record in enumerate(records):
            if not isinstance(record, dict):
                self._fail(response, f"record #{n + 1} {_kind(record)}, not an object")
        return records


def keyless(
    stream: str,
    record: t.Mapping[str, t.Any],
    keys: t.Sequence[str],
    redactor: Redactor,
    context: t.Mapping[str, t.Any] | None = None,
) -> BodyShapeError:
    """Return the error for a record without one of its key properties (or with a null one)."""
    missing = next(key for key in keys if record.get(key) is None)
    where = f" ({', '.join(f'{k} {v}' for k, v in context.items())})" if context else ""
    text = excerpt(json.dumps(record, default=str), redactor)
    return BodyShapeError(
        f"Stream '{stream}'{where}: a record has no {missing!r} (a key property): {text}"
    )
