"""Records whose fields appear late: a schema inferred from the first pages cannot know them.

``GET /late/orders?offset=&limit=`` (100 orders, ``{"total", "data"}``) and
``GET /late/orders/{id}/items`` (3 items each, the same paging). What a sample of the first
pages or parents never shows:

- orders after the 50th carry ``coupon`` and ``metadata.campaign``;
- ``amount`` is an integer up to order 60, then a number with cents (a type that widens);
- ``reference`` is an integer up to order 80, then a string (``"R-81"``);
- the items of order 40 alone carry ``gift_note`` and ``metadata.order_ref``.
"""

from __future__ import annotations

import typing as t

PREFIX = "/late"
ORDERS, ITEMS_PER_ORDER = 100, 3
COUPON_AFTER, FLOAT_AFTER, STRING_AFTER, GIFT_ORDER = 50, 60, 80, 40


def order(i: int) -> dict[str, t.Any]:
    """Return order i."""
    record: dict[str, t.Any] = {
        "id": i,
        "amount": i * 10 if i <= FLOAT_AFTER else i * 10 + 0.5,
        "reference": i if i <= STRING_AFTER else f"R-{i}",
        "metadata": {"source": "web" if i % 2 else "app"},
    }
    if i > COUPON_AFTER:
        record["coupon"] = f"SAVE{i}"
        record["metadata"]["campaign"] = f"c{i % 7}"
    return record


def item(order_id: int, k: int) -> dict[str, t.Any]:
    """Return item k of an order."""
    record: dict[str, t.Any] = {
        "id": order_id * 10 + k,
        "order_id": order_id,
        "sku": f"SKU-{(order_id * 7 + k) % 50}",
    }
    if order_id == GIFT_ORDER:
        record["gift_note"] = f"happy birthday #{k}"
        record["metadata"] = {"order_ref": f"O-{order_id}"}
    return record


def respond(path: str, query: dict[str, list[str]]) -> tuple[int, t.Any] | None:
    """Answer a GET under /late, or None when the path is not one of its own."""
    parts = [p for p in path[len(PREFIX) :].split("/") if p]
    if parts == ["orders"]:
        rows = [order(i) for i in range(1, ORDERS + 1)]
    elif len(parts) == 3 and parts[0] == "orders" and parts[2] == "items" and parts[1].isdigit():
        number = int(parts[1])
        if not 1 <= number <= ORDERS:
            return 404, {"error": f"no order {number}"}
        rows = [item(number, k) for k in range(1, ITEMS_PER_ORDER + 1)]
    else:
        return None
    offset = int(query.get("offset", ["0"])[0] or 0)
    limit = int(query.get("limit", ["10"])[0] or 10)
    return 200, {"total": len(rows), "data": rows[offset : offset + limit]}
