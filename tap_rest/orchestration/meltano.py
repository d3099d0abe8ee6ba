"""One piece of tap-rest's work through Meltano: a shard or a window as its own ``meltano run``.

A piece is ``meltano run --state-id-suffix <piece> tap-rest <loader>`` with the piece in the
tap's environment (``TAP_REST_SHARD`` or ``TAP_REST_WINDOW``), so that its STATE lives in
Meltano's state backend under its own state id and any machine can pick it up. Before n pieces
start at once, ``prepare`` installs the two plugins, readies Meltano's system database and has
the loader create every table from the streams' SCHEMA messages alone, once, so that n loaders
never race to create one.

Pieces that run on one machine at once each get a Meltano system folder of their own (the
plugins' virtual environments and the system database linked from the project's): Meltano
writes an extractor's catalog and state file under fixed names in ``.meltano/run/<plugin>/``,
where two runs of one extractor would read each other's. Nothing here imports Dagster: any
orchestrator can drive it.
"""

from __future__ import annotations

import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

#: words that make a plugin's plain (unstructured) output line an error line
_ERROR_WORDS = re.compile(r"error|exception|traceback|fatal|failed", re.IGNORECASE)
#: lines of a run's output kept to find its last error line
_TAIL = 400


class PieceError(RuntimeError):
    """A piece's ``meltano run`` failed; the message is its last error line."""

    def __init__(self, message: str, outcome: Outcome) -> None:
        super().__init__(message)
        self.outcome = outcome


@dataclass(frozen=True)
class Piece:
    """A shard or a window: its name, its state id suffix and its environment."""

    name: str
    state_suffix: str
    env: dict[str, str] = field(default_factory=dict)


def shard_piece(index: int, count: int) -> Piece:
    """Return shard ``index`` of ``count``."""
    return Piece(
        f"shard {index} of {count}",
        f"shard-{index}-of-{count}",
        {"TAP_REST_SHARD": json.dumps({"index": index, "count": count})},
    )


def _slug(value: t.Any) -> str:
    """Return a bound fit for a state id (``2025-01-01T00:00:00+00:00``: ``2025-01-01T000000Z``)."""
    return re.sub(r"[^0-9A-Za-z-]+", "", str(value).replace("+00:00", "Z"))


def window_piece(start: t.Any, end: t.Any) -> Piece:
    """Return the window [start, end)."""
    return Piece(
        f"window [{start}, {end})",
        f"window-{_slug(start)}-{_slug(end)}",
        {"TAP_REST_WINDOW": json.dumps({"start": start, "end": end})},
    )


@dataclass
class Outcome:
    """What a piece's run did: its exit code, the tap's summary lines, its last error line."""

    piece: Piece
    returncode: int
    summary: list[str]
    last_error: str
    tail: list[str]


def last_error_line(lines: t.Iterable[str]) -> str:
    """Return the last error line of a ``meltano --log-format=json`` run's output.

    A plugin's own error (the tap's, the loader's) beats Meltano's ("Extractor failed"), which
    beats the last line. Structured plugin lines carry their level; plain ones are told by their
    words.
    """
    plugin, meltano, plain = "", "", ""
    for raw in lines:
        text = raw.strip()
        if not text:
            continue
        try:
            entry = json.loads(text)
        except ValueError:
            entry = None
        if not isinstance(entry, dict):
            plain = text
            continue
        event = str(entry.get("event", "")).strip()
        plain = event or plain
        structured = "plugin_logger" in entry or "app_name" in entry
        level_error = str(entry.get("level", "")).lower() in ("error", "critical")
        if entry.get("string_id"):
            if level_error or (not structured and _ERROR_WORDS.search(event)):
                name = str(entry["string_id"])
                plugin = event if event.startswith(f"{name}:") else f"{name}: {event}"
        elif level_error:
            meltano = f"{event}: {entry['err']}" if entry.get("err") else event
    return plugin or meltano or plain or "no output"


