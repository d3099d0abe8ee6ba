"""Generic collections of any size, paged in every common style (for paginator tests).

``GET /generic/<style>?total=N`` serves items 1..N; the paging parameters depend on the style:

| style | request | body |
|---|---|---|
| ``offset`` | ``offset``, ``limit`` | ``{"total": N, "items": [...]}`` |
| ``offset-nototal`` | ``offset``, ``limit`` | ``{"items": [...]}`` |
| ``page`` | ``page``, ``per_page`` | ``{"page", "per_page", "total_pages", "data"}`` |
| ``page-nototal`` | ``page``, ``per_page`` | ``{"data": [...]}`` |
| ``next`` | ``offset``, ``limit`` | ``{"results": [...], "next": "<relative URL>" or null}`` |
| ``link`` | ``page``, ``per_page`` | ``[...]``, ``Link`` header (relative targets, several rels) |
| ``cursor`` | ``cursor``, ``limit`` | ``{"data", "next_cursor": "<opaque>" or "", "has_more"}`` |
| ``after`` | ``starting_after`` (the last id seen), ``limit`` | ``{"data", "has_more"}`` (Stripe) |
| ``header-cursor`` | ``cursor`` or header ``X-Cursor``, ``limit`` | ``[...]``, see below |

The ``header-cursor`` style sends the next cursor in an ``X-Next-Cursor`` header (none on the
last page) and the total in ``X-Total-Count``. ``loop=1`` makes the ``next``, ``link``,
``cursor`` and ``header-cursor`` styles send, from their second page on, the link or cursor of a
page already served: a broken server that a client must not follow forever. ``max_limit=M``
caps the page size at M whatever the client asks, without a word, as many servers do
(``echo=1`` adds the effective ``limit`` to the offset styles' bodies).
"""

from __future__ import annotations

import base64
import datetime as dt
import typing as t
from urllib.parse import urlencode

from tap_rest.sandbox.data import _mix

PREFIX = "/generic"
STYLES = (
    "offset",
    "offset-nototal",
    "page",
    "page-nototal",
    "next",
    "link",
    "cursor",
    "after",
    "header-cursor",
)
_EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def item(i: int) -> dict[str, t.Any]:
    """Return generic item i."""
    s = _mix(9, i)
    stamp = _EPOCH + dt.timedelta(minutes=i)
    return {
        "id": i,
        "name": f"item-{i}",
        "value": s % 1000,
        "tags": [f"t{s % 7}", f"t{(s >> 3) % 7}"][: 1 + s % 2],
        "updated_at": stamp.isoformat().replace("+00:00", "Z"),
    }


def _int(query: dict[str, list[str]], name: str, default: int) -> int:
    try:
        return int(query[name][0])
    except (KeyError, ValueError, IndexError):
        return default


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _uncursor(token: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        return max(int(raw.removeprefix("offset:")), 0)
    except ValueError:
        return 0


def respond(
    path: str, query: dict[str, list[str]], total_offset: int = 0
) -> tuple[int, t.Any, list[tuple[str, str]]] | None:
    """Return (status, body, headers) for a generic request, or None for an unknown style.

    ``total_offset`` is added to every total reported (a server whose totals lie).
    """
    style = path[len(PREFIX) :].strip("/")
    if style not in STYLES:
        return None
    total = max(_int(query, "total", 100), 0)
    loop = query.get("loop", ["0"])[0] == "1"
    cap = max(_int(query, "cap", 0), 0) or None

    def rows(start: int, count: int) -> list[dict[str, t.Any]]:
        return [item(i) for i in range(start + 1, min(start + max(count, 0), total) + 1)]

    def url(**changes: t.Any) -> str:
        params = {k: v[0] for k, v in query.items()}
        params.update({k: str(v) for k, v in changes.items()})
        return f"{PREFIX}/{style}?{urlencode(params)}"

    cap = _int(query, "max_limit", 0) or None
    echoes = query.get("echo", ["0"])[0] == "1"
    strict = query.get("strict", ["0"])[0] == "1"

    if style in ("offset", "offset-nototal", "next"):
        offset, limit = max(_int(query, "offset", 0), 0), max(_int(query, "limit", 10), 0)
        limit = min(limit, cap) if cap else limit
        if strict and offset >= max(total, 1):
            return 400, {"error": f"offset {offset} is past the end"}, []
        page = rows(offset, limit)
        echo = {"limit": limit} if echoes else {}
        if style == "offset":
            return 200, {"total": total + total_offset, "items": page, **echo}, []
        if style == "offset-nototal":
            return 200, {"items": page, **echo}, []
        following = 0 if loop and offset > 0 else offset + limit
        nxt = url(offset=following, limit=limit) if offset + limit < total or loop else None
        return 200, {"results": page, "next": nxt}, []

    if style == "after":
        start, limit = max(_int(query, "starting_after", 0), 0), max(_int(query, "limit", 10), 1)
        limit = min(limit, cap) if cap else limit
        page = rows(start, limit)
        return 200, {"object": "list", "data": page, "has_more": start + limit < total}, []

    if style == "header-cursor":
        offset, limit = _uncursor(query.get("cursor", [""])[0]), max(_int(query, "limit", 10), 1)
        headers = [("X-Total-Count", str(total + total_offset))]
        if offset + limit < total or loop:
            following = limit if loop and offset > 0 else offset + limit
            headers.append(("X-Next-Cursor", _cursor(following)))
        return 200, rows(offset, limit), headers

    if style == "cursor":
        offset, limit = _uncursor(query.get("cursor", [""])[0]), max(_int(query, "limit", 10), 1)
        page = rows(offset, limit)
        more = offset + limit < total
        following = limit if loop and offset > 0 else offset + limit
        token = _cursor(following) if more or loop else ""
        return 200, {"data": page, "next_cursor": token, "has_more": more or loop}, []

    number, per_page = max(_int(query, "page", 1), 1), max(_int(query, "per_page", 10), 1)
    per_page = min(per_page, cap) if cap else per_page
    if strict and number > max(-(-total // per_page), 1):
        return 404, {"detail": "Invalid page."}, []
    page = rows((number - 1) * per_page, per_page)
    last = max(-(-total // per_page), 1)
    if style == "page":
        body = {"page": number, "per_page": per_page, "total_pages": last, "data": page}
        return 200, body, []
    if style == "page-nototal":
        return 200, {"data": page}, []
    links = [f'<{url(page=1)}>; rel="first"', f'<{url(page=last)}>; rel="last"; title="last, page"']
    if number > 1:
        links.append(f"<{url(page=number - 1)}>; rel=prev")
    if number < last or loop:
        target = 2 if loop and number > 1 else number + 1
        links.append(f'<{url(page=target)}>; rel="next"; type="application/json"')
    return 200, page, [("Link", ", ".join(links))]
