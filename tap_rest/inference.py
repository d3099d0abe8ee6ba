"""Schema inference: a JSON Schema from sample records, types widened across every record."""

from __future__ import annotations

import logging
import typing as t

if t.TYPE_CHECKING:
    from tap_rest.declarative import DeclaredStream

logger = logging.getLogger("tap-rest")

SAMPLE_PAGES, SAMPLE_RECORDS = 3, 1000


def _types(schema: dict[str, t.Any]) -> list[str]:
    kinds = schema.get("type", [])
    return [kinds] if isinstance(kinds, str) else list(kinds)


def merge(a: dict[str, t.Any] | None, b: dict[str, t.Any]) -> dict[str, t.Any]:
    """Widen schema a to accept what schema b accepts."""
    if a is None:
        return b
    types = set(_types(a)) | set(_types(b))
    if {"integer", "number"} <= types:
        types.discard("integer")
    merged: dict[str, t.Any] = {"type": sorted(types)}
    if "object" in types:
        props = dict(a.get("properties", {}))
        for key, sub in b.get("properties", {}).items():
            props[key] = merge(props.get(key), sub)
        merged["properties"] = props
    if "array" in types:
        items = merge(a.get("items"), b["items"]) if "items" in b else a.get("items")
        merged["items"] = items or {}
    return merged


def schema_of(value: t.Any) -> dict[str, t.Any]:
    """Return the schema of one JSON value."""
    if value is None:
        return {"type": ["null"]}
    if isinstance(value, bool):
        return {"type": ["boolean"]}
    if isinstance(value, int):
        return {"type": ["integer"]}
    if isinstance(value, float):
        return {"type": ["number"]}
    if isinstance(value, str):
        return {"type": ["string"]}
    if isinstance(value, list):
        items: dict[str, t.Any] | None = None
        for item in value:
            items = merge(items, schema_of(item))
        return {"type": ["array"], "items": items or {}}
    if isinstance(value, dict):
        return {"type": ["object"], "properties": {k: schema_of(v) for k, v in value.items()}}
    return {}


def infer_schema(records: t.Iterable[dict], primary_keys: t.Sequence[str]) -> dict[str, t.Any]:
    """Infer a stream's schema from sample records: types widened, every field nullable but keys."""
    merged: dict[str, t.Any] | None = None
    for record in records:
        merged = merge(merged, schema_of(record))
    properties = dict((merged or {}).get("properties", {}))
    for name, prop in properties.items():
        if name not in primary_keys and "null" not in _types(prop):
            prop["type"] = sorted({*_types(prop), "null"})
    return {"type": "object", "properties": properties, "required": list(primary_keys)}


class Sampler:
    """Reads a few pages of declared streams to infer their schemas, parents' samples kept.

    ``make`` instantiates a stream class with an empty schema (the tap's and run's wiring).
    """

    def __init__(self, make: t.Callable[[type[DeclaredStream]], DeclaredStream]) -> None:
        self.make = make
        self.samples: dict[str, list[dict]] = {}

    def schema(self, cls: type[DeclaredStream]) -> dict[str, t.Any]:
        """Infer a stream's schema from a few pages of its records."""
        name, keys = cls.definition["name"], cls.definition["primary_keys"]
        probe = self.make(cls)
        context = None
        if cls.parent_stream_type is not None:
            parent = t.cast("type[DeclaredStream]", cls.parent_stream_type)
            parents = self.samples.get(parent.definition["name"])
            if parents is None:
                sampler = self.make(parent)
                first = sampler._pages(None, sampler.get_new_paginator())
                parents = self.samples[parent.definition["name"]] = next(iter(first), [])
            if not parents:
                return infer_schema([], keys)
            context = probe.preprocess_context(parents[0])
        records: list[dict] = []
        for n, page in enumerate(probe._pages(context, probe.get_new_paginator())):
            records += [probe.post_process(dict(r), context) or r for r in page]
            if n >= SAMPLE_PAGES - 1 or len(records) >= SAMPLE_RECORDS:
                break
        self.samples[name] = records
        logger.info("Inferred the schema of '%s' from %d records", name, len(records))
        return infer_schema(records, keys)
