"""Schema evolution: no field is ever dropped in silence, however late it first appears."""

from __future__ import annotations

import json
from collections import Counter

from tap_rest.evolution import Gap, evolve, gaps
from tap_rest.inference import infer_schema
from tap_rest.sandbox import late
from tests.conftest import TapRun, run_tap
from tests.test_catalog import discover, select

ORDERS = {
    "name": "late_orders",
    "api": "late",
    "path": "/orders",
    "records_path": "$.data[*]",
    "primary_keys": ["id"],
    "paginator": {"type": "offset", "page_size": 10, "total_path": "$.total"},
}
ITEMS = {
    "name": "late_items",
    "api": "late",
    "path": "/orders/{order_id}/items",
    "records_path": "$.data[*]",
    "primary_keys": ["id"],
    "parent": {"stream": "late_orders", "fields": {"order_id": "id"}},
    "paginator": {"type": "offset", "page_size": 10, "total_path": "$.total"},
}
EXPECTED_ORDERS = [late.order(i) for i in range(1, late.ORDERS + 1)]
EXPECTED_ITEMS = [
    late.item(o, k) for o in range(1, late.ORDERS + 1) for k in range(1, late.ITEMS_PER_ORDER + 1)
]


def late_config(sandbox, **extra) -> dict:
    return {
        "apis": {"late": {"base_url": f"{sandbox.url}/late"}},
        "streams": [ORDERS, ITEMS],
        **extra,
    }


