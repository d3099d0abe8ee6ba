"""Schema inference from sample records."""

from __future__ import annotations

from tap_rest.inference import infer_schema


def test_schema_inference_widens_types() -> None:
    schema = infer_schema(
        [
            {"id": 1, "n": 1, "tags": ["a"], "meta": {"x": 1}},
            {"id": 2, "n": 1.5, "tags": [], "meta": {"x": None, "y": "z"}, "extra": True},
        ],
        ["id"],
    )
    props = schema["properties"]
    assert props["id"]["type"] == ["integer"]
    assert props["n"]["type"] == ["null", "number"]
    assert props["tags"]["items"]["type"] == ["string"]
    assert set(props["meta"]["properties"]) == {"x", "y"}
    assert props["meta"]["properties"]["x"]["type"] == ["integer", "null"]
    assert props["extra"]["type"] == ["boolean", "null"]
    assert schema["required"] == ["id"]
