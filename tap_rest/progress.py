"""Run progress: resumable checkpoints in STATE, per-stream counts, clean interruption."""

from __future__ import annotations

import io
import os
import sys
import threading
import time
import typing as t
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from singer_sdk.contrib.msgspec import MsgSpecWriter, serialize_jsonl
from singer_sdk.singerlib import SingerMessageType
from singer_sdk.singerlib.encoding.simple import Message

from tap_rest.pagination import PageRequest

#: the STATE key of an unfinished run; a run that ends well removes it
RUN_KEY = "tap_rest_run"


class Interrupted(BaseException):
    """SIGTERM or SIGINT arrived: stop at once, outside any write (like KeyboardInterrupt)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def token_to_state(token: PageRequest | None) -> dict[str, t.Any] | None:
    """Serialise a page token for STATE."""
    if token is None:
        return None
    return {"url": token.url, "params": [list(p) for p in token.params]}


def token_from_state(value: t.Mapping[str, t.Any] | None) -> PageRequest | None:
    """Read a page token back from STATE."""
    if not value:
        return None
    return PageRequest(
        url=value.get("url"), params=tuple((k, v) for k, v in value.get("params", []))
    )


@dataclass
class StreamStats:
    """What one stream did in a run."""

    records: int = 0
    requests: int = 0
    retries: int = 0
    skipped: int = 0
    started: float | None = None
    ended: float | None = None

    @property
    def seconds(self) -> float:
        """Return the wall time from the stream's first request to its last record."""
        if self.started is None:
            return 0.0
        return (self.ended or time.monotonic()) - self.started


@dataclass
class RunProgress:
    """An unfinished run: streams completed, and where the current one stands.

    It rides in STATE under ``tap_rest_run`` while the run goes on, so that a rerun from the last
    STATE of an interrupted or failed run skips what was delivered and resumes the stream it was
    in at its last finished page.
    """

    completed: list[str] = field(default_factory=list)
    current: dict[str, t.Any] | None = None

    @classmethod
    def from_state(cls, state: t.Mapping[str, t.Any] | None) -> RunProgress:
        """Read the progress an interrupted run left in STATE (empty for a finished run)."""
        run = (state or {}).get(RUN_KEY) or {}
        return cls(completed=list(run.get("completed", [])), current=run.get("current"))

    def to_state(self) -> dict[str, t.Any]:
        """Return the STATE value of this progress."""
        return {"completed": list(self.completed), "current": self.current}

    def take_resume_token(self, stream: str) -> PageRequest | None:
        """Return, once, the page a stream resumes at, if the interrupted run was in it."""
        if self.current and self.current.get("stream") == stream:
            token, self.current = token_from_state(self.current.get("next")), None
            return token
        return None


@dataclass
class RunStats:
    """Counts for the run summary, shared by every stream and thread."""

    streams: dict[str, StreamStats] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, stream: str, **counts: int) -> None:
        """Add to a stream's counters."""
        with self.lock:
            stats = self.streams.setdefault(stream, StreamStats())
            now = time.monotonic()
            stats.started = stats.started or now
            stats.ended = now
            for name, value in counts.items():
                setattr(stats, name, getattr(stats, name) + value)

    def lines(self) -> list[str]:
        """Return one summary line per stream."""
        return [
            f"{name}: {s.records} records, {s.requests} requests, {s.retries} retries, "
            f"{s.skipped} skipped errors, {s.seconds:.1f} s"
            for name, s in self.streams.items()
        ]


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
    """

    guard = SignalGuard()
    flush_size = 1 << 16

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending = bytearray()

    def write_message(self, message: Message) -> None:
        """Queue one message; write the queue out at a STATE or once it is large."""
        with self.guard:
            self._pending += self.format_message(message)
            if message.type == SingerMessageType.STATE or len(self._pending) >= self.flush_size:
                self.flush()

    def write_record(self, stream: str, record: dict, time_extracted: datetime) -> None:
        """Queue a RECORD message, as the SDK would write it, without building its object."""
        line = {
            "type": "RECORD",
            "stream": stream,
            "record": record,
            "time_extracted": time_extracted,
        }
        with self.guard:
            self._pending += serialize_jsonl(line)
            if len(self._pending) >= self.flush_size:
                self.flush()

    def flush(self) -> None:
        """Write out every queued message."""
        with self.guard:
            if self._pending:
                _emit(self._pending)
                self._pending.clear()


class Prefetcher:
    """Fetches partitions that do not depend on one another in worker threads, ahead of use.

    The main thread still writes every record, in order; a partition's pages are held from the
    moment they are fetched until they are written, so memory is bounded by the window of
    partitions in flight (the children of one parent page, or ``window`` entities by id).
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.window = workers * 2
        self.enabled = workers > 1
        self._executor = (
            ThreadPoolExecutor(workers, thread_name_prefix="tap-rest") if self.enabled else None
        )
        self._futures: dict[tuple[str, tuple], Future] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(stream: t.Any, context: t.Mapping[str, t.Any] | None) -> tuple[str, tuple]:
        return stream.name, tuple(sorted((context or {}).items()))

    def submit(self, stream: t.Any, context: t.Mapping[str, t.Any]) -> None:
        """Start fetching a partition, unless it is already on its way."""
        if self._executor is None:
            return
        key = self._key(stream, context)
        with self._lock:
            if key not in self._futures:
                self._futures[key] = self._executor.submit(stream.fetch_partition, dict(context))

    def take(self, stream: t.Any, context: t.Mapping[str, t.Any] | None) -> Future | None:
        """Return (and forget) the fetch of a partition, if one was started."""
        with self._lock:
            return self._futures.pop(self._key(stream, context), None)

    def shutdown(self) -> None:
        """Cancel what has not started; let running fetches end with their requests."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
