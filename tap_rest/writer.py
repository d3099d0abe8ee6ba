"""The message writer: whole Singer messages whatever signal comes, and the record fast path."""

from __future__ import annotations

import io
import os
import sys
import typing as t
from datetime import datetime

from singer_sdk.contrib.msgspec import MsgSpecWriter, encoder, serialize_jsonl
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.singerlib import SingerMessageType

from tap_rest.errors import Interrupted

if t.TYPE_CHECKING:
    from singer_sdk import Stream
    from singer_sdk.singerlib.encoding.simple import Message

    from tap_rest.batch import BatchFiles

#: the Python types a JSON schema type admits in a decoded record (bool is no integer)
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


class SignalGuard:
    """Turns SIGTERM/SIGINT into Interrupted, but never in the middle of writing a message."""

    def __init__(self) -> None:
        self.pending: int | None = None
        self._writing = 0

    def handle(self, signum: int) -> None:
        """Signal handler body: raise now, or once the message being written is whole."""
        if self._writing:
            self.pending = signum
            return
        raise Interrupted(signum)

    def __enter__(self) -> None:
        self._writing += 1

    def __exit__(self, *exc: object) -> None:
        self._writing -= 1
        if not self._writing and self.pending is not None:
            signum, self.pending = self.pending, None
            raise Interrupted(signum)


def write_all(fd: int, data: bytes | bytearray) -> None:
    """Write every byte, however many partial writes a signal causes.

    CPython's BufferedWriter (3.11) drops the rest of a chunk when a signal interrupts a write
    blocked on a full pipe, which is what a slow target makes; os.write reports partial writes.
    """
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _emit(data: bytearray) -> None:
    """Write to stdout's file descriptor, or to whatever replaced stdout (test harnesses)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        buffer = getattr(sys.stdout, "buffer", None)
        if buffer is not None:
            buffer.write(data)
        else:
            sys.stdout.write(data.decode())
        return
    sys.stdout.flush()
    write_all(fd, data)


class GuardedWriter(MsgSpecWriter):
    """The msgspec Singer writer, writing whole messages to fd 1 and flushing at each STATE.

    Records are buffered (not a syscall each) and go out at least at every STATE, before it, so a
    target never reads a STATE before the records it covers; a signal never cuts a message.

    With ``batch`` set (the ``batch_config`` setting), records go to batch files instead, and a
    STATE is held back until the files holding the records before it are announced (BATCH
    messages): when the records not yet announced fill a batch, before any other message (a
    stream's new SCHEMA above all, so that a batch only holds records its last SCHEMA
    describes), and at the end of the run. Only the latest STATE held is sent.
    """

    guard = SignalGuard()
    flush_size = 1 << 16

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending = bytearray()
        self.batch: BatchFiles | None = None
        self._held_state: Message | None = None
        #: the stream and time of the RECORD lines last framed, and their head and tail
        self._framed: tuple[str, datetime | None] = ("", None)
        self._head = self._tail = b""

    def write_message(self, message: Message) -> None:
        """Queue one message; write the queue out at a STATE or once it is large."""
        with self.guard:
            if self.batch is not None and self._batched(message):
                return
            self._pending += self.format_message(message)
            if message.type == SingerMessageType.STATE or len(self._pending) >= self.flush_size:
                self._drain()

    def write_records(
        self, stream: str, records: t.Sequence[dict], time_extracted: datetime
    ) -> None:
        """Queue RECORD messages, as the SDK would write them, without building their objects.

        Each line is the message's fixed head and tail around the record, encoded in place.
        """
        with self.guard:
            if self.batch is not None:
                for record in records:
                    self._to_batch(stream, record)
                return
            if (stream, time_extracted) != self._framed:
                self._framed = (stream, time_extracted)
                self._head = b'{"type":"RECORD","stream":' + encoder.encode(stream) + b',"record":'
                self._tail = b',"time_extracted":' + encoder.encode(time_extracted) + b"}\n"
            pending, head, tail = self._pending, self._head, self._tail
            for record in records:
                line_start = len(pending)
                pending += head
                try:
                    encoder.encode_into(record, pending, -1)
                except BaseException:
                    del pending[line_start:]  # never half a line
                    raise
                pending += tail
            if len(pending) >= self.flush_size:
                self._drain()

    def _to_batch(self, stream: str, record: dict) -> None:
        """Add a record to its stream's batch file; announce the files once they fill a batch."""
        assert self.batch is not None
        self.batch.add(stream, serialize_jsonl(record))
        if self.batch.full:
            self.announce()

    def _batched(self, message: Message) -> bool:
        """Route a message in batch mode; return True when it is dealt with (not to be written)."""
        assert self.batch is not None
        kind = message.type
        if kind == SingerMessageType.RECORD and getattr(message, "version", None) is None:
            self._to_batch(message.stream, message.record)  # type: ignore[attr-defined]
            return True
        if kind == SingerMessageType.STATE and self.batch.pending:
            self._held_state = message
            return True
        # Anything else (a SCHEMA, a versioned record, ACTIVATE_VERSION) follows every record
        # before it, and a STATE with nothing pending may go out now: the one held is older.
        self.announce()
        if kind == SingerMessageType.STATE:
            self._held_state = None
        return False

    def announce(self) -> None:
        """Close the open batch files, send their BATCH messages, then the STATE held back."""
        with self.guard:
            if self.batch is not None:
                for batch in self.batch.close_all():
                    self._pending += self.format_message(batch)
            if self._held_state is not None:
                self._pending += self.format_message(self._held_state)
                self._held_state = None
            self._drain()

    def flush(self) -> None:
        """Write out every queued message (announcing the open batch files first)."""
        self.announce()

    def _drain(self) -> None:
        """Write the queued bytes out."""
        with self.guard:
            if self._pending:
                _emit(self._pending)
                self._pending.clear()


