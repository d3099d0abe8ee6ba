"""Streams described in config alone (the ``streams`` and ``apis`` settings).

Each definition becomes a ``TapRestStream`` subclass at discovery, on the very machinery the
built-in streams use: paginators, authenticators, rate limiter, retries, concurrency.
"""

from __future__ import annotations

import re
import typing as t
from functools import cached_property
from string import Formatter

from jsonpath_ng.ext import parse as parse_jsonpath

from tap_rest.client import TapRestStream
from tap_rest.pagination import (
    BodyNextLinkPaginator,
    CursorPaginator,
    GuardedPaginator,
    LinkHeaderPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    PageRequest,
    SinglePagePaginator,
)

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context, Record


def _first_page(options: t.Mapping[str, t.Any]) -> PageRequest | None:
    params = options.get("first_params")
    return PageRequest.with_params(params) if params else None


#: paginator type -> (factory from options, records path, options it takes)
PAGINATORS: dict[str, tuple[t.Callable[[dict, str, str], GuardedPaginator], frozenset[str]]] = {
    "single": (lambda o, rp, n: SinglePagePaginator(stream_name=n), frozenset()),
    "offset": (
        lambda o, rp, n: OffsetPaginator(
            int(o.get("page_size", 100)),
            offset_param=o.get("offset_param", "offset"),
            limit_param=o.get("limit_param", "limit"),
            records_path=rp,
            total_path=o.get("total_path"),
            stop_on_short_page=o.get("stop_on_short_page", True),
            stream_name=n,
        ),
        frozenset({"page_size", "offset_param", "limit_param", "total_path", "stop_on_short_page"}),
    ),
    "page": (
        lambda o, rp, n: PageNumberPaginator(
            o.get("page_size"),
            page_param=o.get("page_param", "page"),
            size_param=o.get("size_param", "per_page"),
            records_path=rp,
            total_pages_path=o.get("total_pages_path"),
            start=int(o.get("start", 1)),
            stream_name=n,
        ),
        frozenset({"page_size", "page_param", "size_param", "total_pages_path", "start"}),
    ),
    "next_link": (
        lambda o, rp, n: BodyNextLinkPaginator(
            o.get("next_path", "$.next"), _first_page(o), stream_name=n
        ),
        frozenset({"next_path", "first_params"}),
    ),
    "link_header": (
        lambda o, rp, n: LinkHeaderPaginator(o.get("rel", "next"), _first_page(o), stream_name=n),
        frozenset({"rel", "first_params"}),
    ),
    "cursor": (
        lambda o, rp, n: CursorPaginator(
            o["cursor_path"],
            o["cursor_param"],
            has_more_path=o.get("has_more_path"),
            limit_param=o.get("limit_param"),
            page_size=o.get("page_size"),
            stream_name=n,
        ),
        frozenset({"cursor_path", "cursor_param", "has_more_path", "limit_param", "page_size"}),
    ),
}
_REQUIRED_OPTIONS = {"cursor": ("cursor_path", "cursor_param")}
_JSONPATH_OPTIONS = ("total_path", "total_pages_path", "next_path", "cursor_path", "has_more_path")


def placeholders(path: str) -> list[str]:
    """Return the ``{names}`` in a path template."""
    return [name for _, name, _, _ in Formatter().parse(path) if name]


