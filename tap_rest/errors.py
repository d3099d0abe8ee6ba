"""The errors tap-rest stops with: each one line that names what failed and where."""

from __future__ import annotations

import typing as t

from singer_sdk.exceptions import FatalAPIError


class APIStatusError(FatalAPIError):
    """A 4xx answer that retrying will not fix."""

    def __init__(self, message: str, status_code: int, response: t.Any = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.response = response


class SkippedStatusError(APIStatusError):
    """A status the stream's ``skip_statuses`` setting says to skip."""


class PaginationError(FatalAPIError):
    """Paging cannot go on safely: a paginator's path matches nothing, a total is no number."""


class PaginationLoopError(FatalAPIError):
    """The API sent a page token or next URL that was already requested."""


class AuthError(FatalAPIError):
    """Authentication failed in a way that retrying will not fix."""


class ParentFieldError(FatalAPIError):
    """A parent record lacks the field that fills a child's placeholder."""


class IncompleteStreamError(FatalAPIError):
    """A stream received fewer records than its API reported (``on_incomplete: fail``)."""


class Interrupted(BaseException):
    """SIGTERM or SIGINT arrived: stop at once, outside any write (like KeyboardInterrupt)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class RetriesExhaustedError(FatalAPIError):
    """A request kept failing with what a retry may fix, until the retry budget was spent."""


class CannotConnectError(FatalAPIError):
    """An API that never answered cannot be reached at all: its URL is likely wrong."""


class OffOriginError(FatalAPIError):
    """A request would have gone to another host than its API's, with the API's credentials."""


class BodyShapeError(FatalAPIError):
    """A response's body is not what the stream expects (records, objects, key properties)."""
