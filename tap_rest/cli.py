"""The command line: files read with clear errors, every failure one line, and clean exits.

A mistake ends in ``tap-rest: error: <what>, <where>`` on stderr and exit code 1 (2 for a
command-line usage error, as click reports it); the traceback only at debug level
(``--log-level debug`` or ``LOGLEVEL=DEBUG``). SIGTERM and SIGINT end the run within seconds
with 128 + the signal (``shutdown.py``).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import traceback
import typing as t
from pathlib import Path

import click
from singer_sdk import Tap
from singer_sdk.exceptions import ConfigValidationError, FatalAPIError
from singer_sdk.plugin_base import SingerCommand, _ConfigInput

from tap_rest.errors import Interrupted
from tap_rest.progress import quiet_logs
from tap_rest.redact import redact_text
from tap_rest.shutdown import WATCHDOG, hard_exit
from tap_rest.writer import GuardedWriter

if t.TYPE_CHECKING:
    from types import FrameType, TracebackType

PROG = "tap-rest"
LOG_LEVELS = ("debug", "info", "warning", "error")


class FileProblemError(Exception):
    """A config, catalog or state file that cannot be used (missing, not JSON, wrong shape)."""


def debugging() -> bool:
    """Tell whether tracebacks are wanted (debug level)."""
    return logging.getLogger().getEffectiveLevel() <= logging.DEBUG


def error_line(message: str) -> None:
    """Write ``tap-rest: error: <message>`` on stderr, secrets hidden, one line."""
    text = " ".join(redact_text(str(message)).split())
    sys.stderr.write(f"{PROG}: error: {text}\n")
    sys.stderr.flush()


def fail(messages: t.Iterable[str], code: int = 1) -> t.NoReturn:
    """Write each problem as an error line and exit."""
    for message in messages:
        error_line(message)
    raise SystemExit(code)


def read_json(path: str, what: str) -> t.Any:
    """Read a JSON file, or say which file is wrong and where (line and column)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        msg = f"{what} {path!r} not found"
        raise FileProblemError(msg) from None
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"{what} {path!r} cannot be read: {getattr(exc, 'strerror', None) or exc}"
        raise FileProblemError(msg) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        msg = f"{what} {path!r} is not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        raise FileProblemError(msg) from None


def _object(value: t.Any, what: str, path: str) -> dict[str, t.Any]:
    if not isinstance(value, dict):
        msg = f"{what} {path!r} must hold a JSON object, not {type(value).__name__}"
        raise FileProblemError(msg)
    return value


def read_catalog(path: str) -> dict[str, t.Any]:
    """Read a catalog file: an object whose ``streams`` is a list of entries."""
    catalog = _object(read_json(path, "catalog"), "catalog", path)
    streams = catalog.get("streams")
    if not isinstance(streams, list):
        msg = f"catalog {path!r}: 'streams' must be a list of stream entries"
        raise FileProblemError(msg)
    for n, entry in enumerate(streams):
        if not isinstance(entry, dict) or not isinstance(entry.get("tap_stream_id"), str):
            msg = f"catalog {path!r}: streams[{n}] is not an entry with a tap_stream_id"
            raise FileProblemError(msg)
        if not isinstance(entry.get("schema", {}), dict) or not isinstance(
            entry.get("metadata", []), list
        ):
            name = entry["tap_stream_id"]
            msg = f"catalog {path!r}: stream '{name}' has a malformed schema or metadata"
            raise FileProblemError(msg)
    return catalog


def read_state(path: str) -> dict[str, t.Any]:
    """Read a state file: an object whose ``bookmarks``, if any, is an object."""
    state = _object(read_json(path, "state"), "state", path)
    if not isinstance(state.get("bookmarks", {}), dict):
        msg = f"state {path!r}: 'bookmarks' must be an object"
        raise FileProblemError(msg)
    return state


def _excepthook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    """Say an unexpected failure in one line; its traceback only at debug level."""
    if debugging():
        sys.stderr.write(redact_text("".join(traceback.format_exception(kind, value, tb))))
    error_line(f"{kind.__name__}: {value}" if str(value) else kind.__name__)


class TapRestCommand(SingerCommand):
    """The SDK's Singer command, whose failures are one line each."""

    def invoke(self, ctx: click.Context) -> t.Any:
        """Run the command; a config problem or a failure ends in error lines and exit 1."""
        logging.captureWarnings(capture=True)
        sys.excepthook = _excepthook
        try:
            return click.Command.invoke(self, ctx)
        except ConfigValidationError as exc:
            fail(exc.errors or [str(exc)])
        except FileProblemError as exc:
            fail([str(exc)])