def definition_problems(
    streams: list[dict[str, t.Any]], apis: t.Mapping[str, t.Any], builtin: set[str]
) -> list[str]:
    """Return what is wrong with the ``streams`` setting, each naming the stream and field."""
    problems: list[str] = []
    names = [d.get("name", "") for d in streams]
    by_name = {d.get("name"): d for d in streams}
    for n, definition in enumerate(streams):
        name = definition.get("name") or f"#{n + 1}"
        where = f"streams[{name}]"
        if name in builtin:
            problems.append(f"{where}.name: '{name}' is a built-in stream")
        if names.count(name) > 1:
            problems.append(f"{where}.name: defined more than once")
        api = definition.get("api")
        if api and api not in apis:
            problems.append(f"{where}.api: no API named '{api}' in apis")
        if not api and not definition.get("base_url"):
            problems.append(f"{where}: needs base_url or api")
        if not definition.get("primary_keys"):
            problems.append(f"{where}.primary_keys: required (the fields that identify a record)")
        paginator = definition.get("paginator") or {"type": "single"}
        kind = paginator.get("type", "single")
        if kind not in PAGINATORS:
            problems.append(
                f"{where}.paginator.type: '{kind}' is not one of {', '.join(PAGINATORS)}"
            )
        else:
            allowed = PAGINATORS[kind][1] | {"type"}
            problems += [
                f"{where}.paginator.{option}: not an option of paginator '{kind}' "
                f"(its options: {', '.join(sorted(allowed - {'type'})) or 'none'})"
                for option in sorted(set(paginator) - allowed)
            ]
            problems += [
                f"{where}.paginator.{option}: required by paginator '{kind}'"
                for option in _REQUIRED_OPTIONS.get(kind, ())
                if not paginator.get(option)
            ]
        for field, path in [
            ("records_path", definition.get("records_path", "$[*]")),
            *((f"paginator.{o}", paginator.get(o)) for o in _JSONPATH_OPTIONS),
        ]:
            if path is None:
                continue
            try:
                parse_jsonpath(path)
            except Exception as exc:  # jsonpath-ng raises several kinds
                problems.append(f"{where}.{field}: '{path}' is not a JSONPath ({exc})")
        parent = definition.get("parent")
        fields = (parent or {}).get("fields", {})
        if parent:
            if parent.get("stream") not in by_name:
                problems.append(
                    f"{where}.parent.stream: no stream '{parent.get('stream')}' in streams"
                )
            elif _has_cycle(name, t.cast("dict[str, dict]", by_name)):
                problems.append(f"{where}.parent: the parents form a cycle")
        for placeholder in placeholders(definition.get("path", "")):
            if placeholder not in fields:
                problems.append(
                    f"{where}.path: no parent field fills the placeholder {{{placeholder}}} "
                    "(map it in parent.fields)"
                )
        if definition.get("replication_key") and not definition.get("bookmark_param"):
            problems.append(f"{where}.bookmark_param: required with replication_key")
    return problems


def _has_cycle(name: str, by_name: t.Mapping[str, dict]) -> bool:
    seen = {name}
    current = by_name.get(name)
    while current and current.get("parent"):
        parent = current["parent"].get("stream")
        if parent in seen:
            return True
        seen.add(parent)
        current = by_name.get(parent)
    return False


class DeclaredStream(TapRestStream):
    """Base of the streams built from config; each subclass carries its definition."""

    definition: t.ClassVar[dict[str, t.Any]]
    api: t.ClassVar[dict[str, t.Any]]

    @property
    def url_base(self) -> str:
        """Return the stream's or its API's base URL."""
        return str(self.definition.get("base_url") or self.api["base_url"]).rstrip("/")

    @property
    def http_headers(self) -> dict:
        """Ask for JSON, with the API's and the stream's headers."""
        return {
            **super().http_headers,
            **self.api.get("headers", {}),
            **self.definition.get("headers", {}),
        }

    @property
    def page_size(self) -> int:
        """Return the paginator's page size, else the tap's."""
        return int((self.definition.get("paginator") or {}).get("page_size") or super().page_size)

    def list_paginator(self) -> GuardedPaginator:
        """Build the paginator the definition names."""
        options = dict(self.definition.get("paginator") or {"type": "single"})
        factory = PAGINATORS[options.get("type", "single")][0]
        return factory(options, self.records_jsonpath, self.name)

    def get_url_params(self, context: Context | None, next_page_token: PageRequest | None) -> dict:
        """Return the definition's parameters, and the bookmark on incremental streams."""
        params = {
            **self.definition.get("params", {}),
            **super().get_url_params(context, next_page_token),
        }
        if self.replication_key:
            start = t.cast("t.Any", self._tap).bookmark(self.name, context)
            if start is not None:
                params[self.definition["bookmark_param"]] = start
        return params

    @property
    def skip_statuses(self) -> set[int]:
        """Return the statuses the definition skips, with the setting's."""
        return super().skip_statuses | set(self.definition.get("skip_statuses", []))

    def get_child_context(self, record: Record, context: Context | None) -> dict:
        """Hand the whole record to children: each takes the fields it maps."""
        return {"_parent": self.name, **{k: v for k, v in record.items() if _scalar(v)}}

    @cached_property
    def _parent_fields(self) -> dict[str, str]:
        return dict((self.definition.get("parent") or {}).get("fields", {}))

    def get_url(self, context: Context | None) -> str:
        """Fill the path's placeholders from the parent's fields."""
        values = {
            placeholder: (context or {}).get(placeholder) for placeholder in self._parent_fields
        }
        return self.url_base + self.definition["path"].format(**values)

    def preprocess_context(self, context: Context) -> Context:
        """Keep only the parent fields this stream maps (its partition key and STATE key)."""
        return {
            placeholder: context.get(field) for placeholder, field in self._parent_fields.items()
        }

    def post_process(self, row: Record, context: Context | None = None) -> Record | None:
        """Carry the parent's fields into the record, under the placeholder names."""
        if context:
            for key, value in context.items():
                row.setdefault(key, value)
        return row


