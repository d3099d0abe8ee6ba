"""The one base stream: URLs, paging, entity-by-id, parent keys, errors and SCHEMA-once."""

from __future__ import annotations

import typing as t
from http import HTTPStatus
from urllib.parse import quote

from singer_sdk import RESTStream
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.helpers.jsonpath import extract_jsonpath

from tap_rest.auth import OAuth2ClientCredentials, redact_url
from tap_rest.pagination import GuardedPaginator, PageRequest, SinglePagePaginator

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.authenticators import APIAuthenticatorBase
    from singer_sdk.helpers.types import Context, Record
    from singer_sdk.streams.rest import HTTPRequest, PageContext

    from tap_rest.tap import TapRest

_BODY_EXCERPT = 300


class APIStatusError(FatalAPIError):
    """A 4xx answer that retrying will not fix."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


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
    #: the key under which this stream's records hand their ``id`` to child streams
    child_context_key: t.ClassVar[str] = "id"
    records_jsonpath = "$[*]"
    # One state entry per stream, however many parents: children are full-table reads.
    state_partitioning_keys: t.ClassVar[list[str]] = []

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._schema_sent = False
        self._fetched_ids: set[t.Any] = set()

    @property
    def url_base(self) -> str:
        """Return the API's base URL from config."""
        return str(self.config[self.url_setting]).rstrip("/")

    @property
    def authenticator(self) -> APIAuthenticatorBase:
        """Return the tap's authenticator, shared by every stream."""
        return t.cast("TapRest", self._tap).authenticator

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
        body = self._json(response)
        if self.entity_ids:
            yield body
        else:
            yield from extract_jsonpath(self.records_jsonpath, body)

    def _json(self, response: requests.Response) -> t.Any:
        try:
            return response.json()
        except ValueError as exc:
            msg = (
                f"Stream '{self.name}': {response.request.method} {self.redact(response.url)} "
                f"returned {response.status_code} with a body that is not JSON "
                f"(Content-Type: {response.headers.get('Content-Type', 'none')}): "
                f"{response.text[:_BODY_EXCERPT]!r}"
            )
            raise FatalAPIError(msg) from exc

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """Yield the records, once per entity when ids are configured (an id and its name)."""
        for record in super().get_records(context):
            if self.entity_ids:
                if record.get("id") in self._fetched_ids:
                    self.logger.info("Skipping %s %s: already fetched", self.name, context)
                    continue
                self._fetched_ids.add(record.get("id"))
            yield record

    def post_process(self, row: Record, context: Context | None = None) -> Record | None:
        """Make every child record carry its parent's key."""
        if self.parent_stream_type and context:
            for key, value in context.items():
                row.setdefault(key, value)
        return row

    def get_child_context(self, record: Record, context: Context | None) -> dict:
        """Hand the record's id to child streams."""
        return {self.child_context_key: record["id"]}

    def validate_response(self, response: requests.Response) -> None:
        """Raise a retriable (5xx, 429) or fatal (other 4xx) error naming stream, URL and status."""
        status = response.status_code
        if status in self.extra_retry_statuses or status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            raise RetriableAPIError(self.response_error_message(response), response)
        if status >= HTTPStatus.BAD_REQUEST:
            raise APIStatusError(self.response_error_message(response), status)

    def response_error_message(self, response: requests.Response) -> str:
        """Describe a failed response: stream, method, redacted URL, status and a body excerpt."""
        body = " ".join(response.text[:_BODY_EXCERPT].split())
        return (
            f"Stream '{self.name}': {response.request.method} {self.redact(response.url)} "
            f"returned {response.status_code} {response.reason}" + (f": {body}" if body else "")
        )

    def redact(self, url: str) -> str:
        """Return a URL fit for a log line: the API key and other secrets in its query hidden."""
        auth = self.config.get("auth") or {}
        return redact_url(url, [auth["name"]] if auth.get("location") == "query" else [])

    def _request(
        self, prepared_request: requests.PreparedRequest, context: Context | None
    ) -> requests.Response:
        """Send a request; on a 401 under OAuth, fetch a new token and try once more."""
        try:
            return super()._request(prepared_request, context)
        except APIStatusError as exc:
            auth = self.authenticator
            if exc.status_code != HTTPStatus.UNAUTHORIZED or not isinstance(
                auth, OAuth2ClientCredentials
            ):
                raise
            self.logger.warning("%s; fetching a new OAuth token and retrying once", exc)
            auth.invalidate()
            return super()._request(prepared_request, context)

    def _write_schema_message(self) -> None:
        """Send this stream's SCHEMA once per run, not once per parent record."""
        if not self._schema_sent:
            super()._write_schema_message()
            self._schema_sent = True
