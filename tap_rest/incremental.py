"""Incremental boundaries: the records that sit exactly on the bookmark are written once.

The bookmark (the largest replication key value written) goes back to the API as
``bookmark_param``. Many APIs filter inclusively (``>=``): the records on the bookmark come again
on the next run. The keys of the records written at the bookmark, each with a digest of its
content, are kept beside it in STATE, so that the next run skips exactly those and no other: a
record that arrived later with the same value, or changed without its value moving (a date-only
``updated_on``), is still written, never lost. Without key properties nothing is skipped.
"""

from __future__ import annotations

import hashlib
import json
import typing as t

#: the STATE key, beside ``replication_key_value``, of the keys written at that value
EDGE = "keys_at_bookmark"
#: keys kept at most; beyond, records on the bookmark may be written again (never lost)
MAX_KEYS = 100


def _key(record: t.Mapping[str, t.Any], primary_keys: t.Sequence[str]) -> list[t.Any]:
    return [record.get(k) for k in primary_keys]


def digest(record: t.Mapping[str, t.Any]) -> str:
    """Return a short digest of a record's content (canonical JSON)."""
    text = json.dumps(record, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def seen_at_bookmark(state: t.Mapping[str, t.Any]) -> list[list[t.Any]]:
    """Return the (key, digest) pairs an input STATE entry says were written at its bookmark."""
    edge = state.get(EDGE) or {}
    if not edge or edge.get("value") != state.get("replication_key_value") or edge.get("full"):
        return []
    # An entry without a digest (an older STATE) is no proof of the same content.
    return [entry for entry in edge.get("keys") or [] if len(entry) == 2]


def below(record: t.Mapping[str, t.Any], replication_key: str, bookmark: t.Any) -> bool:
    """Tell whether a sorted stream's record lies before its bookmark (written, on a replay)."""
    value = record.get(replication_key)
    try:
        return bookmark is not None and value is not None and value < bookmark
    except TypeError:
        return False


def already_written(
    record: t.Mapping[str, t.Any],
    *,
    replication_key: str,
    primary_keys: t.Sequence[str],
    bookmark: t.Any,
    seen: t.Sequence[t.Sequence[t.Any]],
) -> bool:
    """Tell whether a record is one the run that set the bookmark wrote already, unchanged."""
    return (
        bookmark is not None
        and bool(primary_keys)
        and record.get(replication_key) == bookmark
        and [_key(record, primary_keys), digest(record)] in seen
    )


def note_written(
    state: dict[str, t.Any],
    record: t.Mapping[str, t.Any],
    *,
    replication_key: str,
    primary_keys: t.Sequence[str],
    content: str,
) -> None:
    """Keep the key and ``content`` digest of each record written at the highest value seen."""
    value = record.get(replication_key)
    if value is None or not primary_keys:
        return
    edge = state.get(EDGE)
    try:
        newer = edge is None or value > edge["value"]
    except TypeError:  # values of different types: no edge to keep
        state.pop(EDGE, None)
        return
    entry = [_key(record, primary_keys), content]
    if newer or edge is None:
        state[EDGE] = {"value": value, "keys": [entry]}
    elif value == edge["value"] and entry not in edge["keys"]:
        if len(edge["keys"]) < MAX_KEYS:
            edge["keys"].append(entry)
        else:
            edge["full"] = True