def _scalar(value: t.Any) -> bool:
    return isinstance(value, (str, int, float, bool)) or value is None


def stream_class(
    definition: dict[str, t.Any], apis: t.Mapping[str, t.Any], parent: type[TapRestStream] | None
) -> type[DeclaredStream]:
    """Make the stream class a definition describes."""
    name = definition["name"]
    api_name = definition.get("api")
    schema = definition.get("schema")
    fields = dict((definition.get("parent") or {}).get("fields", {}))
    attributes: dict[str, t.Any] = {
        "name": name,
        "path": definition["path"],
        "definition": definition,
        "api": dict(apis.get(api_name, {})) if api_name else {},
        "api_name": api_name,
        "primary_keys": tuple(definition["primary_keys"]),
        "records_jsonpath": definition.get("records_path", "$[*]"),
        "replication_key": definition.get("replication_key"),
        "parent_stream_type": parent,
        # An incremental child keeps a bookmark per parent; a full-table one, one per stream.
        "state_partitioning_keys": None if definition.get("replication_key") and fields else [],
        "is_sorted": bool(definition.get("is_sorted", False)),
    }
    if schema is not None:
        attributes["schema"] = schema
    return type(re.sub(r"\W", "_", name).title().replace("_", ""), (DeclaredStream,), attributes)


def _merge(a: dict[str, t.Any] | None, b: dict[str, t.Any]) -> dict[str, t.Any]:
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
            props[key] = _merge(props.get(key), sub)
        merged["properties"] = props
    if "array" in types:
        items = _merge(a.get("items"), b["items"]) if "items" in b else a.get("items")
        merged["items"] = items or {}
    return merged


def _types(schema: dict[str, t.Any]) -> list[str]:
    kinds = schema.get("type", [])
    return [kinds] if isinstance(kinds, str) else list(kinds)


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
            items = _merge(items, schema_of(item))
        return {"type": ["array"], "items": items or {}}
    if isinstance(value, dict):
        return {"type": ["object"], "properties": {k: schema_of(v) for k, v in value.items()}}
    return {}


def infer_schema(records: t.Iterable[dict], primary_keys: t.Sequence[str]) -> dict[str, t.Any]:
    """Infer a stream's schema from sample records: types widened, every field nullable but keys."""
    merged: dict[str, t.Any] | None = None
    for record in records:
        merged = _merge(merged, schema_of(record))
    properties = dict((merged or {}).get("properties", {}))
    for name, prop in properties.items():
        if name not in primary_keys and "null" not in _types(prop):
            prop["type"] = sorted({*_types(prop), "null"})
    return {"type": "object", "properties": properties, "required": list(primary_keys)}
