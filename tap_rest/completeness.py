"""Completeness: the records a list's pages held, against the total its API reported.

Where an API reports how many records a list holds (``X-Total-Count``, ``count``, ``total``,
``hits.total.value``), the records received at the stream's records path are counted, page by
page, and compared with that total when the list (or a parent's partition of it) ends: a list
that stopped short says so in a warning and the run summary, or stops the run
(``on_incomplete: fail``). What is compared is what the API served, before stream maps filter
records and before an entity named twice is written once: those are the tap's choices, not an
API's shortfall.
"""

from __future__ import annotations

import logging
import typing as t

from singer_sdk.helpers.jsonpath import extract_jsonpath

from tap_rest.errors import IncompleteStreamError
from tap_rest.response import body_of

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.helpers.types import Context

    from tap_rest.pagination import GuardedPaginator
    from tap_rest.run import Run
    from tap_rest.stats import RunStats

logger = logging.getLogger("tap-rest")


class Reports(t.Protocol):
    """A stream that may say where its API reports a list's total."""

    name: str
    total_path: t.ClassVar[str | None]
    total_header: t.ClassVar[str | None]
    on_incomplete: t.ClassVar[str]


def reported_total(
    response: requests.Response, *, path: str | None, header: str | None
) -> int | None:
    """Return the total a response reports at a JSONPath or in a header, if it is a number."""
    raw: t.Any = None
    if header:
        raw = response.headers.get(header)
    elif path:
        raw = next(iter(extract_jsonpath(path, body_of(response))), None)
    if isinstance(raw, bool) or raw is None:
        return None
    try:
        return int(str(raw).strip())
    except ValueError:
        return None


class TotalCheck:
    """Counts one partition's records, and compares them with the last total its API reported.

    The last total is the API's latest word: a list that grew or shrank while it was read is
    judged by what it held at its end. ``received`` starts at what an interrupted run had
    received when the stream resumes mid-way.
    """

    def __init__(
        self, stream: Reports, context: Context | None, stats: RunStats, received: int = 0
    ) -> None:
        self.stream, self.stats = stream.name, stats
        self.path, self.header = stream.total_path, stream.total_header
        self.fail = stream.on_incomplete == "fail"
        self.where = f"Stream '{stream.name}'" + (
            f" ({', '.join(f'{k}={v}' for k, v in context.items())})" if context else ""
        )
        self.received = received
        self.reported: int | None = None

    def page(self, response: requests.Response, received: int, paginator: GuardedPaginator) -> bool:
        """Count a page's records and read its total; at the end, tell whether some are missing."""
        self.received += received
        total = reported_total(response, path=self.path, header=self.header)
        if total is not None:
            self.reported = total
        return paginator.finished and self.finish(capped=paginator.capped)

    def finish(self, *, capped: bool = False) -> bool:
        """Compare at the partition's end: record it for the summary, then warn or raise.

        Return whether records are missing (the run goes on when on_incomplete is warn).
        """
        if self.reported is None:
            return False
        self.stats.add_total(self.stream, self.received, self.reported)
        missing = self.reported - self.received
        if missing <= 0 or capped:
            return False
        message = (
            f"{self.where}: received {self.received} records, "
            f"but the API reported {self.reported} ({missing} missing)"
        )
        if self.fail:
            raise IncompleteStreamError(f"{message}; on_incomplete is fail")
        logger.warning("%s", message)
        return True


class ChecksCompleteness:
    """The private base of a stream whose API may report its lists' totals."""

    name: str
    run: Run
    #: where the API reports a list's total record count (a JSONPath, or a header)
    total_path: t.ClassVar[str | None] = None
    total_header: t.ClassVar[str | None] = None
    #: what a list short of its reported total does: warn, or fail the run
    on_incomplete: t.ClassVar[str] = "warn"

    def total_check(self, context: Context | None, received: int = 0) -> TotalCheck | None:
        """Return the check of a partition, when the stream says where the total is reported."""
        if not (self.total_path or self.total_header):
            return None
        return TotalCheck(self, context, self.run.stats, received)