@dataclass(frozen=True)
class MeltanoProject:
    """A Meltano project, and the ``meltano`` that runs it."""

    root: Path
    executable: str
    environment: str | None = None

    @classmethod
    def locate(
        cls,
        root: str | Path | None = None,
        executable: str | None = None,
        environment: str | None = None,
    ) -> MeltanoProject:
        """Find the project (``MELTANO_PROJECT_ROOT``, else the current directory) and meltano.

        ``meltano`` is ``MELTANO_BIN``, else the one on PATH, else the project's
        ``.venv-meltano`` (where ``scripts/meltano.sh`` installs it).
        """
        where = Path(root or os.environ.get("MELTANO_PROJECT_ROOT") or Path.cwd()).resolve()
        found = (
            executable
            or os.environ.get("MELTANO_BIN")
            or shutil.which("meltano")
            or str(where / ".venv-meltano" / "bin" / "meltano")
        )
        return cls(where, found, environment or os.environ.get("MELTANO_ENVIRONMENT") or None)

    def command(self, *args: str) -> list[str]:
        """Return a meltano command line, JSON logs, in this project's environment."""
        environment = ["--environment", self.environment] if self.environment else []
        return [self.executable, "--log-format=json", *environment, *args]

    def environ(self, extra: t.Mapping[str, str] | None = None) -> dict[str, str]:
        """Return the environment meltano runs in."""
        return {**os.environ, "MELTANO_PROJECT_ROOT": str(self.root), **(extra or {})}

    @property
    def system_dir(self) -> Path:
        """Return the project's Meltano system folder (``.meltano``)."""
        return Path(os.environ.get("MELTANO_SYS_DIR_ROOT") or self.root / ".meltano").resolve()

    def piece_system_dir(self, piece: Piece) -> Path:
        """Return a system folder of the piece's own: its run files, the rest linked.

        The plugins' virtual environments and the system database (SQLite follows the link to
        the real file, its journal included) stay the project's; ``run`` and ``logs`` are the
        piece's.
        """
        own = self.system_dir / "run" / "pieces" / piece.state_suffix
        own.mkdir(parents=True, exist_ok=True)
        for entry in self.system_dir.iterdir():
            if entry.name in ("run", "logs") or entry.name.startswith("meltano.db-"):
                continue
            link = own / entry.name
            if not link.is_symlink() and not link.exists():
                link.symlink_to(entry)
        return own

    def call(
        self, *args: str, env: t.Mapping[str, str] | None = None, stdin: bytes | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        """Run a meltano command to its end, its output captured; raise on failure."""
        proc = subprocess.run(
            self.command(*args),
            cwd=self.root,
            env=self.environ(env),
            input=stdin,
            capture_output=True,
            check=False,
        )
        if proc.returncode != 0:
            lines = proc.stderr.decode(errors="replace").splitlines()
            msg = f"meltano {' '.join(args)} failed: {last_error_line(lines)}"
            raise RuntimeError(msg)
        return proc

    # --- the pieces ----------------------------------------------------------------------

    def prepare(
        self, extractor: str, loader: str, env: t.Mapping[str, str] | None = None
    ) -> list[str]:
        """Ready the system database, and have the loader create every table once.

        Returns the streams whose tables the loader was given. The tap's config and catalog come
        from Meltano (``invoke --dump``), as ``meltano run`` would make them; they stay in a
        private temporary folder, removed at once (the config may hold secrets).
        """
        self.call("install", extractor, loader, env=env)  # never n installs at once
        self.call("state", "list", env=env)  # makes or migrates the system database, once
        with tempfile.TemporaryDirectory(prefix="tap-rest-") as folder:
            config, catalog = Path(folder, "config.json"), Path(folder, "catalog.json")
            config.write_bytes(self.call("invoke", "--dump=config", extractor, env=env).stdout)
            catalog.write_bytes(self.call("invoke", "--dump=catalog", extractor, env=env).stdout)
            schemas = subprocess.run(
                [
                    *(sys.executable, "-m", "tap_rest.orchestration.schemas"),
                    *("--config", str(config), "--catalog", str(catalog)),
                ],
                capture_output=True,
                check=False,
            )
        if schemas.returncode != 0:
            lines = schemas.stderr.decode(errors="replace").splitlines()
            msg = f"the tap's SCHEMA messages: {last_error_line(lines)}"
            raise RuntimeError(msg)
        self.call("invoke", loader, env=env, stdin=schemas.stdout)
        return [json.loads(line)["stream"] for line in schemas.stdout.splitlines() if line]

    def run_piece(
        self,
        piece: Piece,
        extractor: str,
        loader: str,
        env: t.Mapping[str, str] | None = None,
        log: t.Callable[[str], None] | None = None,
    ) -> Outcome:
        """Run ``meltano run`` for one piece; raise PieceError with its last error line.

        ``log`` receives the tap's summary lines (one per stream) as they come.
        """
        command = self.command("run", "--state-id-suffix", piece.state_suffix, extractor, loader)
        proc = subprocess.Popen(
            command,
            cwd=self.root,
            env=self.environ(
                {
                    **(env or {}),
                    **piece.env,
                    "MELTANO_SYS_DIR_ROOT": str(self.piece_system_dir(piece)),
                }
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        assert proc.stdout is not None
        tail: collections.deque[str] = collections.deque(maxlen=_TAIL)
        summary = []
        for line in proc.stdout:
            tail.append(line)
            if "Summary: " in line:
                try:
                    event = str(json.loads(line).get("event", ""))
                except ValueError:
                    event = line.strip()
                summary.append(event[event.find("Summary: ") :])
                if log is not None:
                    log(f"{piece.name}: {summary[-1]}")
        returncode = proc.wait()
        outcome = Outcome(piece, returncode, summary, last_error_line(tail), list(tail))
        if returncode != 0:
            msg = f"{piece.name} failed (meltano run exit {returncode}): {outcome.last_error}"
            raise PieceError(msg, outcome)
        return outcome
