"""The one base stream: URLs, paging, retries, rate limiting, errors, checkpoints, SCHEMA once."""

from __future__ import annotations

import random
import re
import typing as t
from functools import cached_property
from http import HTTPStatus
from urllib.parse import quote

import backoff
import msgspec
import requests
from singer_sdk import RESTStream
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.helpers._util import utc_now
from singer_sdk.helpers.jsonpath import extract_jsonpath
from singer_sdk.mapper import SameRecordTransform

from tap_rest.auth import OAuth2ClientCredentials, redact_url
from tap_rest.pagination import GuardedPaginator, PageRequest, SinglePagePaginator
from tap_rest.ratelimit import RateLimiter, rate_limit_wait, retry_after_seconds

if t.TYPE_CHECKING:
    from singer_sdk.authenticators import APIAuthenticatorBase
    from singer_sdk.helpers.types import Context, Record
    from singer_sdk.streams.rest import HTTPRequest, PageContext

    from tap_rest.progress import GuardedWriter
    from tap_rest.tap import TapRest

_BODY_EXCERPT = 300


#: the Python types a JSON schema type admits in a decoded record (bool is no integer)
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}

#: where a response's decoded body is kept, so that it is decoded once, inside the retries
_BODY = "_tap_rest_body"


class APIStatusError(FatalAPIError):
    """A 4xx answer that retrying will not fix."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class SkippedStatusError(APIStatusError):
    """A status the stream's ``skip_statuses`` setting says to skip."""


