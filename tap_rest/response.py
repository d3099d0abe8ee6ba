"""Reading a response: its body decoded once, its records, and what to say when it is wrong."""

from __future__ import annotations

import re
import typing as t
from http import HTTPStatus

import msgspec
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.helpers.jsonpath import extract_jsonpath

if t.TYPE_CHECKING:
    import requests

_BODY_EXCERPT = 300
#: where a response's decoded body is kept, so that it is decoded once, inside the retries
_BODY = "_tap_rest_body"
_SIMPLE_PATH = re.compile(r"\$((?:\.[A-Za-z_][A-Za-z0-9_]*)*)(\[\*\])?")


def records_at(jsonpath: str, body: t.Any) -> t.Iterable[t.Any]:
    """Return the values at a JSONPath; ``$``, ``$[*]`` and ``$.a.b[*]`` without jsonpath-ng."""
    match = _SIMPLE_PATH.fullmatch(jsonpath)
    if match is None:
        return extract_jsonpath(jsonpath, body)
    node = body
    for key in match.group(1).split(".")[1:]:
        if not isinstance(node, dict) or key not in node:
            return ()
        node = node[key]
    if match.group(2) is None:
        return (node,)
    if isinstance(node, list):
        return node
    return node.values() if isinstance(node, dict) else ()


def body_of(response: requests.Response) -> t.Any:
    """Return the body ``decode`` kept (None for a 204 or an undecoded response)."""
    return getattr(response, _BODY, None)


def excerpt(text: str) -> str:
    """Return the start of a body on one line."""
    return " ".join(text[:_BODY_EXCERPT].split())


def where(stream: str, response: requests.Response, redact: t.Callable[[str], str]) -> str:
    """Return ``Stream 'x': GET <redacted URL>``."""
    return f"Stream '{stream}': {response.request.method} {redact(response.url)}"


def error_message(stream: str, response: requests.Response, redact: t.Callable[[str], str]) -> str:
    """Describe a failed response: stream, method, redacted URL, status and a body excerpt."""
    body = excerpt(response.text)
    return (
        f"{where(stream, response, redact)} returned {response.status_code} {response.reason}"
        + (f": {body}" if body else "")
    )


def decode(response: requests.Response, stream: str, redact: t.Callable[[str], str]) -> None:
    """Decode a body once, inside the retries: a JSON body cut short is retried, HTML is not."""
    if response.status_code == HTTPStatus.NO_CONTENT:
        setattr(response, _BODY, None)
        return
    content_type = response.headers.get("Content-Type", "")
    try:
        setattr(response, _BODY, msgspec.json.decode(response.content))
    except msgspec.DecodeError as exc:
        here = where(stream, response, redact)
        if "json" in content_type.lower() or not content_type:
            msg = (
                f"{here} returned a JSON body cut short or undecodable "
                f"({len(response.content)} bytes)"
            )
            raise RetriableAPIError(msg, response) from exc
        msg = (
            f"{here} returned {response.status_code} with a body that is not JSON "
            f"(Content-Type: {content_type}): {excerpt(response.text)!r}"
        )
        raise FatalAPIError(msg) from exc
