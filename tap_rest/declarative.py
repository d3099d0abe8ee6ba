"""Streams described in config alone: each definition becomes a TapRestStream subclass."""

from __future__ import annotations

import re
import typing as t
from functools import cached_property

from tap_rest.client import TapRestStream
from tap_rest.incremental import (
    already_written,
    below,
    digest,
    note_written,
    seen_at_bookmark,
)
from tap_rest.pagination import (
    BodyNextLinkPaginator,
    CursorPaginator,
    GuardedPaginator,
    LinkHeaderPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    PageRequest,
    SinglePagePaginator,
    set_at_path,
)
from tap_rest.placeholders import child_context, fill, fill_json, fill_params, parent_values

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context, Record


def _first_page(options: t.Mapping[str, t.Any]) -> PageRequest | None:
    params = options.get("first_params")
    return PageRequest.with_params(params) if params else None


#: paginator type -> its factory from (options, records path, stream name)
PAGINATORS: dict[str, t.Callable[[dict, str, str], GuardedPaginator]] = {
    "single": lambda o, rp, n: SinglePagePaginator(stream_name=n),
    "offset": lambda o, rp, n: OffsetPaginator(
        int(o.get("page_size", 100)),
        offset_param=o.get("offset_param", "offset"),
        limit_param=o.get("limit_param", "limit"),
        records_path=rp,
        total_path=o.get("total_path"),
        limit_path=o.get("limit_path"),
        stop_on_short_page=o.get("stop_on_short_page", False),
        stream_name=n,
    ),
    "page": lambda o, rp, n: PageNumberPaginator(
        o.get("page_size"),
        page_param=o.get("page_param", "page"),
        size_param=o.get("size_param", "per_page"),
        records_path=rp,
        total_pages_path=o.get("total_pages_path"),
        start=int(o.get("start", 1)),
        stream_name=n,
    ),
    "next_link": lambda o, rp, n: BodyNextLinkPaginator(
        o.get("next_path", "$.next"), _first_page(o), stream_name=n
    ),
    "link_header": lambda o, rp, n: LinkHeaderPaginator(
        o.get("rel", "next"), _first_page(o), stream_name=n
    ),
    "cursor": lambda o, rp, n: CursorPaginator(
        o.get("cursor_path"),
        o.get("cursor_param"),
        has_more_path=o.get("has_more_path"),
        limit_param=o.get("limit_param"),
        page_size=o.get("page_size"),
        cursor_source=o.get("cursor_source", "body"),
        cursor_header=o.get("cursor_header"),
        cursor_location=o.get("cursor_location", "query"),
        cursor_body_path=o.get("cursor_body_path"),
        stream_name=n,
    ),
}


