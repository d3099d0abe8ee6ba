"""A search endpoint read by POST, as Elasticsearch's: a JSON query, paged by ``search_after``.

``POST /search/events`` with a JSON body searches 1,000 events (20 for each of 50 customers)
sorted by ``updated_at`` then ``id`` (three events share each minute, so the sort needs its
tie-breaker):

- ``size``: hits per page (10 by default, at most 500);
- ``query``: none (every event), ``{"range": {"updated_at": {"gt" or "gte": ISO time}}}`` (a
  bookmark), ``{"term": {"<field>": value}}``, or ``{"bool": {"filter": [...]}}`` of those;
- ``search_after``: the ``sort`` values of the last hit of the page before.

The answer is ``{"took", "timed_out", "hits": {"total": {"value", "relation"}, "hits": [{"_id",
"_source", "sort"}]}}``; a page past the end holds no hits. ``POST /search/events/touch?id=N``
updates event N now (it then sorts last), as between two syncs.
"""

from __future__ import annotations

import datetime as dt
import threading
import typing as t

from tap_rest.sandbox.data import _mix, _words

PREFIX = "/search"
EVENTS, CUSTOMERS = 1000, 50
MAX_SIZE = 500
_EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
_KINDS = ("signup", "login", "purchase", "refund", "logout")


def _stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _millis(stamp: str) -> int:
    moment = dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    return int(moment.timestamp() * 1000)


class BadQueryError(ValueError):
    """A search body the endpoint does not understand (answered 400)."""


class Search:
    """The events and their updates through ``touch``, shared by the server's threads."""

    def __init__(self, total_offset: int = 0) -> None:
        #: how many more hits than it serves the endpoint reports (a lying total)
        self.total_offset = total_offset
        self._touched: dict[int, str] = {}
        self._lock = threading.Lock()

    def event(self, i: int) -> dict[str, t.Any]:
        """Return event i."""
        s = _mix(12, i)
        with self._lock:
            updated = self._touched.get(i, _stamp(_EPOCH + dt.timedelta(minutes=(i - 1) // 3)))
        return {
            "id": i,
            "customer_id": (i - 1) % CUSTOMERS + 1,
            "kind": _KINDS[s % len(_KINDS)],
            "user": _words(s, 1, 2),
            "amount": round((s % 50_000) / 100, 2),
            "updated_at": updated,
        }

    def touch(self, i: int) -> None:
        """Update event i now."""
        with self._lock:
            self._touched[i] = _stamp(dt.datetime.now(dt.timezone.utc))

    def search(self, body: t.Any) -> dict[str, t.Any]:
        """Answer one search body."""
        if not isinstance(body, dict):
            msg = "the body must be a JSON object"
            raise BadQueryError(msg)
        size = body.get("size", 10)
        if not isinstance(size, int) or not 0 <= size <= MAX_SIZE:
            msg = f"size must be an integer from 0 to {MAX_SIZE}"
            raise BadQueryError(msg)
        keep = _query_filter(body.get("query"))
        matching = sorted(
            (e for e in map(self.event, range(1, EVENTS + 1)) if keep(e)),
            key=lambda e: (e["updated_at"], e["id"]),
        )
        events = matching
        after = body.get("search_after")
        if after is not None:
            if not (isinstance(after, list) and len(after) == 2):
                msg = "search_after must be the sort values of a hit: [updated_at millis, id]"
                raise BadQueryError(msg)
            mark = (after[0], after[1])
            events = [e for e in events if (_millis(e["updated_at"]), e["id"]) > mark]
        hits: list[dict[str, t.Any]] = [
            {
                "_index": "events",
                "_id": str(e["id"]),
                "_source": e,
                "sort": [_millis(e["updated_at"]), e["id"]],
            }
            for e in events[:size]
        ]
        total = len(matching)
        return {
            "took": 1,
            "timed_out": False,
            "hits": {
                "total": {"value": total + self.total_offset, "relation": "eq"},
                "hits": hits,
            },
        }


def _query_filter(query: t.Any) -> t.Callable[[dict[str, t.Any]], bool]:
    """Return the test of an event that a query makes (every event without one)."""
    if query is None or query == {"match_all": {}}:
        return lambda event: True
    if not isinstance(query, dict) or len(query) != 1:
        msg = "a query is one of match_all, range, term, bool"
        raise BadQueryError(msg)
    kind, spec = next(iter(query.items()))
    if kind == "bool" and isinstance(spec, dict) and set(spec) == {"filter"}:
        tests = [_query_filter(q) for q in spec["filter"]]
        return lambda event: all(test(event) for test in tests)
    if kind == "term" and isinstance(spec, dict) and len(spec) == 1:
        field, wanted = next(iter(spec.items()))
        # Elasticsearch compares a term with a field's value as the field's type would read it.
        return lambda event: str(event.get(field)) == str(wanted)
    bounds = spec.get("updated_at") if kind == "range" and isinstance(spec, dict) else None
    if not isinstance(bounds, dict) or not bounds or not set(bounds) <= {"gt", "gte"}:
        msg = 'only range queries on updated_at ({"gt" or "gte": time}) are served'
        raise BadQueryError(msg)
    since = str(next(iter(bounds.values()))).replace("+00:00", "Z")
    if "gt" in bounds:
        return lambda event: event["updated_at"] > since
    return lambda event: event["updated_at"] >= since
