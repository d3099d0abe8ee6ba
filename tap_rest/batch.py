"""Singer BATCH output: each stream's records into JSON-lines files, announced before any STATE."""

from __future__ import annotations

import gzip
import os
import re
import typing as t
import uuid
from dataclasses import dataclass, field

from singer_sdk.helpers._batch import BaseBatchFileEncoding, BatchConfig, SDKBatchMessage

if t.TYPE_CHECKING:
    from singer_sdk.helpers._batch import StorageTarget


class BatchConfigError(ValueError):
    """A batch_config that tap-rest's writer cannot honour."""


@dataclass
class _OpenFile:
    """One stream's batch file being written: its name, handle and record count."""

    name: str
    raw: t.IO[bytes]
    out: t.IO[bytes]
    records: int = 0
    closers: list[t.Any] = field(default_factory=list)


def _local_dir(root: str) -> str | None:
    """Return the local directory a storage root names, or None for a remote one."""
    if root.startswith("file://"):
        return root[len("file://") :] or "/"
    return None if "://" in root else root


class BatchFiles:
    """The open batch file of each stream, and the BATCH messages of the files closed.

    Files are named ``{prefix}{tap}-{stream}-{run id}-{n}.jsonl[.gz]`` under the configured
    root (created owner-only when local, as records may hold personal data). gzip is written at
    level 1: level 9, the SDK's, costs the tap more time than the smaller file saves the target.
    The target reads the files; nothing deletes them (target-postgres 0.8 does not either): the
    root is the pipeline's to clean once the target has finished.
    """

    def __init__(self, config: BatchConfig, tap_name: str) -> None:
        if config.encoding.format != "jsonl":
            raise BatchConfigError(
                f"batch_config: encoding format '{config.encoding.format}' is not written by "
                "tap-rest; use jsonl (with compression gzip or none)"
            )
        if not config.storage.root:
            raise BatchConfigError("batch_config: storage.root is required")
        if int(config.batch_size) < 1:
            raise BatchConfigError("batch_config: batch_size must be at least 1")
        self.config = config
        self.gzip = config.encoding.compression == "gzip"
        self.encoding = BaseBatchFileEncoding(
            format="jsonl", compression="gzip" if self.gzip else "none"
        )
        self.batch_size = int(config.batch_size)
        self._run = f"{tap_name}-{{stream}}-{uuid.uuid4().hex[:12]}"
        self._count = 0
        self._open: dict[str, _OpenFile] = {}
        #: records written to files not yet announced, every stream together
        self.pending = 0

    @classmethod
    def from_config(cls, raw: t.Mapping[str, t.Any] | None, tap_name: str) -> BatchFiles | None:
        """Return the batch files a ``batch_config`` setting asks for, else None."""
        if not raw:
            return None
        raw = dict(raw)
        raw.setdefault("encoding", {"format": "jsonl", "compression": "gzip"})
        if "storage" not in raw:
            raise BatchConfigError("batch_config: storage.root is required")
        try:
            config = BatchConfig.from_dict(raw)
        except TypeError as exc:
            raise BatchConfigError(f"batch_config: {exc}") from None
        return cls(config, tap_name)

    @property
    def storage(self) -> StorageTarget:
        """Return where the files go."""
        return self.config.storage

    def add(self, stream: str, line: bytes | bytearray) -> None:
        """Append one record (a JSON line) to the stream's open file."""
        current = self._open.get(stream) or self._start(stream)
        current.out.write(line)
        current.records += 1
        self.pending += 1

    @property
    def full(self) -> bool:
        """Tell whether the records not yet announced fill a batch."""
        return self.pending >= self.batch_size

    def close_all(self) -> list[SDKBatchMessage]:
        """Close every open file; return their BATCH messages, in the order they were opened."""
        messages = []
        for stream, current in self._open.items():
            current.out.close()
            for closer in current.closers:
                closer.__exit__(None, None, None)
            url = self.storage.get_url(current.name)
            messages.append(SDKBatchMessage(stream=stream, encoding=self.encoding, manifest=[url]))
        self._open.clear()
        self.pending = 0
        return messages

    def _start(self, stream: str) -> _OpenFile:
        """Open the next file of a stream."""
        self._count += 1
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", stream)
        suffix = ".jsonl.gz" if self.gzip else ".jsonl"
        name = f"{self.storage.prefix or ''}{self._run.format(stream=safe)}-{self._count}{suffix}"
        local = _local_dir(self.storage.root)
        closers: list[t.Any] = []
        if local is not None:
            os.makedirs(local, mode=0o700, exist_ok=True)
            path = os.path.join(local, name)
            raw: t.IO[bytes] = os.fdopen(
                os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb", 1 << 16
            )
        else:
            opener = self.storage.open(name, "wb")
            raw = opener.__enter__()
            closers.append(opener)
        out: t.IO[bytes] = (
            t.cast("t.IO[bytes]", gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1))
            if self.gzip
            else raw
        )
        if self.gzip:
            # GzipFile leaves the file it wraps open.
            closers.insert(0, _Closing(raw))
        current = _OpenFile(name=name, raw=raw, out=out, closers=closers)
        self._open[stream] = current
        return current


class _Closing:
    """Close a file on exit (contextlib.closing without the generic typing)."""

    def __init__(self, file: t.IO[bytes]) -> None:
        self.file = file

    def __exit__(self, *exc: object) -> None:
        self.file.close()
