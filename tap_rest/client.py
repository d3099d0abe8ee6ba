"""The REST flow of one stream: what to request, page after page, and the records it yields."""

from __future__ import annotations

import datetime
import typing as t
from functools import cached_property

import requests
from singer_sdk.helpers._util import utc_now

from tap_rest.completeness import ChecksCompleteness
from tap_rest.errors import APIStatusError, SkippedStatusError
from tap_rest.output import StreamOutput
from tap_rest.pagination import GuardedPaginator, PageRequest, SinglePagePaginator
from tap_rest.placeholders import query_text
from tap_rest.prefetch import children_ahead, started
from tap_rest.response import Records, keyless
from tap_rest.sending import RequestSender

if t.TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context, Record
    from singer_sdk.streams.rest import HTTPRequest, PageContext

    from tap_rest.completeness import TotalCheck
    from tap_rest.run import Run


class Fetched(t.NamedTuple):
    """A page's records, the page after it (None at the end), the records received so far."""

    records: list[dict]
    next: PageRequest | None
    received: int | None
    extracted_at: datetime.datetime


#: what many APIs answer a page past the end with (DRF's 404 "Invalid page.", a 400 or a 416)
PAST_THE_END = frozenset({400, 404, 416, 422})


class TapRestStream(StreamOutput, ChecksCompleteness, RequestSender):
    """Base stream for every tap-rest entity; what a sync shares comes from its ``Run``."""

    #: the key under which this stream's records hand their ``id`` to child streams
    child_context_key: t.ClassVar[str] = "id"
    records_jsonpath = "$[*]"
    # One state entry per stream, however many parents: children are full-table reads.
    state_partitioning_keys: t.ClassVar[list[str]] = []
    #: why a list of this stream ended before its end in this run, if one did
    _ended_early: str | None = None

    def __init__(self, tap: Tap, *, run: Run, schema: dict[str, t.Any] | None = None) -> None:
        self.run = run
        super().__init__(tap, schema=schema)

    # --- what to request -------------------------------------------------------------------

    @property
    def url_base(self) -> str:
        """Return the API's base URL from config."""
        return str(self.config[self.url_setting]).rstrip("/")

    @property
    def http_headers(self) -> dict:
        """Ask for JSON."""
        return {"Accept": "application/json"}

    @property
    def page_size(self) -> int:
        """Return the configured page size."""
        return int(self.config.get("page_size", 100))

    def list_paginator(self) -> GuardedPaginator:
        """Return the paginator for this stream's list requests."""
        return SinglePagePaginator(stream_name=self.name)

    def get_new_paginator(self) -> GuardedPaginator:
        """Return a fresh paginator for the list, capped at ``max_pages``."""
        paginator = self.list_paginator()
        paginator.max_pages = self.config.get("max_pages") or paginator.max_pages
        return paginator

    def get_url_params(self, context: Context | None, next_page_token: PageRequest | None) -> dict:
        """Return the configured extra query parameters of this stream's list requests."""
        params = (self.config.get("query_params") or {}).get(self.name, {})
        return {
            key: [query_text(v) for v in value] if isinstance(value, list) else query_text(value)
            for key, value in params.items()
        }

    def get_http_request(self, *, page: PageContext) -> HTTPRequest:
        """Build the request, then point it at the page the paginator chose."""
        request = super().get_http_request(page=page)
        if page.next_page_token is not None:
            page.next_page_token.apply(request)
        return request

    # --- the flow --------------------------------------------------------------------------

    def request_records(self, context: Context | None) -> t.Iterable[dict]:
        """Yield every record of a partition, page by page, fetching children ahead.

        A top-level stream checkpoints STATE after each page (its records and its children's
        written), skips itself when the interrupted run that the input STATE comes from
        delivered it, and resumes at that run's last finished page when it was in it. A
        partition that was fetched ahead (a child, an entity by id) is read from its future.
        """
        checkpoints = self.run.checkpoints
        if context is None and self.name in checkpoints.resume_from.completed:
            self.logger.info(
                "Skipping stream '%s': the interrupted run this STATE comes from delivered it",
                self.name,
            )
            return
        skip = self.run.skip_reason(self) if self.parent_stream_type is None else None
        if skip:
            self.logger.info("Skipping stream '%s': %s", self.name, skip)
            return
        ahead = self.run.prefetcher.take(self, context)
        if ahead is not None:
            for fetched in ahead.result():
                self._extracted_at = utc_now()
                yield from self.deliver(self._start_page(fetched, context), context)
            return
        paginator = self.run.shard.paginator(self, self.get_new_paginator())
        base = self.url_base
        resume = checkpoints.resume_from.take_resume_token(self.name, base) if not context else None
        if resume is not None:
            self.logger.info("Stream '%s' resumes at page %s", self.name, self.redact(str(resume)))
            paginator.resume_at(resume)
        before = checkpoints.resume_from.received_before.get(self.name) if resume else 0
        # A shard that reads some pages of a list cannot hold them to the list's total.
        whole = self.run.shard.reads_whole_list(self)
        check = None if before is None or not whole else self.total_check(context, before)
        incremental = bool(self.replication_key)
        # The next pages may be fetched ahead while this thread writes: each page comes with
        # what STATE says after it, taken when it was fetched (the paginator may be ahead).
        fetching = self.run.prefetcher.ahead(self._pages_noted(context, paginator, check))
        for fetched, page in started(fetching, lambda f: self._start_page(f.records, context)):
            self._extracted_at = fetched.extracted_at
            yield from self.deliver(page, context)
            if context is None:
                checkpoints.page_done(
                    self.name, fetched.next, base, fetched.received, incremental=incremental
                )

    def _pages_noted(
        self, context: Context | None, paginator: GuardedPaginator, check: TotalCheck | None
    ) -> t.Iterator[Fetched]:
        """Yield each page with the page after it and the records received so far."""
        for records in self.pages(context, paginator, check):
            yield Fetched(
                records,
                None if paginator.finished else paginator.current_value,
                check.received if check else None,
                utc_now(),
            )

    def _start_page(self, records: list[dict], context: Context | None) -> list[dict]:
        """Return the records of a page this run emits, their children's fetch started."""
        page = self._kept(records, context)
        children_ahead(self.run.prefetcher, self, page, context)
        return page

    def _kept(self, page: list[dict], context: Context | None) -> list[dict]:
        """Return the records of a page this run emits: in its window, owned by its shard."""
        return self.run.shard.keep(self, self.run.window.keep(self, page), context)

    def fetch_partition(self, context: Context | None) -> list[list[dict]]:
        """Fetch every page of a partition (in a worker thread)."""
        return list(self.pages(context, self.get_new_paginator(), self.total_check(context)))

    def pages(
        self, context: Context | None, paginator: GuardedPaginator, check: TotalCheck | None = None
    ) -> t.Iterator[list[dict]]:
        """Yield each page's records, through the retries, rate limiter and skip rules.

        The completeness check judges the list before its last page is yielded.
        """
        run = self.run
        stats, api, where = run.stats, self.api_key, self.url_setting_name
        with self.get_http_request_counter() as counter:
            counter.with_context(context)
            while not paginator.finished:
                prepared = self._prepare_request(context=context, page=paginator)
                owned = self.scope.check(prepared, self.name, self.allowed_hosts_setting)
                try:
                    response = run.retry.call(
                        self._request,
                        prepared,
                        context,
                        owned,
                        stream=self.name,
                        stats=stats,
                        redactor=run.redactor,
                        answered=lambda: api in run.answered,
                        where=where,
                    )
                except SkippedStatusError as skip:
                    self.logger.warning("%s (skipped, as skip_statuses asks)", skip)
                    stats.add(self.name, skipped=1)
                    if paginator.count:
                        self.ended_early(f"a later page answered {skip.status_code}")
                    return
                except APIStatusError as exc:
                    if not paginator.probing or exc.status_code not in PAST_THE_END:
                        raise
                    # Django REST Framework answers a page past the last with 404.
                    self.logger.info("%s: taken for the end of the list", exc)
                    return
                counter.increment()
                self.update_sync_costs(prepared, response, context)
                first = paginator.count == 0
                page = list(self.parse_response(response, first=first, probing=paginator.probing))
                paginator.advance(response)
                if paginator.capped:
                    self.ended_early("stopped at max_pages")
                if check is not None and check.page(response, len(page), paginator):
                    self.ended_early("fewer records than the API reported")
                yield page

    def parse_response(
        self, response: requests.Response, *, first: bool = True, probing: bool = False
    ) -> t.Iterable[dict]:
        """Return the records at the stream's JSONPath, each an object (else a named error)."""
        return self._records.of(response, first=first, probing=probing)

    @cached_property
    def _records(self) -> Records:
        return Records(self.name, self.records_jsonpath, self.run.redactor)

    def post_process(self, row: Record, context: Context | None = None) -> Record | None:
        """Make every child record carry its parent's key."""
        if self.parent_stream_type and context:
            for key, value in context.items():
                row.setdefault(key, value)
        return row

    # --- children --------------------------------------------------------------------------

    def get_child_context(self, record: Record, context: Context | None) -> dict:
        """Hand the record's id to child streams."""
        if record.get("id") is None:
            raise keyless(self.name, record, ("id",), self.run.redactor, context)
        return {self.child_context_key: record["id"]}

    def generate_child_contexts(
        self, record: Record, context: Context | None
    ) -> t.Iterable[Context | None]:
        """Hand the record's key to the child streams, when any is to be synced."""
        if self.syncs_children:
            yield self.get_child_context(record, context)

    def ended_early(self, why: str) -> None:
        """Note that a list of this stream ended before its end, so its bookmark must hold."""
        self._ended_early = self._ended_early or why

    def _finalize_state(self, state: dict | None = None) -> None:
        """Promote the bookmark seen, unless a list ended early and the stream is unsorted.

        An unsorted stream's bookmark is the greatest value it saw: after a list cut short
        (``max_pages``, a skipped page, a short count) the records not read may hold smaller
        values, which a bookmark moved past them would skip for good.
        """
        why = self._ended_early
        markers = (state or {}).get("progress_markers") or {}
        if why and not self.is_sorted and "replication_key_value" in markers:
            self.logger.warning(
                "Stream '%s': bookmark kept at %r, not moved to %r: %s",
                self.name,
                (state or {}).get("replication_key_value"),
                markers["replication_key_value"],
                why,
            )
            markers.pop("replication_key_value")
            markers.pop("replication_key", None)
        super()._finalize_state(state)

    def finalize_state_progress_markers(self, state: dict | None = None) -> None:
        """Finish the stream's state, and record it as delivered in the run's progress."""
        if not state and self._ended_early:
            for context in self.partitions or [{}]:
                self._finalize_state(self.get_context_state(context or None))
        super().finalize_state_progress_markers(state)
        if self.parent_stream_type is None:
            self.run.checkpoints.stream_done(self.name)