#: what a retry may fix: 5xx, 408, 429, bodies cut short, dropped connections, timeouts
RETRIABLE = (
    RetriableAPIError,
    ConnectionResetError,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


_SIMPLE_PATH = re.compile(r"\$((?:\.[A-Za-z_][A-Za-z0-9_]*)*)(\[\*\])?")


def _records_at(jsonpath: str, body: t.Any) -> t.Iterable[t.Any]:
    """Return the values at a JSONPath; ``$``, ``$[*]`` and ``$.a.b[*]`` without jsonpath-ng."""
    match = _SIMPLE_PATH.fullmatch(jsonpath)
    if match is None:
        return extract_jsonpath(jsonpath, body)
    node = body
    for key in match.group(1).split(".")[1:]:
        if not isinstance(node, dict) or key not in node:
            return ()
        node = node[key]
    if match.group(2) is None:
        return (node,)
    if isinstance(node, list):
        return node
    return node.values() if isinstance(node, dict) else ()


def _describe(exc: BaseException | None, stream: TapRestStream) -> str:
    """Say what failed, in one line, without secrets."""
    if isinstance(exc, RetriableAPIError):
        return str(exc)
    return f"Stream '{stream.name}': {type(exc).__name__}: {stream.tap_rest.redactor(str(exc))}"


def _query_value(value: t.Any) -> t.Any:
    """Write booleans as JSON does (``true``), not as Python does (``True``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return [_query_value(v) for v in value]
    return value


class TapRestStream(RESTStream[PageRequest]):
    """Base stream for every tap-rest entity."""

    #: the setting that holds this stream's API base URL
    url_setting: t.ClassVar[str]
    #: the setting listing ids to fetch one by one from ``entity_path`` instead of the list
    ids_setting: t.ClassVar[str | None] = None
    entity_path: t.ClassVar[str | None] = None
    #: the named API (``apis`` setting) whose auth and rate limit this stream uses
    api_name: t.ClassVar[str | None] = None
    #: the key under which this stream's records hand their ``id`` to child streams
    child_context_key: t.ClassVar[str] = "id"
    records_jsonpath = "$[*]"
    extra_retry_statuses: t.Sequence[int] = (
        HTTPStatus.REQUEST_TIMEOUT,
        HTTPStatus.TOO_MANY_REQUESTS,
    )
    # One state entry per stream, however many parents: children are full-table reads.
    state_partitioning_keys: t.ClassVar[list[str]] = []

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._schema_sent = False
        self._fetched_ids: set[t.Any] = set()
        self._extracted_at = utc_now()

    @property
    def url_base(self) -> str:
        """Return the API's base URL from config."""
        return str(self.config[self.url_setting]).rstrip("/")

    @property
    def tap_rest(self) -> TapRest:
        """Return the tap, which holds what every stream shares (auth, limiter, progress)."""
        return t.cast("TapRest", self._tap)

    @property
    def requests_session(self) -> requests.Session:
        """Return the session every stream and thread shares (one connection pool)."""
        return self.tap_rest.session

    @property
    def authenticator(self) -> APIAuthenticatorBase:
        """Return the authenticator shared by every stream of the same API."""
        return self.tap_rest.authenticator_for(self.api_name)

    @property
    def limiter(self) -> RateLimiter:
        """Return the rate limiter shared by every stream of the same API."""
        return self.tap_rest.limiter_for(self.api_name)

    @property
    def http_headers(self) -> dict:
        """Ask for JSON."""
        return {"Accept": "application/json"}

    @property
    def timeout(self) -> int:
        """Return the request timeout in seconds."""
        return t.cast("int", self.config.get("request_timeout", 60))

    @property
    def entity_ids(self) -> list[t.Any] | None:
        """Return the ids configured to be fetched one by one, if any."""
        ids = self.config.get(self.ids_setting) if self.ids_setting else None
        return list(ids) if ids else None

    @property
    def partitions(self) -> list[dict] | None:
        """Partition by entity id when ids are configured."""
        ids = self.entity_ids
        return [{"id": i} for i in dict.fromkeys(ids)] if ids else super().partitions

    def get_url(self, context: Context | None) -> str:
        """Return the entity URL when fetching by id, else the list URL."""
        if self.entity_ids and self.entity_path and context and "id" in context:
            return self.url_base + self.entity_path.format(id=quote(str(context["id"]), safe=""))
        return super().get_url(context)

    def get_new_paginator(self) -> GuardedPaginator:
        """Return a fresh paginator for the list, or a single page when fetching by id."""
        if self.entity_ids:
            return SinglePagePaginator(stream_name=self.name)
        paginator = self.list_paginator()
        paginator.max_pages = self.config.get("max_pages") or paginator.max_pages
        return paginator

    def list_paginator(self) -> GuardedPaginator:
        """Return the paginator for this stream's list requests."""
        return SinglePagePaginator(stream_name=self.name)

    @property
    def page_size(self) -> int:
        """Return the configured page size."""
        return int(self.config.get("page_size", 100))

    def get_url_params(self, context: Context | None, next_page_token: PageRequest | None) -> dict:
        """Return the configured extra query parameters of this stream's list requests."""
        if self.entity_ids:
            return {}
        params = (self.config.get("query_params") or {}).get(self.name, {})
        return {key: _query_value(value) for key, value in params.items()}

    def get_http_request(self, *, page: PageContext) -> HTTPRequest:
        """Build the request, then point it at the page the paginator chose."""
        request = super().get_http_request(page=page)
        if page.next_page_token is not None:
            page.next_page_token.apply(request)
        return request

    def parse_response(self, response: requests.Response) -> t.Iterable[dict]:
        """Yield the records of a list, or the single record of an entity request."""
        body = getattr(response, _BODY, None)
        if body is None:
            return
        if self.entity_ids:
            yield body
        else:
            yield from _records_at(self.records_jsonpath, body)

    def _decode(self, response: requests.Response) -> None:
        """Decode a body once, inside the retries: a JSON body cut short is retried, HTML is not."""
        if response.status_code == HTTPStatus.NO_CONTENT:
            setattr(response, _BODY, None)
            return
        content_type = response.headers.get("Content-Type", "")
        try:
            setattr(response, _BODY, msgspec.json.decode(response.content))
        except msgspec.DecodeError as exc:
            where = f"Stream '{self.name}': {response.request.method} {self.redact(response.url)}"
            if "json" in content_type.lower() or not content_type:
                msg = (
                    f"{where} returned a JSON body cut short or undecodable "
                    f"({len(response.content)} bytes)"
                )
                raise RetriableAPIError(msg, response) from exc
            excerpt = " ".join(response.text[:_BODY_EXCERPT].split())
            msg = (
                f"{where} returned {response.status_code} with a body that is not JSON "
                f"(Content-Type: {content_type}): {excerpt!r}"
            )
            raise FatalAPIError(msg) from exc

    def request_records(self, context: Context | None) -> t.Iterable[dict]:
        """Yield every record of a partition, page by page, fetching children ahead.

        A top-level stream checkpoints STATE after each page (its records and its children's
        written), skips itself when the interrupted run that the input STATE comes from
        delivered it, and resumes at that run's last finished page when it was in it. A
        partition that was fetched ahead (a child, an entity by id) is read from its future.
        """
        run = self.tap_rest
        if context is None and self.name in run.resume_from.completed:
            self.logger.info(
                "Skipping stream '%s': the interrupted run this STATE comes from delivered it",
                self.name,
            )
            return
        self._fetch_entities_ahead(context)
        ahead = run.prefetcher.take(self, context)
        if ahead is not None:
            for page in ahead.result():
                self._extracted_at = utc_now()
                self._fetch_children_ahead(page, context)
                yield from page
            return
        paginator = self.get_new_paginator()
        resume = run.resume_from.take_resume_token(self.name) if context is None else None
        if resume is not None:
            self.logger.info("Stream '%s' resumes at page %s", self.name, self.redact(str(resume)))
            paginator.resume_at(resume)
        for page in self._pages(context, paginator):
            self._extracted_at = utc_now()
            self._fetch_children_ahead(page, context)
            yield from page
            if context is None:
                token = None if paginator.finished else paginator.current_value
                run.checkpoint(self.name, token)

    def _pages(
        self, context: Context | None, paginator: GuardedPaginator
    ) -> t.Iterator[list[dict]]:
        """Yield each page's records, through the retries, rate limiter and skip rules."""
        run = self.tap_rest
        send = self.request_decorator(self._request)
        with self.get_http_request_counter() as counter:
            counter.with_context(context)
            while not paginator.finished:
                prepared = self._prepare_request(context=context, page=paginator)
                try:
                    response = send(prepared, context)
                except SkippedStatusError as skip:
                    self.logger.warning("%s (skipped, as skip_statuses asks)", skip)
                    run.stats.add(self.name, skipped=1)
                    return
                counter.increment()
                self.update_sync_costs(prepared, response, context)
                page = list(self.parse_response(response))
                run.stats.add(self.name, records=len(page))
                paginator.advance(response)
                yield page

    def fetch_partition(self, context: Context | None) -> list[list[dict]]:
        """Fetch every page of a partition (in a worker thread)."""
        return list(self._pages(context, self.get_new_paginator()))

    def _fetch_children_ahead(self, page: list[dict], context: Context | None) -> None:
        """Start fetching the child partitions of a page's records, in the worker threads."""
        prefetcher = self.tap_rest.prefetcher
        if not prefetcher.enabled or not self._syncs_children:
            return
        children = [c for c in self.child_streams if c.selected or c.has_selected_descendents]
        for record in page:
            processed = self.post_process(dict(record), context)
            if processed is None or not self.stream_maps[0].get_filter_result(processed):
                continue
            child_context = self.get_child_context(processed, context)
            for child in children:
                # The key the child will ask for: its context as its sync() prepares it.
                prepared = child.preprocess_context(dict(child_context))
                prefetcher.submit(t.cast("TapRestStream", child), prepared)

    def _fetch_entities_ahead(self, context: Context | None) -> None:
        """Start fetching the next entities by id, a window of them, in the worker threads."""
        prefetcher = self.tap_rest.prefetcher
        if not prefetcher.enabled or not self.entity_ids or not context:
            return
        partitions = self.partitions or []
        start = next((n for n, p in enumerate(partitions) if p == dict(context)), len(partitions))
        for partition in partitions[start : start + prefetcher.window]:
            prefetcher.submit(self, partition)

    def finalize_state_progress_markers(self, state: dict | None = None) -> None:
        """Finish the stream's state, and record it as delivered in the run's progress."""
        super().finalize_state_progress_markers(state)
        if self.parent_stream_type is None:
            self.tap_rest.stream_completed(self.name)

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """Yield the records, once per entity when ids are configured (an id and its name)."""
        for record in super().get_records(context):
            if self.entity_ids:
                if record.get("id") in self._fetched_ids:
                    self.logger.info("Skipping %s %s: already fetched", self.name, context)
                    self.tap_rest.stats.add(self.name, records=-1)
                    continue
                self._fetched_ids.add(record.get("id"))
            yield record

    def post_process(self, row: Record, context: Context | None = None) -> Record | None:
        """Make every child record carry its parent's key."""
        if self.parent_stream_type and context:
            for key, value in context.items():
                row.setdefault(key, value)
        return row

    def generate_child_contexts(
        self, record: Record, context: Context | None
    ) -> t.Iterable[Context | None]:
        """Hand the record's key to the child streams, when any is to be synced."""
        if self._syncs_children:
            yield self.get_child_context(record, context)

    @cached_property
    def _syncs_children(self) -> bool:
        """Tell whether any child stream is to be synced (the catalog is set by now)."""
        return any(c.selected or c.has_selected_descendents for c in self.child_streams)

    # --- the per-record fast path ------------------------------------------------------------

    @cached_property
    def _plain_types(self) -> dict[str, tuple[type, ...]] | None:
        """Return the Python types each property admits when the schema is flat, else None."""
        types: dict[str, tuple[type, ...]] = {}
        for name, prop in self.schema.get("properties", {}).items():
            kinds = prop.get("type", [])
            kinds = [kinds] if isinstance(kinds, str) else kinds
            if not kinds or any(k not in _PYTHON_TYPES for k in kinds):
                return None
            types[name] = tuple(c for k in kinds for c in _PYTHON_TYPES[k])
        return types

    @cached_property
    def _writer(self) -> GuardedWriter:
        return t.cast("GuardedWriter", self._tap.message_writer)

    @cached_property
    def _plain_check(self) -> t.Callable[[Record], bool] | None:
        """Return a function telling whether a record is exactly of the schema's flat types."""
        types = self._fast_path
        if types is None:
            return None
        names = frozenset(types)
        terms = " and ".join(f"type(r.get({k!r})) in T[{k!r}]" for k in types) or "True"
        namespace = {"T": types, "NAMES": names}
        # One compiled expression per stream: the check costs a few attribute lookups a record.
        exec(f"def check(r):\n    return r.keys() <= NAMES and {terms}", namespace)
        return t.cast("t.Callable[[Record], bool]", namespace["check"])

    @cached_property
    def _fast_path(self) -> dict[str, tuple[type, ...]] | None:
        """Return the flat types when records can be written as they are, else None.

        That is when nothing transforms them: no stream map, no flattening, every property
        selected, no record version. Each record is still checked against the types.
        """
        if (
            self._plain_types is None
            or len(self.stream_maps) != 1
            or type(self.stream_maps[0]) is not SameRecordTransform
            or self.config.get("flattening_enabled")
            or self._stream_version is not None
            or not all(self.mask.values())
        ):
            return None
        return self._plain_types

    def _write_record_message(self, record: Record) -> None:
        """Write a record as it is when its types are the schema's, else through the SDK."""
        check = self._plain_check
        if check is not None and check(record):
            self._writer.write_record(self.name, record, self._extracted_at)
            self.state_manager.is_flushed = False
            return
        super()._write_record_message(record)

    def get_child_context(self, record: Record, context: Context | None) -> dict:
        """Hand the record's id to child streams."""
        return {self.child_context_key: record["id"]}

    def validate_response(self, response: requests.Response) -> None:
        """Raise a retriable (5xx, 408, 429) or fatal (other 4xx) error naming stream, URL, status.

        A status listed for the stream in ``skip_statuses`` raises SkippedStatusError instead.
        """
        self._note_rate_limit(response)
        status = response.status_code
        asked = retry_after_seconds(response) if status >= HTTPStatus.BAD_REQUEST else None
        if asked is not None:
            # Hold back every thread at once, not only the one that will retry.
            self.limiter.pause_for(min(asked, self._max_retry_after))
        if status in self.skip_statuses:
            raise SkippedStatusError(self.response_error_message(response), status)
        if status in self.extra_retry_statuses or status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            raise RetriableAPIError(self.response_error_message(response), response)
        if status >= HTTPStatus.BAD_REQUEST:
            raise APIStatusError(self.response_error_message(response), status)

    @property
    def skip_statuses(self) -> set[int]:
        """Return the HTTP statuses this stream skips (``skip_statuses`` setting)."""
        return set((self.config.get("skip_statuses") or {}).get(self.name, []))

    def _note_rate_limit(self, response: requests.Response) -> None:
        """Hold every request back until the reset when the server says none is left."""
        wait = rate_limit_wait(response.headers)
        if wait:
            self.logger.info(
                "Stream '%s': rate limit exhausted; waiting %.1f s for its reset", self.name, wait
            )
            self.limiter.pause_for(min(wait, self._max_retry_after))

    @property
    def _max_retry_after(self) -> float:
        """Return the longest wait a server may impose (``max_retry_after``)."""
        return float(self.config.get("max_retry_after", 300))

    def response_error_message(self, response: requests.Response) -> str:
        """Describe a failed response: stream, method, redacted URL, status and a body excerpt."""
        body = " ".join(response.text[:_BODY_EXCERPT].split())
        return (
            f"Stream '{self.name}': {response.request.method} {self.redact(response.url)} "
            f"returned {response.status_code} {response.reason}" + (f": {body}" if body else "")
        )

    def redact(self, url: str) -> str:
        """Return a URL fit for a log line: the API key and other secrets in its query hidden."""
        return redact_url(url, self.tap_rest.sensitive_params)

    # --- retries ---------------------------------------------------------------------------

    def request_decorator(self, func: t.Callable) -> t.Callable:
        """Retry with exponential backoff and jitter, or as long as ``Retry-After`` asks."""
        decorate = backoff.on_exception(
            self._waits,
            RETRIABLE,
            max_tries=int(self.config.get("max_tries", 8)),
            jitter=None,
            on_backoff=self._on_retry,
            on_giveup=self._on_giveup,
            logger=None,
        )
        return decorate(func)

    def _waits(self) -> t.Generator[float, t.Any, None]:
        """Yield each wait: ``Retry-After`` if the server sent one, else exponential with jitter."""
        factor = float(self.config.get("backoff_factor", 1.0))
        longest = float(self.config.get("max_wait", 60))
        cap = self._max_retry_after
        attempt = 0
        exc = yield 0.0
        while True:
            asked = retry_after_seconds(getattr(exc, "response", None))
            if asked is not None:
                if asked > cap:
                    self.logger.warning(
                        "Stream '%s': the server asked to wait %.0f s; waiting max_retry_after "
                        "%.0f s instead",
                        self.name,
                        asked,
                        cap,
                    )
                # Never earlier than asked: the jitter only adds. validate_response has held
                # back the other threads already.
                wait = min(asked, cap) + random.uniform(0, min(0.1 * min(asked, cap), 1.0))
            else:
                ceiling = min(longest, factor * 2**attempt)
                wait = ceiling / 2 + random.uniform(0, ceiling / 2)
            attempt += 1
            exc = yield wait

    def _on_retry(self, details: t.Any) -> None:
        self.tap_rest.stats.add(self.name, retries=1)
        self.logger.warning(
            "%s; retry %d of %d in %.2f s",
            _describe(details.get("exception"), self),
            details["tries"],
            int(self.config.get("max_tries", 8)) - 1,
            details.get("wait") or 0,
        )

    def _on_giveup(self, details: t.Any) -> None:
        self.logger.error(
            "Stream '%s': giving up after %d tries: %s",
            self.name,
            details["tries"],
            _describe(details.get("exception"), self),
        )

    def _request(
        self, prepared_request: requests.PreparedRequest, context: Context | None
    ) -> requests.Response:
        """Send through the rate limiter and decode the body; under OAuth, renew once on 401."""
        run = self.tap_rest
        self.limiter.acquire()
        run.stats.add(self.name, requests=1)
        try:
            response = super()._request(prepared_request, context)
        except APIStatusError as exc:
            auth = self.authenticator
            if exc.status_code != HTTPStatus.UNAUTHORIZED or not isinstance(
                auth, OAuth2ClientCredentials
            ):
                raise
            self.logger.warning("%s; fetching a new OAuth token and retrying once", exc)
            auth.invalidate(prepared_request.headers.get("Authorization"))
            self.limiter.acquire()
            run.stats.add(self.name, requests=1)
            response = super()._request(prepared_request, context)
        self._decode(response)
        return response

    def _write_schema_message(self) -> None:
        """Send this stream's SCHEMA once per run, not once per parent record."""
        if not self._schema_sent:
            super()._write_schema_message()
            self._schema_sent = True
