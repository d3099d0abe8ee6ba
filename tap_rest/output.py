"""How a stream's messages go out: SCHEMA once (again when it widens), records whole."""

from __future__ import annotations

import logging
import typing as t
from functools import cached_property

from singer_sdk import Stream, metrics
from singer_sdk.helpers._util import utc_now
from singer_sdk.singerlib.catalog import REPLICATION_INCREMENTAL
from singer_sdk.streams.rest import RESTStream

from tap_rest.errors import BodyShapeError
from tap_rest.evolution import FixedFieldError, drop_unknown_nulls, evolve, gaps
from tap_rest.progress import is_chatter
from tap_rest.response import keyless
from tap_rest.writer import GuardedWriter, fast_path_check

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context, Record

    from tap_rest.run import Run
    from tap_rest.stats import StreamStats


class StreamOutput(Stream):
    """The private base that writes a stream's SCHEMA and RECORD messages.

    A record that does not fit the schema is never stripped in silence: a stream whose schema
    evolves (an inferred one, or ``schema_evolution: evolve``) grows it (``evolution.evolve``)
    and sends the new SCHEMA before the record; a frozen one (an inline schema) lets the SDK
    drop what it lacks, and each field dropped or value of another type is counted, warned of
    once, and summed up.
    """

    run: Run
    #: ``evolve`` or ``freeze`` (the stream's default; the ``schema_evolution`` setting wins)
    schema_evolution: t.ClassVar[str] = "freeze"

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._schema_sent = False
        #: when the page being written was received (its records' time_extracted)
        self._extracted_at = utc_now()
        self._warned: set[tuple[str, str]] = set()
        #: whether a signal is held back until the record being written is in the state
        self._held = False
        #: whether this sync writes whole pages (``deliver``), and the records it wrote so far
        self._by_page = False
        self._page_records = 0
        #: the SDK's record counter of the sync under way (its METRIC record_count)
        self._record_counter: metrics.Counter | None = None

    @cached_property
    def evolves(self) -> bool:
        """Tell whether this stream's schema widens to fit its records."""
        chosen = self.config.get("schema_evolution") or {}
        return (chosen.get(self.name) or chosen.get("*") or self.schema_evolution) == "evolve"

    def log(self, message: str, *args: t.Any, level: int = logging.INFO, **kwargs: t.Any) -> None:
        """Log as the SDK does, its chatter left out before a line is made (one per partition)."""
        if not is_chatter(message):
            super().log(message, *args, level=level, **kwargs)

    def get_batch_config(self, config: t.Mapping) -> None:
        """Return None: batch_config is the writer's (writer.py), records go out one by one here.

        The SDK's own batch path would bypass the fast path, schema evolution and the per-page
        STATE; the writer batches whatever is written instead.
        """
        return

    def _write_schema_message(self) -> None:
        """Send this stream's SCHEMA once per run, not once per parent record."""
        if not self._schema_sent:
            super()._write_schema_message()
            self._schema_sent = True

    @cached_property
    def _stats(self) -> StreamStats:
        """Return this stream's counters (asked at the first record, after discovery's reset)."""
        return self.run.stats.stream(self.name)

    @cached_property
    def _fast_check(self) -> t.Callable[[dict], bool] | None:
        """Return the check of records that may be written as they are, else None."""
        return fast_path_check(self)

    def _write_record_message(self, record: Record) -> None:
        """Write a record as it is when its types are the schema's, else through the SDK."""
        stats = self._stats
        check = self._fast_check
        fits = check is not None and check(record)
        keys = self.primary_keys or ()
        if not fits and any(record.get(key) is None for key in keys):
            raise keyless(self.name, record, keys, self.run.redactor)
        # A signal waits until the record is written *and* in the bookmark (see below).
        GuardedWriter.guard.__enter__()
        self._held = True
        if fits:
            self._writer.write_records(self.name, (record,), self._extracted_at)
            self.state_manager.is_flushed = False
            stats.records += 1
            return
        drop_unknown_nulls(self.effective_schema, record)
        found = gaps(self.effective_schema, record)
        if found and self.evolves:
            self._evolve(record)
        elif found:
            self._count(found)
        for message in self._generate_record_messages(record):
            self._tap.write_message(message)
            stats.records += 1
        self.state_manager.is_flushed = False

    @property
    def _writer(self) -> GuardedWriter:
        """Return the tap's message writer (a GuardedWriter, set by the tap)."""
        return t.cast("GuardedWriter", self._tap.message_writer)

    # --- a page at a time ----------------------------------------------------------------

    @cached_property
    def syncs_children(self) -> bool:
        """Tell whether any child stream is to be synced (the catalog is set by now)."""
        return any(c.selected or c.has_selected_descendents for c in self.child_streams)

    def _writes_pages(self) -> bool:
        """Tell whether this sync may write whole pages: nothing is done per record but writing.

        Not so for a stream whose state moves with each record (incremental: its bookmark and
        ``_after_written``), whose records sync children, under the SDK's record limit
        (``--test``), nor when ``get_records`` is overridden (it would not see the records).
        """
        return (
            self.selected
            and self.ABORT_AT_RECORD_COUNT is None
            and self.replication_method != REPLICATION_INCREMENTAL
            and not self.syncs_children
            and type(self).get_records is RESTStream.get_records
        )

    def _sync_records(
        self, context: Context | None = None, *, write_messages: bool = True
    ) -> t.Generator[dict, t.Any, t.Any]:
        """Sync as the SDK does; where it may, the stream writes whole pages (``deliver``)."""
        self._by_page = write_messages and self._writes_pages()
        self._page_records = 0
        try:
            yield from super()._sync_records(context, write_messages=write_messages)
        finally:
            self._by_page = False

    def get_record_counter(self, **kwargs: t.Any) -> metrics.Counter:
        """Return the sync's record counter, kept so that whole pages are counted too."""
        self._record_counter = super().get_record_counter(**kwargs)
        return self._record_counter

    def deliver(self, page: list[dict], context: Context | None) -> t.Iterable[dict]:
        """Return a page's records to the SDK's loop, or write them here and return none."""
        if not self._by_page:
            return page
        self._write_page(page, context)
        return ()

    def _write_page(self, page: list[dict], context: Context | None) -> None:
        """Write a page as the SDK's loop would: the records that fit at once, others one by one."""
        partition = self._get_state_partition_context(context) or {}
        check = self._fast_check
        fit: list[dict] = []
        written = 0
        for raw in page:
            record = self.post_process(raw, context)
            if record is None:
                continue
            for key, value in partition.items():
                record.setdefault(key, value)
            written += 1
            if check is not None and check(record):
                fit.append(record)
                continue
            self._write_fit(fit)
            fit = []
            self._write_record_message(record)
            self._increment_stream_state(record, context=context)
            self._counted(1)
            check = self._fast_check  # a schema that grew has a check of its own
        self._write_fit(fit)
        before, self._page_records = self._page_records, self._page_records + written
        if self._page_records // self.STATE_MSG_FREQUENCY > before // self.STATE_MSG_FREQUENCY:
            self._write_state_message()

    def _write_fit(self, records: list[dict]) -> None:
        """Write records that fit the schema as they are, counted before a signal may stop it."""
        if records:
            with GuardedWriter.guard:
                self._writer.write_records(self.name, records, self._extracted_at)
                self.state_manager.is_flushed = False
                self._stats.records += len(records)
                self._counted(len(records))

    def _counted(self, written: int) -> None:
        """Add records written to the SDK's record count (the METRIC record_count lines)."""
        if self._record_counter is not None:
            self._record_counter.increment(written)

    def _increment_stream_state(
        self, latest_record: Record, *, context: Context | None = None
    ) -> None:
        """Advance the stream's state with a written record; only then may a signal stop the run.

        So the STATE of an interrupted run covers exactly the records written, the last one too.
        """
        try:
            super()._increment_stream_state(latest_record, context=context)
            self._after_written(latest_record, context)
        finally:
            if self._held:
                self._held = False
                GuardedWriter.guard.__exit__(None, None, None)

    def _after_written(self, record: Record, context: Context | None) -> None:
        """Note what a stream keeps of a record once written and in its state (a hook)."""

    def _evolve(self, record: Record) -> None:
        """Grow the schema to hold the record (sent again, before it), moving variant values."""
        fixed = {
            *(self.primary_keys or ()),
            *([self.replication_key] if self.replication_key else []),
        }
        try:
            schema = evolve(self.effective_schema, record, fixed)
        except FixedFieldError as exc:
            raise BodyShapeError(f"Stream '{self.name}': {exc}") from None
        if schema == self.effective_schema:
            return
        # The SDK conforms records to effective_schema (the catalog's, else the stream's): both
        # are set, as the stream's own may be a class attribute that shadows _schema.
        self._schema = self._input_schema = schema
        self._tap.mapper.register_raw_stream_schema(self.name, schema, self.primary_keys)
        self._stream_maps = None
        self.__dict__.pop("_fast_check", None)
        self._schema_sent = False
        self._write_schema_message()
        self.run.stats.add(self.name, schema_changes=1)

    def _count(self, found: list[t.Any]) -> None:
        """Count what a frozen schema drops or lets through, warning once per field."""
        dropped = sum(1 for gap in found if gap.kind == "field")
        self.run.stats.add(self.name, dropped=dropped, mismatched=len(found) - dropped)
        for gap in found:
            if (gap.path, gap.kind) in self._warned:
                continue
            self._warned.add((gap.path, gap.kind))
            what = (
                f"field '{gap.path}' is not in its schema and is dropped"
                if gap.kind == "field"
                else f"field '{gap.path}' holds a {gap.detail}, which its schema does not admit"
            )
            self.logger.warning(
                "Stream '%s': %s (set schema_evolution to evolve to keep it whole)",
                self.name,
                what,
            )