def synced(tmp_path, config: dict) -> TapRun:
    catalog = select(discover(tmp_path, config), {"late_orders", "late_items"})
    run = run_tap(tmp_path, config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def test_a_value_that_fits_has_no_gap() -> None:
    schema = {
        "type": "object",
        "properties": {
            "id": {"type": ["integer"]},
            "n": {"type": ["number", "null"]},
            "meta": {"type": ["object"], "properties": {"a": {"type": "string"}}},
            "free": {"type": ["object"], "properties": {}, "additionalProperties": True},
            "tags": {"type": ["array"], "items": {"type": ["string"]}},
            "anything": {},
        },
    }
    record = {
        "id": 1,
        "n": 2,
        "meta": {"a": "x"},
        "free": {"z": 1},
        "tags": ["a"],
        "anything": [{"x": 1}],
    }
    assert gaps(schema, record) == []
    bad = {**record, "id": "1", "meta": {"a": "x", "b": 2}, "tags": [1, 2], "new": None}
    assert gaps(schema, bad) == [
        Gap("id", "type", "string"),
        Gap("meta.b", "field", "integer"),
        Gap("tags[]", "type", "integer"),
    ], "a null field the schema lacks loses nothing: no gap"


def whole(record: dict) -> dict:
    """Return a record with its variant fields (x__v_type) back under their own name."""
    out = {k: v for k, v in record.items() if "__v_" not in k}
    out.update({k.split("__v_")[0]: v for k, v in record.items() if "__v_" in k})
    return out


def test_evolve_adds_fields_and_moves_values_of_another_type_to_variants() -> None:
    schema = {
        "type": "object",
        "properties": {
            "id": {"type": ["integer"], "description": "key"},
            "amount": {"type": ["integer", "null"]},
            "meta": {"type": ["object", "null"], "properties": {"a": {"type": ["integer"]}}},
            "tags": {"type": ["array", "null"], "items": {"type": ["string"]}},
        },
        "required": ["id"],
    }
    record = {"id": 1, "amount": 1.5, "coupon": "X", "meta": {"a": 1, "b": "new"}, "tags": [1]}
    grown = evolve(schema, record)
    assert record == {
        "id": 1,
        "amount__v_number": 1.5,
        "coupon": "X",
        "meta": {"a": 1, "b": "new"},
        "tags__v_array": [1],
    }
    props = grown["properties"]
    assert grown["required"] == ["id"]
    assert props["id"] == {"type": ["integer"], "description": "key"}
    assert props["amount"] == {"type": ["integer", "null"]}, "a field's type never changes"
    assert props["amount__v_number"]["type"] == ["null", "number"]
    assert props["coupon"]["type"] == ["null", "string"]
    assert props["meta"]["properties"]["b"]["type"] == ["null", "string"], "a JSON column widens"
    assert props["tags__v_array"]["items"]["type"] == ["integer"]
    assert gaps(grown, record) == []
    again = {"id": 2, "amount": 2.5}
    assert evolve(grown, again) == grown
    assert again == {"id": 2, "amount__v_number": 2.5}


def test_fields_that_appear_late_arrive_whole_through_inference(tmp_path, sandbox) -> None:
    run = synced(tmp_path, late_config(sandbox))
    assert [whole(r) for r in run.records["late_orders"]] == EXPECTED_ORDERS
    items = sorted(run.records["late_items"], key=lambda r: r["id"])
    assert [whole(r) for r in items] == EXPECTED_ITEMS
    schemas = [m for m in run.of_type("SCHEMA")]
    widened = Counter(m["stream"] for m in schemas)
    assert widened["late_orders"] >= 2, "the orders' schema must be sent again, wider"
    assert widened["late_items"] >= 2, "the items' schema must be sent again, wider"
    last = {m["stream"]: m["schema"] for m in schemas}
    orders = last["late_orders"]["properties"]
    assert {"coupon", "metadata", "amount", "reference"} <= set(orders)
    assert "campaign" in orders["metadata"]["properties"]
    assert orders["reference"]["type"] == ["integer", "null"]
    assert orders["reference__v_string"]["type"] == ["null", "string"]
    assert orders["amount__v_number"]["type"] == ["null", "number"]
    assert [r.get("amount__v_number") for r in run.records["late_orders"][59:61]] == [None, 610.5]
    assert {"gift_note", "metadata"} <= set(last["late_items"]["properties"])
    # Every SCHEMA comes before the first record that needs it.
    seen: dict[str, dict] = {}
    for message in run.messages:
        if message["type"] == "SCHEMA":
            seen[message["stream"]] = message["schema"]
        elif message["type"] == "RECORD":
            assert gaps(seen[message["stream"]], message["record"]) == [], message
    assert "schema changes" in run.stderr
    assert "not found in catalog schema" not in run.stderr


def test_a_frozen_inline_schema_counts_and_names_what_it_drops(tmp_path, sandbox) -> None:
    frozen = {
        **ORDERS,
        "schema": {
            "type": "object",
            "properties": {"id": {"type": "integer"}, "amount": {"type": "integer"}},
        },
    }
    config = {"apis": {"late": {"base_url": f"{sandbox.url}/late"}}, "streams": [frozen]}
    run = synced(tmp_path, config)
    assert [r["id"] for r in run.records["late_orders"]] == list(range(1, 101))
    assert "Stream 'late_orders': field 'coupon' is not in its schema and is dropped" in run.stderr
    assert "field 'amount' holds a number, which its schema does not admit" in run.stderr
    assert run.stderr.count("field 'coupon' is not in its schema") == 1, "warned once"
    # 100 references and 100 metadata, 50 coupons dropped; 40 amounts with cents let through
    assert "250 values dropped (not in the schema); 40 values of another type" in run.stderr


def test_schema_evolution_can_be_asked_for_an_inline_schema(tmp_path, sandbox) -> None:
    frozen = {**ORDERS, "schema": {"type": "object", "properties": {"id": {"type": "integer"}}}}
    config = {
        "apis": {"late": {"base_url": f"{sandbox.url}/late"}},
        "streams": [frozen],
        "schema_evolution": {"late_orders": "evolve"},
    }
    run = synced(tmp_path, config)
    assert [whole(r) for r in run.records["late_orders"]] == EXPECTED_ORDERS
    assert "dropped" not in run.stderr


def test_a_built_in_stream_can_evolve_too(tmp_path, config) -> None:
    catalog = select(discover(tmp_path, config), {"users"})
    for entry in catalog["streams"]:
        if entry["tap_stream_id"] == "users":
            del entry["schema"]["properties"]["phone"]
    kept = run_tap(tmp_path, {**config, "schema_evolution": {"*": "evolve"}}, catalog=catalog)
    assert kept.returncode == 0, kept.stderr[-2000:]
    assert all("phone" in u for u in kept.records["users"])
    dropped = run_tap(tmp_path, config, catalog=catalog)
    assert not any("phone" in u for u in dropped.records["users"])
    assert "field 'phone' is not in its schema and is dropped" in dropped.stderr
    assert "users: 10 records" in dropped.stderr
    assert "10 values dropped" in dropped.stderr


def test_fields_that_appear_late_arrive_whole_without_a_catalog(tmp_path, sandbox) -> None:
    # As `tap-rest --config c.json | target` runs: the schema inferred, no catalog.
    run = run_tap(tmp_path, late_config(sandbox))
    assert run.returncode == 0, run.stderr[-3000:]
    assert [whole(r) for r in run.records["late_orders"]] == EXPECTED_ORDERS
    assert Counter(m["stream"] for m in run.of_type("SCHEMA"))["late_orders"] <= 4


def test_the_fast_path_keeps_to_the_catalogs_schema(tmp_path, config) -> None:
    catalog = select(discover(tmp_path, config), {"posts"})
    for entry in catalog["streams"]:
        if entry["tap_stream_id"] == "posts":
            del entry["schema"]["properties"]["body"]
    run = run_tap(tmp_path, config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-2000:]
    assert not any("body" in p for p in run.records["posts"]), "the SCHEMA sent has no body"
    assert "field 'body' is not in its schema and is dropped" in run.stderr


def test_a_key_of_another_type_is_a_named_error_not_a_variant(tmp_path, sandbox) -> None:
    sandbox.server.canned["keys"] = (
        200,
        [("Content-Type", "application/json")],
        json.dumps([{"id": 1, "v": "a"}, {"id": "A-2", "v": "b"}]).encode(),
    )
    stream = {
        "name": "keyed",
        "base_url": sandbox.url,
        "path": "/canned/keys",
        "primary_keys": ["id"],
        "schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
        "schema_evolution": "evolve",
    }
    run = run_tap(tmp_path, {"streams": [stream]})
    assert run.returncode == 1
    assert "Stream 'keyed': field 'id' holds a string ('A-2') where its schema says" in run.stderr
    assert [r["id"] for r in run.records["keyed"]] == [1]


def test_a_field_only_ever_null_so_far_takes_its_first_value_in_place() -> None:
    sample = [{"id": 1, "deleted_at": None}, {"id": 2, "deleted_at": None}]
    schema = infer_schema(sample, ["id"])
    assert "deleted_at" not in schema["properties"], "nothing to say of its type yet"
    record = {"id": 3, "deleted_at": "2026-01-01"}
    grown = evolve(schema, record)
    assert record == {"id": 3, "deleted_at": "2026-01-01"}, "no variant field"
    assert grown["properties"]["deleted_at"]["type"] == ["null", "string"]
    null_typed = {"type": "object", "properties": {"x": {"type": ["null"]}}}
    moved = {"x": 5}
    assert evolve(null_typed, moved)["properties"]["x"]["type"] == ["integer", "null"]
    assert moved == {"x": 5}
