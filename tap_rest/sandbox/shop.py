"""A small shop API that no built-in stream covers, whose records change between runs.

``GET /shop/customers``, ``GET /shop/customers/{id}/orders`` and ``GET /shop/orders`` (every
order, or a customer's with ``customer_id=N``, repeatable), each paged by ``offset`` and
``limit`` with ``{"total", "data"}``, filtered by ``updated_since`` (records updated strictly
after it, an ISO 8601 time) or ``updated_from`` (at or after it: an inclusive filter, as many
APIs have), and by creation time: ``created_gte``, ``created_gt``, ``created_lt``,
``created_lte`` (ISO 8601 dates or times, or epoch seconds; a time window is ``created_gte``
and ``created_lt``); ``order=desc`` serves newest first. Customers were created a week apart
from 2025-01-01, orders 36 hours apart from 2025-01-01T00:00:00Z (some exactly at a month's
start).
``POST /shop/touch?customer=N`` updates customer N and its first order now (or at
``&at=<time>``), as a real shop would between two syncs.
"""

from __future__ import annotations

import datetime as dt
import threading
import typing as t

from tap_rest.sandbox.data import _mix, _words

PREFIX = "/shop"
CUSTOMERS, ORDERS_PER_CUSTOMER = 50, 4
_EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
#: when the shop opened: the first customer and the first order were created then
OPENED = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
_CREATED_FILTERS: dict[str, t.Callable[[dt.datetime, dt.datetime], bool]] = {
    "created_gte": lambda created, bound: created >= bound,
    "created_gt": lambda created, bound: created > bound,
    "created_lt": lambda created, bound: created < bound,
    "created_lte": lambda created, bound: created <= bound,
}


def _stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def order_created(i: int) -> dt.datetime:
    """Return when order i was created: 36 hours after order i - 1."""
    return OPENED + dt.timedelta(hours=36 * (i - 1))


def _moment(value: str) -> dt.datetime | None:
    """Read an ISO 8601 date or time (a naive one is UTC) or epoch seconds, else None."""
    if value.strip().isdigit():
        return dt.datetime.fromtimestamp(int(value), dt.timezone.utc)
    try:
        moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


class Shop:
    """The shop's records, with the updates made through /shop/touch."""

    def __init__(self, total_offset: int = 0) -> None:
        #: how many more records than it serves each list reports (a lying total)
        self.total_offset = total_offset
        self._touched: dict[tuple[str, int], str] = {}
        self._lock = threading.Lock()

    def customer(self, i: int) -> dict[str, t.Any]:
        """Return customer i."""
        s = _mix(10, i)
        with self._lock:
            updated = self._touched.get(("customer", i), _stamp(_EPOCH + dt.timedelta(minutes=i)))
        return {
            "id": i,
            "name": _words(s, 2, 3).title(),
            "email": f"customer{i}@shop.test",
            "tier": ["bronze", "silver", "gold"][s % 3],
            "created_at": _stamp(OPENED + dt.timedelta(days=7 * (i - 1), hours=s % 24)),
            "updated_at": updated,
        }

    def order(self, i: int) -> dict[str, t.Any]:
        """Return order i."""
        s = _mix(11, i)
        with self._lock:
            updated = self._touched.get(("order", i), _stamp(_EPOCH + dt.timedelta(hours=i)))
        return {
            "id": i,
            "customer_id": (i - 1) // ORDERS_PER_CUSTOMER + 1,
            "amount": round((s % 100_000) / 100, 2),
            "status": ["placed", "paid", "shipped"][s % 3],
            "lines": [
                {"sku": f"SKU-{(s >> k) % 500}", "quantity": 1 + (s >> k) % 4}
                for k in range(1 + s % 3)
            ],
            "created_at": _stamp(order_created(i)),
            "updated_at": updated,
        }

    def touch(self, customer: int, at: str | None = None) -> None:
        """Update a customer and its first order now (or at the given time)."""
        now = at or _stamp(dt.datetime.now(dt.timezone.utc))
        with self._lock:
            self._touched[("customer", customer)] = now
            self._touched[("order", (customer - 1) * ORDERS_PER_CUSTOMER + 1)] = now

    def respond(self, path: str, query: dict[str, list[str]]) -> tuple[int, t.Any] | None:
        """Answer a GET under /shop, or None when the path is not the shop's."""
        parts = [p for p in path[len(PREFIX) :].split("/") if p]
        if parts == ["customers"]:
            rows = [self.customer(i) for i in range(1, CUSTOMERS + 1)]
        elif (
            len(parts) == 3
            and parts[0] == "customers"
            and parts[2] == "orders"
            and parts[1].isdigit()
        ):
            customer = int(parts[1])
            if not 1 <= customer <= CUSTOMERS:
                return 404, {"error": f"no customer {customer}"}
            first = (customer - 1) * ORDERS_PER_CUSTOMER + 1
            rows = [self.order(i) for i in range(first, first + ORDERS_PER_CUSTOMER)]
        elif parts == ["orders"]:
            rows = [self.order(i) for i in range(1, CUSTOMERS * ORDERS_PER_CUSTOMER + 1)]
            wanted = query.get("customer_id")
            if wanted is not None:
                rows = [r for r in rows if str(r["customer_id"]) in wanted]
        else:
            return None
        since = query.get("updated_since", [""])[0]
        if since:
            rows = [r for r in rows if r["updated_at"] > since.replace("+00:00", "Z")]
        start = query.get("updated_from", [""])[0]
        if start:
            rows = [r for r in rows if r["updated_at"] >= start.replace("+00:00", "Z")]
        for name, test in _CREATED_FILTERS.items():
            if name not in query:
                continue
            bound = _moment(query[name][0])
            if bound is None:
                return 400, {"error": f"{name}: {query[name][0]!r} is not an ISO 8601 time"}
            rows = [r for r in rows if test(_moment(r["created_at"]) or OPENED, bound)]
        if query.get("order", [""])[0] == "desc":
            # Newest first, as Stripe's lists come: not sorted by the bookmark ascending.
            rows.reverse()
        offset = int(query.get("offset", ["0"])[0] or 0)
        limit = int(query.get("limit", ["20"])[0] or 20)
        total = len(rows) + self.total_offset
        return 200, {"total": total, "data": rows[offset : offset + limit]}
