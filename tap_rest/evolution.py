"""Schema evolution: where a record does not fit its schema, and the schema grown to hold it.

A new field becomes a new (nullable) property: a target adds a column. A value of another type
than its field's never changes that field's type, which most targets cannot alter (target-postgres
refuses BIGINT to TEXT): it goes to a variant field named after its type, ``amount__v_number`` or
``reference__v_string``, as dlt's variant columns do. Inside an object field (a JSON column) the
object's schema simply widens.
"""

from __future__ import annotations

import typing as t

from tap_rest.inference import merge, nullable, schema_of

_JSON_TYPES: dict[type, str] = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    type(None): "null",
    dict: "object",
    list: "array",
}


class Gap(t.NamedTuple):
    """A place where a record does not fit its schema."""

    path: str
    #: ``field`` (the schema lacks it: it would be dropped) or ``type`` (a type it does not admit)
    kind: str
    detail: str


def _admits(schema: t.Mapping[str, t.Any], kind: str) -> bool:
    types = schema.get("type")
    if types is None:
        return True
    types = [types] if isinstance(types, str) else types
    return kind in types or (kind == "integer" and "number" in types)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def gaps(schema: t.Mapping[str, t.Any], value: t.Any, path: str = "") -> list[Gap]:
    """Return where a value does not fit a schema: fields it lacks, types it does not admit.

    A schema without a ``type`` (``{}``, ``anyOf``...) admits anything; an object's unknown
    fields fit when it allows ``additionalProperties`` (the SDK keeps them then).
    """
    kind = _JSON_TYPES.get(type(value), "string")
    if not _admits(schema, kind):
        return [Gap(path or "(record)", "type", kind)]
    found: list[Gap] = []
    if kind == "object" and "properties" in schema:
        properties = schema["properties"]
        for key, item in value.items():
            sub = properties.get(key)
            if sub is not None:
                found += gaps(sub, item, _join(path, key))
            elif item is not None and not schema.get("additionalProperties"):
                found.append(Gap(_join(path, key), "field", _JSON_TYPES.get(type(item), "string")))
    elif kind == "array" and isinstance(schema.get("items"), dict):
        for item in value:
            for gap in gaps(schema["items"], item, f"{path}[]"):
                if gap not in found:
                    found.append(gap)
    return found


def drop_unknown_nulls(schema: t.Mapping[str, t.Any], record: dict[str, t.Any]) -> None:
    """Remove the null fields a schema does not know, nested ones too: nothing is lost."""
    properties = schema.get("properties")
    if properties is None or schema.get("additionalProperties"):
        return
    for key in list(record):
        value, sub = record[key], properties.get(key)
        if sub is None:
            if value is None:
                del record[key]
        elif isinstance(value, dict):
            drop_unknown_nulls(sub, value)


def variant_name(field: str, value: t.Any) -> str:
    """Return the field that holds a value of another type than ``field``'s."""
    return f"{field}__v_{_JSON_TYPES.get(type(value), 'string')}"


class FixedFieldError(ValueError):
    """A key property (or the replication key) holds a value of another type than its own."""

    def __init__(self, field: str, value: t.Any, schema: t.Mapping[str, t.Any]) -> None:
        kind = _JSON_TYPES.get(type(value), "string")
        super().__init__(
            f"field '{field}' holds a {kind} ({value!r:.40}) where its schema says "
            f"{schema.get('type')}: a key cannot move to a variant field; declare its type in "
            "the stream's schema"
        )


def _null_only(schema: t.Mapping[str, t.Any]) -> bool:
    types = schema.get("type")
    return types == "null" or (isinstance(types, list) and set(types) <= {"null"} and types != [])


def evolve(
    schema: dict[str, t.Any], record: dict[str, t.Any], fixed: t.Collection[str] = ()
) -> dict[str, t.Any]:
    """Return the schema grown to hold the record, moving its values of other types (in place).

    Fields the schema lacks become nullable properties (a field that is only null so far is
    left out: there is nothing to keep); a value whose type its field does not admit (or an
    array whose items do not fit) moves to its variant field; a nested object that does not
    fit, or a field that was only ever null, widens where it is. A ``fixed`` field (a key) never
    moves: a value of another type there raises ``FixedFieldError``.
    """
    properties = dict(schema.get("properties", {}))
    for key in list(record):
        value = record[key]
        sub = properties.get(key)
        if sub is None:
            if value is None:
                del record[key]  # no column for it yet, and nothing to lose
            elif not schema.get("additionalProperties"):
                properties[key] = nullable(schema_of(value))
            continue
        found = gaps(sub, value, key)
        if not found:
            continue
        moves = any(g.path == key or g.path.startswith(f"{key}[]") for g in found)
        if moves and key in fixed:
            raise FixedFieldError(key, value, sub)
        if moves and not _null_only(sub):
            variant = variant_name(key, value)
            record[variant] = record.pop(key)
            target = properties.get(variant)
            if target is None:
                properties[variant] = nullable(schema_of(value))
            elif gaps(target, value, variant):
                properties[variant] = merge(target, schema_of(value))
        else:
            properties[key] = merge(sub, schema_of(value))
    return {**schema, "properties": properties}