class DeclaredStream(TapRestStream):
    """Base of the streams built from config; each subclass carries its definition."""

    definition: t.ClassVar[dict[str, t.Any]]
    api: t.ClassVar[dict[str, t.Any]]
    #: the digest of the record being written (taken before output moves anything)
    _content = ""

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.http_method = str(self.definition.get("method", "GET"))  # POST for a search

    @property
    def url_base(self) -> str:
        """Return the stream's or its API's base URL."""
        return str(self.definition.get("base_url") or self.api["base_url"]).rstrip("/")

    @property
    def url_setting_name(self) -> str:
        """Return the setting that holds this stream's base URL (for messages)."""
        if self.definition.get("base_url"):
            return f"streams[{self.name}].base_url"
        return f"apis.{self.api_name}.base_url"

    @property
    def http_headers(self) -> dict:
        """Ask for JSON, with the API's and the stream's headers."""
        return {
            **super().http_headers,
            **self.api.get("headers", {}),
            **self.definition.get("headers", {}),
        }

    def list_paginator(self) -> GuardedPaginator:
        """Build the paginator the definition names."""
        options = dict(self.definition.get("paginator") or {"type": "single"})
        factory = PAGINATORS[options.get("type", "single")]
        return factory(options, self.records_jsonpath, self.name)

    def get_url(self, context: Context | None) -> str:
        """Fill the path's placeholders from the parent's fields."""
        return self.url_base + fill(self.definition["path"], context or {}, in_path=True)

    def get_url_params(self, context: Context | None, next_page_token: PageRequest | None) -> dict:
        """Return the definition's parameters (placeholders filled), and a query bookmark."""
        params = {
            **fill_params(self.definition.get("params", {}), context or {}),
            **super().get_url_params(context, next_page_token),
        }
        if self.run.window.applies_to(self):
            params.update(self.run.window.params(self.definition))
            return params
        start = self._bookmark(context)
        if start is not None and self.definition.get("bookmark_param"):
            params[self.definition["bookmark_param"]] = start
        return params

    def prepare_request_payload(
        self, context: Context | None, next_page_token: PageRequest | None
    ) -> dict | None:
        """Return the JSON body (placeholders filled), with the bookmark at its body path."""
        body = self.definition.get("json")
        path = self.definition.get("bookmark_body_path")
        if body is None and path is None:
            return None
        data = fill_json(body or {}, context or {})
        start = self._bookmark(context)
        if start is not None and path:
            set_at_path(data, path, start)
        return t.cast("dict", data)

    def _bookmark(self, context: Context | None) -> t.Any:
        if not self.incremental:
            return None
        return self.run.checkpoints.bookmark(self.name, context)

    @property
    def skip_statuses(self) -> set[int]:
        """Return the statuses the definition skips, with the setting's."""
        return super().skip_statuses | set(self.definition.get("skip_statuses", []))

    def get_child_context(self, record: Record, context: Context | None) -> dict:
        """Hand the whole record to children: each takes the fields it maps."""
        return child_context(self.name, self.primary_keys or (), record)

    @cached_property
    def _parent_fields(self) -> dict[str, str]:
        return dict((self.definition.get("parent") or {}).get("fields", {}))

    def preprocess_context(self, context: Context) -> Context:
        """Keep the parent values this stream maps (its partition key and STATE key)."""
        return parent_values(self.name, self._parent_fields, context)

    @property
    def replication_method(self) -> str:
        """Read a window as a full table of its window: a window run moves no bookmark.

        It has not read what lies before its window; the window's bounds go out instead of the
        bookmark (``get_url_params``), and the bookmark of the input STATE stays as it was.
        """
        if self.run.window.applies_to(self):
            return "FULL_TABLE"
        return super().replication_method

    @property
    def incremental(self) -> bool:
        """Tell whether this run reads the stream incrementally (a catalog may force full table)."""
        return bool(self.replication_key) and self.replication_method == "INCREMENTAL"

    def post_process(self, row: Record, context: Context | None = None) -> Record | None:
        """Carry the parent's values into the record; skip one written on the bookmark already."""
        if context:
            for key, value in context.items():
                row.setdefault(key, value)
        if self.incremental:
            entry = self.run.checkpoints.input_entry(self.name, context)
            bookmark = entry.get("replication_key_value")
            if self.is_sorted and below(row, t.cast("str", self.replication_key), bookmark):
                # A page resumed mid-way: its records before the bookmark were written.
                return None
            if already_written(
                row,
                replication_key=t.cast("str", self.replication_key),
                primary_keys=self.primary_keys or (),
                bookmark=bookmark,
                seen=seen_at_bookmark(entry),
            ):
                return None
            # What the record holds now, before output moves anything (the next run compares).
            self._content = digest(row)
        return row

    def _after_written(self, latest_record: Record, context: Context | None) -> None:
        """Keep the keys of the records written on the bookmark."""
        if self.incremental:
            note_written(
                self.get_context_state(context),
                latest_record,
                replication_key=t.cast("str", self.replication_key),
                primary_keys=self.primary_keys or (),
                content=self._content,
            )


def stream_class(
    definition: dict[str, t.Any], apis: t.Mapping[str, t.Any], parent: type[TapRestStream] | None
) -> type[DeclaredStream]:
    """Make the stream class a definition describes."""
    name = definition["name"]
    api_name = definition.get("api")
    schema = definition.get("schema")
    fields = dict((definition.get("parent") or {}).get("fields", {}))
    paginator = definition.get("paginator") or {}
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
        # An incremental child keeps a bookmark per parent; a full-table one, one per stream. A
        # top-level stream has no partitions: None lets the SDK honour is_sorted (with [], it
        # keeps every bookmark as a non-resumable progress marker).
        "state_partitioning_keys": None
        if parent is None or (definition.get("replication_key") and fields)
        else [],
        "is_sorted": bool(definition.get("is_sorted", False)),
        "schema_evolution": definition.get("schema_evolution", "freeze"),
        # The offset paginator's total is the list's total: checked unless another is named.
        "total_path": definition.get("total_path")
        or (None if definition.get("total_header") else paginator.get("total_path")),
        "total_header": definition.get("total_header"),
        "on_incomplete": definition.get("on_incomplete", "warn"),
    }
    if schema is not None:
        attributes["schema"] = schema
    return type(re.sub(r"\W", "_", name).title().replace("_", ""), (DeclaredStream,), attributes)


def declared_classes(
    definitions: t.Iterable[dict[str, t.Any]],
    apis: t.Mapping[str, t.Any],
    schema_of: t.Callable[[type[DeclaredStream]], dict[str, t.Any]],
) -> list[type[DeclaredStream]]:
    """Make each definition's class, parents first; ``schema_of`` gives a schema not declared.

    ``schema_of`` receives a class without a schema (its parent's class already made) and
    returns the schema: from the catalog, or inferred from samples.
    """
    classes: dict[str, type[DeclaredStream]] = {}
    pending = list(definitions)
    while pending:
        ready = [d for d in pending if (d.get("parent") or {}).get("stream") in (None, *classes)]
        if not ready:
            break  # a cycle or a missing parent: validation has named it
        for given in ready:
            pending.remove(given)
            parent = classes.get((given.get("parent") or {}).get("stream", ""))
            definition = given
            if "schema" not in given:
                # A schema the tap inferred grows with the records, unless told otherwise.
                inferred = schema_of(stream_class(given, apis, parent))
                definition = {"schema_evolution": "evolve", **given, "schema": inferred}
            classes[given["name"]] = stream_class(definition, apis, parent)
    return list(classes.values())
