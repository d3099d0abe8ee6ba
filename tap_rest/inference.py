"""Schema inference: a JSON Schema from sample records, types widened across every record."""

from __future__ import annotations

import logging
import typing as t

if t.TYPE_CHECKING:
    from tap_rest.declarative import DeclaredStream

logger = logging.getLogger("tap-rest")

SAMPLE_PAGES, SAMPLE_RECORDS, SAMPLE_PARENTS = 3, 1000, 10


def _types(schema: dict[str, t.Any]) -> list[str]:
    kinds = schema.get("type", [])
    return [kinds] if isinstance(kinds, str) else list(kinds)


def merge(a: dict[str, t.Any] | None, b: dict[str, t.Any]) -> dict[str, t.Any]:
    """Widen schema a to accept what schema b accepts, keeping a's other keywords.

    An unconstrained schema (no type: ``{}``, ``anyOf``) already accepts everything.
    """
    if a is None:
        return b
    if not _types(a):
        return a
    types = set(_types(a)) | set(_types(b))
    if {"integer", "number"} <= types:
        types.discard("integer")
    merged: dict[str, t.Any] = {**a, "type": sorted(types)}
    if "object" in types and ("properties" in a or "properties" in b):
        props = dict(a.get("properties", {}))
        for key, sub in b.get("properties", {}).items():
            props[key] = merge(props[key], sub) if key in props else nullable(sub)
        merged["properties"] = props
    if "array" in types:
        items = merge(a.get("items"), b["items"]) if "items" in b else a.get("items")
        merged["items"] = items or {}
    return merged


def nullable(schema: dict[str, t.Any]) -> dict[str, t.Any]:
    """Return the schema admitting null too (a field that some records lack)."""
    types = _types(schema)
    return schema if not types or "null" in types else {**schema, "type": sorted({*types, "null"})}


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
    # A field only ever null in the sample says nothing of its type: left out, it is added by
    # schema evolution with its type when a value comes (a null-typed column could not take it).
    properties = {
        name: prop if name in primary_keys else nullable(prop)
        for name, prop in (merged or {}).get("properties", {}).items()
        if prop.get("type") != ["null"]
    }
    return {"type": "object", "properties": properties, "required": list(primary_keys)}


def spread(items: list[t.Any], count: int) -> list[t.Any]:
    """Return up to ``count`` items spread evenly across the list, first and last included."""
    if len(items) <= count:
        return list(items)
    step = (len(items) - 1) / (count - 1)
    return [items[round(n * step)] for n in range(count)]


class Sampler:
    """Reads a few pages of declared streams to infer their schemas, parents' samples kept.

    A list is sampled over its first pages; a child over parents spread across its parent's
    sample, not the first one alone. What a sample misses, schema evolution adds at sync time.
    ``make`` instantiates a stream class with an empty schema (the tap's and run's wiring).
    """

    def __init__(self, make: t.Callable[[type[DeclaredStream]], DeclaredStream]) -> None:
        self.make = make
        self.samples: dict[str, list[dict]] = {}

    def _records(
        self, cls: type[DeclaredStream], contexts: list[t.Mapping[str, t.Any] | None]
    ) -> list[dict]:
        stream = self.make(cls)
        records: list[dict] = []
        for context in contexts:
            pages = stream.pages(context, stream.get_new_paginator())
            for n, page in enumerate(pages):
                records += [stream.post_process(dict(r), context) or r for r in page]
                if n >= SAMPLE_PAGES - 1 or len(records) >= SAMPLE_RECORDS:
                    break
            if len(records) >= SAMPLE_RECORDS:
                break
        return records

    def schema(self, cls: type[DeclaredStream]) -> dict[str, t.Any]:
        """Infer a stream's schema from a few pages of its records."""
        name, keys = cls.definition["name"], cls.definition["primary_keys"]
        contexts: list[t.Mapping[str, t.Any] | None] = [None]
        if cls.parent_stream_type is not None:
            parent = t.cast("type[DeclaredStream]", cls.parent_stream_type)
            parents = self.samples.get(parent.definition["name"])
            if parents is None:
                parents = self.samples[parent.definition["name"]] = self._records(parent, [None])
            child, reader = self.make(cls), self.make(parent)
            contexts = [
                child.preprocess_context(reader.get_child_context(record, None))
                for record in spread(parents, SAMPLE_PARENTS)
            ]
        records = self.samples[name] = self._records(cls, contexts)
        logger.info("Inferred the schema of '%s' from %d records", name, len(records))
        return infer_schema(records, keys)
