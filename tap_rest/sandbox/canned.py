"""Canned answers: a test sets the exact status, headers and bytes a path answers with.

``GET /canned/<name>`` answers what ``server.canned[name]`` holds (404 when nothing is set);
``GET /echo/<status>`` answers that status with a JSON body that echoes the request's headers
and URL, as some servers' error pages do: a client must not let that reach its logs.
``GET /sleep/<seconds>/...`` answers ``[]`` after that long: a server that hangs.
"""

from __future__ import annotations

import contextlib
import json
import time
import typing as t

CANNED, ECHO, SLEEP = "/canned/", "/echo/", "/sleep/"

#: status, headers, body
Canned = tuple[int, list[tuple[str, str]], bytes]


def canned(store: t.Mapping[str, Canned], path: str) -> Canned:
    """Return what a test set for ``/canned/<name>``."""
    name = path[len(CANNED) :].split("?", maxsplit=1)[0]
    found = store.get(name)
    if found is None:
        return 404, [("Content-Type", "application/json")], b'{"error": "nothing canned"}'
    return found


def echo(path: str, headers: t.Mapping[str, str]) -> Canned:
    """Return ``/echo/<status>``: that status, the request's headers and URL in the body."""
    part = path[len(ECHO) :].split("/", maxsplit=1)[0].split("?", maxsplit=1)[0]
    status = int(part) if part.isdigit() and 200 <= int(part) <= 599 else 500
    body = {"error": "echo", "url": path, "headers": dict(headers)}
    return status, [("Content-Type", "application/json")], json.dumps(body).encode()


def sleep(path: str) -> Canned:
    """Answer ``/sleep/<seconds>/...`` with ``[]``, that many seconds late."""
    part = path[len(SLEEP) :].split("/", maxsplit=1)[0]
    with contextlib.suppress(ValueError):
        time.sleep(min(float(part), 600))
    return 200, [("Content-Type", "application/json")], b"[]"
