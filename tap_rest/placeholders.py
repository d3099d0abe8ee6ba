"""Placeholders: a parent record's fields, by name or path, filled into a child's requests.

A child definition maps each ``{placeholder}`` to a field of its parent's records: a name
(``id``), a dotted path (``owner.login``) or a JSONPath (``$.owner.login``). The same values
fill ``{placeholders}`` in the child's ``path``, its ``params`` values and the string values of
its ``json`` body; ``{{`` and ``}}`` write a literal brace, and a brace that does not enclose a
bare name (``{ id }``, ``{"a": 1}``) is left as it is, so GraphQL queries need no escaping.
"""

from __future__ import annotations

import json
import re
import typing as t
from dataclasses import dataclass
from urllib.parse import quote

from singer_sdk.helpers.jsonpath import extract_jsonpath

from tap_rest.errors import ParentFieldError

#: the key under which a parent hands its record to its children's ``preprocess_context``
PARENT = "_tap_rest_parent"

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
_MISSING = object()
#: characters a path segment may carry as they are (RFC 3986 pchar), and "/" between segments
_PATH_SAFE = "/:@!$&'()*+,;="


@dataclass(frozen=True)
class ParentRecord:
    """A parent's record as handed to its children, with what names it in an error."""

    stream: str
    key: dict[str, t.Any]
    record: dict[str, t.Any]


def names(template: str) -> list[str]:
    """Return the ``{placeholders}`` in a template, in order."""
    return [m.group(1) for m in _PLACEHOLDER.finditer(template) if m.group(1)]


def names_in(value: t.Any) -> list[str]:
    """Return the placeholders in every string of a JSON value (params or a body)."""
    if isinstance(value, str):
        return names(value)
    if isinstance(value, dict):
        return [n for v in value.values() for n in names_in(v)]
    if isinstance(value, list):
        return [n for v in value for n in names_in(v)]
    return []


def field_value(record: t.Mapping[str, t.Any], field: str) -> t.Any:
    """Return a record's value at a field name, dotted path or JSONPath (``_MISSING`` if none)."""
    if field.startswith("$"):
        return next(iter(extract_jsonpath(field, dict(record))), _MISSING)
    if field in record:
        return record[field]
    node: t.Any = record
    for part in field.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def child_context(
    stream: str, primary_keys: t.Sequence[str], record: t.Mapping[str, t.Any]
) -> dict[str, t.Any]:
    """Return what a parent hands its children: its whole record (children pick their fields)."""
    key = {k: record.get(k) for k in primary_keys}
    return {PARENT: ParentRecord(stream, key, dict(record))}


def parent_values(
    stream: str, fields: t.Mapping[str, str], context: t.Mapping[str, t.Any]
) -> dict[str, t.Any]:
    """Return each placeholder's value from the parent record a child context carries.

    A field that is missing, null or not a single value stops the run, naming the stream, the
    parent record's key and the field, before any request is built from it.
    """
    parent = context.get(PARENT)
    if not isinstance(parent, ParentRecord):
        return {p: context.get(p) for p in fields}  # already resolved
    values: dict[str, t.Any] = {}
    for placeholder, field in fields.items():
        value = field_value(parent.record, field)
        problem = None
        if value is _MISSING:
            problem = "has no field"
        elif value is None:
            problem = "has null at"
        elif isinstance(value, (dict, list)):
            problem = f"has {'an object' if isinstance(value, dict) else 'a list'} at"
        if problem:
            key = json.dumps(parent.key, default=str)
            msg = (
                f"Stream '{stream}': the '{parent.stream}' record {key} {problem} "
                f"'{field}' (parent.fields.{placeholder}), so {{{placeholder}}} cannot be filled"
            )
            raise ParentFieldError(msg)
        values[placeholder] = value
    return values


def query_text(value: t.Any) -> str:
    """Write a value as JSON does (``true``, not ``True``), for a URL."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def fill(template: str, values: t.Mapping[str, t.Any], *, in_path: bool = False) -> t.Any:
    """Fill a template's placeholders; a template that is one placeholder keeps its value's type.

    In a URL path each value is percent-encoded (a ``/`` in it is kept: ``owner/repo``).
    """
    whole = _PLACEHOLDER.fullmatch(template)
    if whole and whole.group(1) and not in_path:
        return values[whole.group(1)]

    def one(match: re.Match[str]) -> str:
        if match.group(0) in ("{{", "}}"):
            return match.group(0)[0]
        text = query_text(values[match.group(1)])
        return quote(text, safe=_PATH_SAFE) if in_path else text

    return _PLACEHOLDER.sub(one, template)


def fill_params(params: t.Mapping[str, t.Any], values: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """Return query parameters with their placeholders filled, every value as text."""

    def one(value: t.Any) -> str:
        return query_text(fill(value, values) if isinstance(value, str) else value)

    return {
        key: [one(v) for v in value] if isinstance(value, list) else one(value)
        for key, value in params.items()
    }


def fill_json(value: t.Any, values: t.Mapping[str, t.Any]) -> t.Any:
    """Return a JSON value (params or a body) with the placeholders of its strings filled."""
    if isinstance(value, str):
        return fill(value, values)
    if isinstance(value, dict):
        return {k: fill_json(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [fill_json(v, values) for v in value]
    return value