def flat_types(schema: t.Mapping[str, t.Any]) -> dict[str, tuple[type, ...]] | None:
    """Return the Python types each property admits when the schema is flat, else None."""
    types: dict[str, tuple[type, ...]] = {}
    for name, prop in schema.get("properties", {}).items():
        kinds = prop.get("type", [])
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not kinds or any(k not in _PYTHON_TYPES for k in kinds):
            return None
        types[name] = tuple(c for k in kinds for c in _PYTHON_TYPES[k])
    return types


def record_check(
    types: t.Mapping[str, tuple[type, ...]], keys: t.Sequence[str] = ()
) -> t.Callable[[dict], bool]:
    """Return a function telling whether a record is exactly of these flat types, keys set.

    A plain loop: measured as fast as a compiled expression per stream (409 ns against 375 ns a
    five-field record, 0.1 % of what a record costs end to end).
    """
    names = frozenset(types)
    items = tuple(types.items())
    keys = tuple(keys)

    def check(record: dict) -> bool:
        if not record.keys() <= names:
            return False
        for name, allowed in items:
            if type(record.get(name)) not in allowed:
                return False
        for key in keys:  # noqa: SIM110 - all() over a generator is 50 % slower
            if record.get(key) is None:
                return False
        return True

    return check


def fast_path_check(stream: Stream) -> t.Callable[[dict], bool] | None:
    """Return the check of a stream's records that may be written as they are, else None.

    That is when nothing transforms them: a flat schema, no stream map, no flattening, every
    property selected, no record version. Each record is still checked against the types, and
    its primary key must be set (a keyless record takes the SDK's path, which names it).
    """
    types = flat_types(stream.effective_schema)
    maps = stream.stream_maps
    if (
        types is None
        or len(maps) != 1
        or type(maps[0]) is not SameRecordTransform
        or stream.config.get("flattening_enabled")
        or stream._stream_version is not None
        or not all(stream.mask.values())
    ):
        return None
    return record_check(types, stream.primary_keys or ())
