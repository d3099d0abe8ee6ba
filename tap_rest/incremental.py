"""Incremental boundaries: the records that sit exactly on the bookmark are written once.

The bookmark (the largest replication key value written) goes back to the API as
``bookmark_param``. Many APIs filter inclusively (``>=``): the records on the bookmark come again
on the next run. The keys of the records written at the bookmark are kept beside it in STATE, so
that the next run skips exactly those and no other: a record that arrived later with the same
value is still written, never lost.
"""

from __future__ import annotations

import typing as t

#: the STATE key, beside ``replication_key_value``, of the keys written at that value
EDGE = "keys_at_bookmark"
#: keys kept at most; beyond, records on the bookmark may be written again (never lost)
MAX_KEYS = 100


def _key(record: t.Mapping[str, t.Any], primary_keys: t.Sequence[str]) -> list[t.Any]:
    return [record.get(k) for k in primary_keys]


def seen_at_bookmark(state: t.Mapping[str, t.Any]) -> list[list[t.Any]]:
    """Return the keys an input STATE entry says were written at its bookmark."""
    edge = state.get(EDGE) or {}
    if not edge or edge.get("value") != state.get("replication_key_value") or edge.get("full"):
        return []
    return list(edge.get("keys") or [])


def already_written(
    record: t.Mapping[str, t.Any],
    *,
    replication_key: str,
    primary_keys: t.Sequence[str],
    bookmark: t.Any,
    seen: t.Sequence[t.Sequence[t.Any]],
) -> bool:
    """Tell whether a record is one the run that set the bookmark wrote already."""
    return (
        bookmark is not None
        and record.get(replication_key) == bookmark
        and _key(record, primary_keys) in seen
    )


def note_written(
    state: dict[str, t.Any],
    record: t.Mapping[str, t.Any],
    *,
    replication_key: str,
    primary_keys: t.Sequence[str],
) -> None:
    """Keep the keys of the records written at the highest value seen, in a STATE entry."""
    value = record.get(replication_key)
    if value is None:
        return
    edge = state.get(EDGE)
    try:
        newer = edge is None or value > edge["value"]
    except TypeError:  # values of different types: no edge to keep
        state.pop(EDGE, None)
        return
    key = _key(record, primary_keys)
    if newer or edge is None:
        state[EDGE] = {"value": value, "keys": [key]}
    elif value == edge["value"] and key not in edge["keys"]:
        if len(edge["keys"]) < MAX_KEYS:
            edge["keys"].append(key)
        else:
            edge["full"] = True
