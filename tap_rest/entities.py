"""Entities by id: a stream that fetches configured ids one by one instead of reading its list."""

from __future__ import annotations

import typing as t
from functools import cached_property
from urllib.parse import quote

from tap_rest.client import TapRestStream
from tap_rest.pagination import GuardedPaginator, PageRequest, SinglePagePaginator
from tap_rest.prefetch import entities_ahead
from tap_rest.response import Records

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.helpers.types import Context

    from tap_rest.completeness import TotalCheck


class ByIdStream(TapRestStream):
    """A stream whose ``ids_setting`` lists entities to fetch from ``entity_path`` one by one.

    Each id is a partition, fetched ahead by the worker threads; an entity named twice (an id
    and its name) is written once.
    """

    #: the setting listing ids to fetch one by one from ``entity_path`` instead of the list
    ids_setting: t.ClassVar[str]
    entity_path: t.ClassVar[str]

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._fetched_ids: set[t.Any] = set()

    @property
    def entity_ids(self) -> list[t.Any] | None:
        """Return the ids configured to be fetched one by one, if any."""
        ids = self.config.get(self.ids_setting)
        return list(ids) if ids else None

    @property
    def partitions(self) -> list[dict] | None:
        """Partition by entity id when ids are configured."""
        ids = self.entity_ids
        if not ids:
            return super().partitions
        # In a sharded run, an id another shard owns is not even requested.
        return [{"id": i} for i in dict.fromkeys(ids) if self.run.shard.may_own_entity(self, i)]

    def get_url(self, context: Context | None) -> str:
        """Return the entity URL when fetching by id, else the list URL."""
        if self.entity_ids and context and "id" in context:
            return self.url_base + self.entity_path.format(id=quote(str(context["id"]), safe=""))
        return super().get_url(context)

    def get_new_paginator(self) -> GuardedPaginator:
        """Return a single page when fetching by id, else the list's paginator."""
        if self.entity_ids:
            return SinglePagePaginator(stream_name=self.name)
        return super().get_new_paginator()

    def get_url_params(self, context: Context | None, next_page_token: PageRequest | None) -> dict:
        """Send no list parameters to an entity URL."""
        return {} if self.entity_ids else super().get_url_params(context, next_page_token)

    def total_check(self, context: Context | None, received: int = 0) -> TotalCheck | None:
        """Check the list against its reported total; an entity by id has none."""
        return None if self.entity_ids else super().total_check(context, received)

    def parse_response(
        self, response: requests.Response, *, first: bool = True, probing: bool = False
    ) -> t.Iterable[dict]:
        """Return the entity when fetching by id (an object, else a named error), else a list."""
        if not self.entity_ids:
            return super().parse_response(response, first=first, probing=probing)
        return self._entity.of(response)

    @cached_property
    def _entity(self) -> Records:
        return Records(self.name, "$", self.run.redactor)

    def request_records(self, context: Context | None) -> t.Iterable[dict]:
        """Start fetching the next entities ahead, then yield this one's record."""
        if self.entity_ids:
            if not context:
                return  # no partition: this shard owns none of the ids (never read the list)
            entities_ahead(self.run.prefetcher, self, context)
        yield from super().request_records(context)

    def _kept(self, page: list[dict], context: Context | None) -> list[dict]:
        """Keep each entity once (an id and its name are one entity)."""
        page = super()._kept(page, context)
        if not self.entity_ids:
            return page
        kept = []
        for record in page:
            if record.get("id") in self._fetched_ids:
                self.logger.info("Skipping %s %s: already fetched", self.name, context)
                continue
            self._fetched_ids.add(record.get("id"))
            kept.append(record)
        return kept
