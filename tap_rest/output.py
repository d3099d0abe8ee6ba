"""How a stream's messages go out: its SCHEMA once per run, its records on the fast path."""

from __future__ import annotations

import typing as t
from functools import cached_property

from singer_sdk import Stream
from singer_sdk.helpers._util import utc_now

from tap_rest.writer import GuardedWriter, fast_path_check

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Record


class StreamOutput(Stream):
    """The private base that writes a stream's SCHEMA and RECORD messages."""

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._schema_sent = False
        #: when the page being written was received (its records' time_extracted)
        self._extracted_at = utc_now()

    def _write_schema_message(self) -> None:
        """Send this stream's SCHEMA once per run, not once per parent record."""
        if not self._schema_sent:
            super()._write_schema_message()
            self._schema_sent = True

    @cached_property
    def _fast_check(self) -> t.Callable[[dict], bool] | None:
        """Return the check of records that may be written as they are, else None."""
        return fast_path_check(self)

    def _write_record_message(self, record: Record) -> None:
        """Write a record as it is when its types are the schema's, else through the SDK."""
        check = self._fast_check
        if check is not None and check(record):
            writer = t.cast("GuardedWriter", self._tap.message_writer)
            writer.write_record(self.name, record, self._extracted_at)
            self.state_manager.is_flushed = False
            return
        super()._write_record_message(record)
