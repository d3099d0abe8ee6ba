"""tap-rest: the Tap, which validates its config, discovers the streams and wires them to a Run."""

from __future__ import annotations

import os
import signal
import typing as t
from functools import cached_property

from dotenv import find_dotenv, load_dotenv
from singer_sdk import Stream
from singer_sdk.exceptions import ConfigValidationError, FatalAPIError
from singer_sdk.helpers._classproperty import classproperty
from singer_sdk.plugin_base import JSONSchemaValidator
from singer_sdk.singerlib import StateMessage

from tap_rest.batch import BatchConfigError, BatchFiles
from tap_rest.cli import CommandLine, error_line
from tap_rest.config import BUILTIN_STREAMS, CONFIG_SCHEMA, config_from_env, normalised
from tap_rest.declarative import DeclaredStream, declared_classes
from tap_rest.errors import Interrupted
from tap_rest.inference import Sampler
from tap_rest.progress import Progress, quiet_logs
from tap_rest.redact import Redactor, install_redaction
from tap_rest.run import Run, run_redactor
from tap_rest.streams import STREAM_TYPES
from tap_rest.validate import config_problems, unknown_settings
from tap_rest.writer import GuardedWriter

_EMPTY_SCHEMA = {"type": "object", "properties": {}}


class TapRest(CommandLine):
    """Singer tap for REST APIs: jsonplaceholder and PokeAPI built in, any API in config."""

    name = "tap-rest"
    package_name = "tap-rest"
    config_jsonschema = CONFIG_SCHEMA
    message_writer_class = GuardedWriter

    @classproperty
    def _env_var_config(cls) -> dict[str, t.Any]:  # noqa: N805
        """Read settings from the environment (and a .env file), typed by the config schema."""
        load_dotenv(find_dotenv(usecwd=True), override=False)
        schema = cls.config_jsonschema
        cls.append_builtin_config(schema)
        return config_from_env(schema, cls._env_var_prefix, os.environ)

    @cached_property
    def run(self) -> Run:
        """Return what this sync's streams share (made at discovery, once)."""
        state = t.cast("dict[str, t.Any]", self.state)
        return Run(
            self.config,
            state=state,
            write_state=self.state_writer.write_state,
            redactor=self.redactor,
        )

    @cached_property
    def redactor(self) -> Redactor:
        """Return what keeps this run's secrets out of every log line (installed at validation)."""
        return run_redactor(self.config)

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Fill in defaults, then check the whole config at once, each problem named."""
        self._config = normalised(self._config)
        install_redaction(self.redactor)
        schema = self.config_jsonschema
        self.append_builtin_config(schema)
        for _ in JSONSchemaValidator(schema).iter_errors(self._config):
            pass  # the SDK's validator fills in defaults; our own names the problems
        builtin = {cls.name for cls in STREAM_TYPES}
        errors = config_problems(self._config, schema, builtin)
        for warning in unknown_settings(self._config, schema):
            self.logger.warning("%s", warning)
        quiet_logs(metrics=bool(self._config.get("log_metrics")))
        if errors and raise_errors:
            raise ConfigValidationError("Config validation failed", errors=errors, schema=schema)
        return errors

    def load_state(self, state: dict[str, t.Any]) -> None:
        """Load the bookmarks, and the progress of the interrupted run the STATE comes from."""
        super().load_state(state)
        self.run.shard.check_state(state)
        checkpoints = self.run.checkpoints
        checkpoints.load(state)
        if checkpoints.resuming:
            current = checkpoints.resume_from.current
            self.logger.info(
                "Resuming an interrupted run: %s delivered%s",
                ", ".join(checkpoints.resume_from.completed) or "no stream",
                f", {current['stream']} in progress" if current else "",
            )

    def discover_streams(self) -> list[Stream]:
        """Return the built-in streams asked for, then those the streams setting describes."""
        streams: list[Stream] = self._builtin_streams()
        sampler = Sampler(self._probe)
        catalog = self.input_catalog

        def schema_of(cls: type[DeclaredStream]) -> dict[str, t.Any]:
            known = catalog.get_stream(cls.definition["name"]) if catalog else None
            # The catalog carries the schema discovery inferred: no request needed.
            return known.schema.to_dict() if known is not None else sampler.schema(cls)

        apis = self.config.get("apis") or {}
        with self.run.window.set_aside():  # every shard and window infers the same schemas
            classes = declared_classes(self.config.get("streams") or [], apis, schema_of)
        streams += [cls(tap=self, run=self.run) for cls in classes]
        return streams

    def _builtin_streams(self) -> list[Stream]:
        """Return the built-in streams the config asks for, each with the parents it needs.

        A config that declares streams gets no built-in one unless it lists it: they point at
        the public APIs. A parent brought in for a child is read, not written, unless listed.
        """
        declared = bool(self.config.get("streams"))
        wanted = set(self.config.get("builtin_streams") or ([] if declared else BUILTIN_STREAMS))
        needed = set(wanted)
        for cls in STREAM_TYPES:
            if cls.name in wanted and cls.parent_stream_type is not None:
                needed.add(t.cast("t.Any", cls.parent_stream_type).name)
        streams: list[Stream] = []
        for cls in STREAM_TYPES:
            if cls.name in needed:
                stream = cls(tap=self, run=self.run)
                stream.selected_by_default = cls.name in wanted
                streams.append(stream)
        return streams

    def _probe(self, cls: type[DeclaredStream]) -> DeclaredStream:
        return cls(tap=self, run=self.run, schema=_EMPTY_SCHEMA)

    def sync(self) -> None:
        """Sync every selected stream; on a signal or a failure, exit with the last STATE out.

        A run that ends well drops its progress from the final STATE. One that is interrupted
        writes a final STATE that covers every record written, and exits 128 + the signal; one
        that fails exits 1, its last STATE standing.
        """
        self.run.stats.reset()  # what discovery sampled is no part of the run
        writer = t.cast("GuardedWriter", self.message_writer)
        try:
            writer.batch = BatchFiles.from_config(self.config.get("batch_config"), self.name)
        except BatchConfigError as exc:
            error_line(str(exc))
            raise SystemExit(1) from None
        progress = Progress(self.run.stats, float(self.config.get("progress_interval", 10)))
        try:
            progress.start()
            self.sync_all()
        except Interrupted as stop:
            # Written even when unchanged, so that the run's last message is its STATE.
            writer.write_message(StateMessage(value=self.run.checkpoints.snapshot()))
            error_line(
                f"Interrupted by {signal.Signals(stop.signum).name}: the last STATE covers every "
                "record written; run again with it to resume"
            )
            self.log_summary()
            raise SystemExit(128 + stop.signum) from None
        except FatalAPIError as exc:
            # A known failure: its message says it all, a traceback would only bury it.
            error_line(str(exc))
            self.log_summary()
            raise SystemExit(1) from None
        except BaseException:
            self.log_summary()
            raise
        finally:
            progress.stop()
            writer.flush()
        self.run.checkpoints.finish()
        self.log_summary()
        self.run.close()
        writer.flush()

    def log_summary(self) -> None:
        """Log one line per stream: records, requests, retries, skipped errors, seconds."""
        for line in self.run.stats.lines():
            self.logger.info("Summary: %s", line)


if __name__ == "__main__":
    TapRest.cli()
