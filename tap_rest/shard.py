"""Shards: which of n processes owns a parent, an entity, a page or a whole stream.

The n shards of one config together emit exactly the records of an unsharded run, each record
in one shard, without talking to one another. Every rule is a pure function of the config, the
stream and the record, so that each shard reaches the same answer on any machine:

- a child never decides: it follows its parent record, so a subtree stays in one shard;
- a stream whose records have children to read (a parent), and entities fetched by id, are
  split by a stable hash of each record's primary key: every shard reads the list, only the
  owner emits a record and reads its children;
- a flat list paged by offset or page number is split by page (``tap_rest.stride``): shard i
  reads list pages i, i+n, ... and nothing else;
- any other list (a next link, a ``Link`` header, a cursor, one page, or an incremental list
  whose bookmark differs from shard to shard) belongs whole to the shard its name hashes to.
"""

from __future__ import annotations

import enum
import hashlib
import json
import typing as t
from dataclasses import dataclass, field

from singer_sdk.exceptions import ConfigValidationError

from tap_rest.pagination import GuardedPaginator, OffsetPaginator, PageNumberPaginator
from tap_rest.stride import StridedOffsetPaginator, StridedPageNumberPaginator

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

#: the STATE key that says which shard wrote a STATE (its bookmarks cover that shard alone)
STATE_KEY = "tap_rest_shard"


class Split(enum.Enum):
    """How a stream's records are shared out among the shards."""

    ALL = "all"  # every record here: an unsharded run, or a child (it follows its parent)
    KEYS = "keys"  # by a hash of each record's primary key (parents, entities by id)
    PAGES = "pages"  # by list page: shard i reads pages i, i+n, ...
    WHOLE = "whole"  # the whole stream in the shard its name hashes to


def owner(value: t.Any, count: int) -> int:
    """Return the shard (0 to count - 1) that owns a value, the same on every machine.

    The value's canonical JSON is hashed with BLAKE2b: Python's ``hash()`` differs from one
    process to the next.
    """
    if count <= 1:
        return 0
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.blake2b(canonical.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


def record_key(stream: t.Any, record: dict, context: Context | None) -> list[t.Any]:
    """Return a record's primary key values, as the stream will emit them (post-processed)."""
    processed = stream.post_process(dict(record), context) or record
    return [processed.get(key) for key in stream.primary_keys or ()]


def known_entity_key(value: t.Any) -> int | None:
    """Return the primary key an entity id stands for before fetching it, if it is a number."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None  # a name: its key is known once the entity is fetched


@dataclass(frozen=True)
class Shard:
    """This process's shard: ``index`` of ``count`` (0 of 1 when the run is not sharded)."""

    index: int = 0
    count: int = 1
    _splits: dict[str, Split] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_config(cls, config: t.Mapping[str, t.Any]) -> Shard:
        """Read the ``shard`` setting (validation has checked it)."""
        setting = config.get("shard") or {}
        return cls(int(setting.get("index", 0)), int(setting.get("count", 1)))

    @property
    def sharded(self) -> bool:
        """Tell whether the work is split at all."""
        return self.count > 1

    def __str__(self) -> str:
        return f"shard {self.index} of {self.count}"

    def owns(self, value: t.Any) -> bool:
        """Tell whether this shard owns a value (a key, a stream name)."""
        return owner(value, self.count) == self.index

    # --- how a stream is split -----------------------------------------------------------

    def split(self, stream: t.Any) -> Split:
        """Return how a stream's records are split among the shards (decided once a run)."""
        if stream.name not in self._splits:
            self._splits[stream.name] = self._split(stream)
        return self._splits[stream.name]

    def _split(self, stream: t.Any) -> Split:
        if not self.sharded or stream.parent_stream_type is not None:
            return Split.ALL
        if getattr(stream, "entity_ids", None) or stream.syncs_children:
            return Split.KEYS
        # An incremental list is filtered by each shard's own bookmark, so the shards' pages
        # differ: only a window (the same bounds everywhere) keeps them the same.
        if stream.replication_key and not stream.run.window.applies_to(stream):
            return Split.WHOLE
        if isinstance(stream.list_paginator(), (OffsetPaginator, PageNumberPaginator)):
            return Split.PAGES
        return Split.WHOLE

    def reads(self, stream: t.Any) -> bool:
        """Tell whether this shard reads a top-level stream at all (a whole one is one shard's)."""
        return self.split(stream) is not Split.WHOLE or self.owns(stream.name)

    def reads_whole_list(self, stream: t.Any) -> bool:
        """Tell whether this shard reads every page of a stream's list (not split by page)."""
        return self.split(stream) is not Split.PAGES

    def keep(self, stream: t.Any, page: list[dict], context: Context | None) -> list[dict]:
        """Return the records of a page this shard emits (and reads the children of)."""
        if self.split(stream) is not Split.KEYS:
            return page
        return [r for r in page if self.owns(record_key(stream, r, context))]

    def may_own_entity(self, stream: t.Any, entity_id: t.Any) -> bool:
        """Tell whether an entity by id may be this shard's, before any request for it."""
        key = known_entity_key(entity_id)
        if not self.sharded or key is None or tuple(stream.primary_keys or ()) != ("id",):
            return True
        return self.owns([key])

    def paginator(self, stream: t.Any, paginator: GuardedPaginator) -> GuardedPaginator:
        """Return the paginator that reads only this shard's pages of a list split by page."""
        if self.split(stream) is not Split.PAGES:
            return paginator
        cap, paginator.max_pages = paginator.max_pages, None
        if isinstance(paginator, OffsetPaginator):
            return StridedOffsetPaginator(paginator, self.index, self.count, list_max_pages=cap)
        if isinstance(paginator, PageNumberPaginator):
            return StridedPageNumberPaginator(paginator, self.index, self.count, list_max_pages=cap)
        return paginator

    # --- STATE ---------------------------------------------------------------------------

    @property
    def marker(self) -> dict[str, int]:
        """Return what this shard writes into STATE."""
        return {"index": self.index, "count": self.count}

    def check_state(self, state: t.Mapping[str, t.Any]) -> None:
        """Refuse a STATE another shard wrote: its bookmarks and pages cover that shard alone.

        A STATE without the marker comes from an unsharded run, whose bookmarks cover every
        record: any shard may start from it.
        """
        theirs = state.get(STATE_KEY)
        if theirs is None or theirs == (self.marker if self.sharded else None):
            return
        written = Shard(int(theirs.get("index", 0)), int(theirs.get("count", 1)))
        msg = (
            f"state: written by {written}, but this run is "
            f"{self if self.sharded else 'not sharded'}; give each shard its own state "
            "(meltano run --state-id-suffix shard-<index>-of-<count>)"
        )
        raise ConfigValidationError(msg, errors=[msg])

    def mark_state(self, state: dict[str, t.Any]) -> None:
        """Say in STATE which shard wrote it (nothing for an unsharded run)."""
        if self.sharded:
            state[STATE_KEY] = self.marker