def _log_level(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """Set the log level for this run (as LOGLEVEL does)."""
    if value:
        os.environ["TAP_REST_LOGLEVEL"] = value.upper()
        logging.getLogger().setLevel(value.upper())


class CommandLine(Tap):
    """The private base that runs a tap from the command line, its mistakes one line each."""

    _stopping = False

    @classmethod
    def get_singer_command(cls) -> click.Command:
        """Return the SDK's command, with one-line failures and ``--log-level``."""
        quiet_logs()
        base = super().get_singer_command()
        command = TapRestCommand(
            name=base.name,
            callback=base.callback,
            params=base.params,
            help=base.help,
            context_settings=base.context_settings,
            logger=cls.logger,
        )
        command.params.insert(
            0,
            click.Option(
                ["--log-level"],
                type=click.Choice(LOG_LEVELS, case_sensitive=False),
                help="Log level (default info; debug shows requests, metrics and tracebacks).",
                is_eager=True,
                expose_value=False,
                callback=_log_level,
            ),
        )
        return command

    @classmethod
    def cb_config(
        cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]
    ) -> _ConfigInput:
        """Read the config files (JSON numbers as Python's), or say which one is wrong."""
        config: dict[str, t.Any] = {}
        parse_env = False
        try:
            for path in value:
                if path == "ENV":
                    parse_env = True
                    continue
                config |= _object(read_json(path, "config file"), "config file", path)
        except FileProblemError as exc:
            fail([str(exc)])
        return _ConfigInput(config=config, parse_env=parse_env)

    @classmethod
    def cb_discover(cls, ctx: click.Context, param: click.Option, value: bool) -> None:
        """Discover the streams, after the same checks of the config as a sync."""
        if not value:
            return
        config: _ConfigInput = ctx.params.get("config", _ConfigInput())
        try:
            tap = cls(
                config=config.config,
                parse_env_config=config.parse_env,
                validate_config=True,
                setup_mapper=False,
            )
            tap.run_discovery()
        except ConfigValidationError as exc:
            fail(exc.errors or [str(exc)])
        except FatalAPIError as exc:  # schema inference asks the API
            fail([str(exc)])
        except Interrupted as stop:
            hard_exit(128 + stop.signum)
        ctx.exit()

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        """Stop at the next safe point and wake the watchdog; a second signal is ignored."""
        if CommandLine._stopping:
            return
        CommandLine._stopping = True
        WATCHDOG.trigger(signum)
        GuardedWriter.guard.handle(signum)

    @classmethod
    def _early_stop(cls, signum: int) -> None:
        if not CommandLine._stopping:
            CommandLine._stopping = True
            WATCHDOG.trigger(signum)
            raise Interrupted(signum)

    @classmethod
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: _ConfigInput | None = None,
        state: t.IO[str] | None = None,
        catalog: t.IO[str] | None = None,
    ) -> None:
        """Run the tap; on SIGTERM or SIGINT, end with a STATE and exit 128 + the signal."""
        super(Tap, cls).invoke(about=about, about_format=about_format)
        WATCHDOG.arm()
        # Until the tap is made (discovery sends requests), a signal ends it at once.
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda number, _: cls._early_stop(number))
        cls.print_version(print_fn=cls.logger.info)
        config = config or _ConfigInput()
        try:
            tap = cls(
                config=config.config,
                state=None if state is None else read_state(state.name),
                catalog=None if catalog is None else read_catalog(catalog.name),
                parse_env_config=config.parse_env,
                validate_config=True,
            )
            problems = tap.catalog_problems()
        except FatalAPIError as exc:  # schema inference asks the API
            fail([str(exc)])
        except Interrupted as stop:
            hard_exit(128 + stop.signum)
        if problems:
            fail(problems)
        writer = t.cast("GuardedWriter", tap.message_writer)
        try:
            tap.sync()
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else 1
            if code:
                hard_exit(code, writer.flush)
            raise
        except Exception as exc:  # an unexpected failure: one line, the traceback at debug
            if debugging():
                traceback.print_exc()
            error_line(f"{type(exc).__name__}: {exc}")
            hard_exit(1, writer.flush)

    def catalog_problems(self) -> list[str]:
        """Return what is wrong with the input catalog: streams selected that do not exist."""
        if self.input_catalog is None:
            return []
        known = set(self.streams)
        unknown = [
            entry.tap_stream_id
            for entry in self.input_catalog.streams
            if entry.tap_stream_id not in known and entry.metadata.root.selected
        ]
        return [
            f"catalog: stream '{name}' is selected but the config has no such stream "
            f"(its streams: {', '.join(sorted(known)) or 'none'})"
            for name in unknown
        ]

    def sync(self) -> None:
        """Sync every selected stream (the tap's own sync, with its exits)."""
        raise NotImplementedError
