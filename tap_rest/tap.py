"""tap-rest: the tap class, its settings and stream discovery."""

from __future__ import annotations

import copy
import os
import signal
import sys
import typing as t
from functools import cached_property
from importlib.metadata import PackageNotFoundError, version
from types import FrameType

import requests
from dotenv import find_dotenv, load_dotenv
from singer_sdk import Stream, Tap
from singer_sdk import typing as th
from singer_sdk.authenticators import APIAuthenticatorBase
from singer_sdk.exceptions import ConfigValidationError, FatalAPIError
from singer_sdk.helpers._classproperty import classproperty
from singer_sdk.helpers._util import load_json
from singer_sdk.plugin_base import _ConfigInput
from singer_sdk.singerlib import StateMessage

from tap_rest.auth import (
    Redactor,
    auth_problems,
    build_authenticator,
    install_redaction,
    secret_values,
    without_secrets,
)
from tap_rest.declarative import DeclaredStream, definition_problems, infer_schema, stream_class
from tap_rest.pagination import PageRequest
from tap_rest.progress import (
    RUN_KEY,
    GuardedWriter,
    Interrupted,
    Prefetcher,
    RunProgress,
    RunStats,
    token_to_state,
)
from tap_rest.ratelimit import RateLimiter
from tap_rest.streams import STREAM_TYPES

try:
    __version__ = version("tap-rest")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

_SCALAR = th.CustomType({"type": ["string", "integer", "number", "boolean"]})

AUTH = th.DiscriminatedUnion(
    "type",
    none=th.ObjectType(additional_properties=False),
    api_key=th.ObjectType(
        th.Property(
            "name", th.StringType, required=True, description="Header or query parameter name."
        ),
        th.Property("value", th.StringType, required=True, secret=True, description="The API key."),
        th.Property(
            "location",
            th.StringType,
            allowed_values=["header", "query"],
            description="Send the key in a header (the default) or as a query parameter.",
        ),
        additional_properties=False,
    ),
    bearer=th.ObjectType(
        th.Property("token", th.StringType, required=True, secret=True, description="The token."),
        additional_properties=False,
    ),
    basic=th.ObjectType(
        th.Property("username", th.StringType, required=True, description="User name."),
        th.Property("password", th.StringType, required=True, secret=True, description="Password."),
        additional_properties=False,
    ),
    oauth2_client_credentials=th.ObjectType(
        th.Property("token_url", th.URIType, required=True, description="The token endpoint."),
        th.Property("client_id", th.StringType, required=True, description="OAuth client id."),
        th.Property(
            "client_secret", th.StringType, required=True, secret=True, description="Client secret."
        ),
        th.Property("scopes", th.ArrayType(th.StringType), description="Scopes to ask for."),
        th.Property("audience", th.StringType, description="Audience (Auth0 and the like)."),
        th.Property(
            "refresh_margin",
            th.NumberType(minimum=0),
            description="Refresh the token this many seconds before it expires "
            "(default 60, at most half its lifetime).",
        ),
        additional_properties=False,
    ),
)


_TRUTHY = ("1", "true", "t", "yes", "y", "on")
DEFAULT_CONCURRENCY = 10
SAMPLE_PAGES, SAMPLE_RECORDS = 3, 1000


def _json_types(prop: t.Mapping[str, t.Any]) -> set[str]:
    """Return the JSON types a property admits (a union of objects counts as an object)."""
    if "oneOf" in prop or "properties" in prop:
        return {"object"}
    types = prop.get("type", "string")
    return {types} if isinstance(types, str) else set(types) - {"null"}


def _env_value(prop: t.Mapping[str, t.Any], raw: str, variable: str) -> t.Any:
    """Read one environment variable as its setting's type."""
    types = _json_types(prop)
    try:
        if "integer" in types:
            return int(raw)
        if "number" in types:
            return float(raw)
        if "boolean" in types:
            return raw.strip().lower() in _TRUTHY
        if types & {"array", "object"}:
            return load_json(raw)
    except ValueError as exc:
        msg = f"{variable}: cannot read {raw!r} as {'/'.join(sorted(types))}"
        raise ConfigValidationError(msg, errors=[msg]) from exc
    return raw


def config_from_env(
    schema: t.Mapping[str, t.Any], prefix: str, environ: t.Mapping[str, str]
) -> dict[str, t.Any]:
    """Read settings from ``<PREFIX><SETTING>`` variables, typed by the config schema.

    An object setting is one JSON variable (``TAP_REST_AUTH='{"type": "bearer", ...}'``) or one
    variable per field (``TAP_REST_AUTH_TYPE``, ``TAP_REST_AUTH_TOKEN``), as Meltano names them.
    """
    config: dict[str, t.Any] = {}
    for key, prop in schema.get("properties", {}).items():
        variable = prefix + key.upper().replace("-", "_")
        if variable in environ:
            config[key] = _env_value(prop, environ[variable], variable)
            continue
        branches = [b for b in prop.get("oneOf", [prop]) if "properties" in b]
        fields = {name: sub for b in branches for name, sub in b["properties"].items()}
        nested = {
            name: _env_value(
                sub, environ[f"{variable}_{name.upper()}"], f"{variable}_{name.upper()}"
            )
            for name, sub in fields.items()
            if f"{variable}_{name.upper()}" in environ
        }
        if nested:
            config[key] = nested
    return config


class TapRest(Tap):
    """Singer tap for REST APIs: jsonplaceholder and PokeAPI built in."""

    name = "tap-rest"
    package_name = "tap-rest"

    config_jsonschema = th.PropertiesList(
        th.Property(
            "jsonplaceholder_url",
            th.URIType,
            default="https://jsonplaceholder.typicode.com",
            title="jsonplaceholder URL",
            description="Base URL of the jsonplaceholder API (the sandbox: http://127.0.0.1:PORT).",
        ),
        th.Property(
            "pokeapi_url",
            th.URIType,
            default="https://pokeapi.co/api/v2",
            title="PokeAPI URL",
            description="Base URL of PokeAPI, up to /api/v2 "
            "(the sandbox: http://127.0.0.1:PORT/api/v2).",
        ),
        th.Property(
            "page_size",
            th.IntegerType(minimum=1),
            default=100,
            title="Page size",
            description="Records asked for per list request "
            "(_limit on jsonplaceholder, limit on PokeAPI).",
        ),
        th.Property(
            "max_pages",
            th.IntegerType(minimum=1),
            title="Max pages",
            description="Stop each list after this many pages (a warning says when more remain); "
            "unset: no cap.",
        ),
        th.Property(
            "request_timeout",
            th.NumberType(exclusive_minimum=0),
            default=60,
            title="Request timeout",
            description="Seconds to wait for the server to connect or send data "
            "before giving up on a request.",
        ),
        th.Property(
            "max_concurrency",
            th.IntegerType(minimum=1),
            default=DEFAULT_CONCURRENCY,
            title="Max concurrency",
            description="Requests in flight at once for partitions that do not depend on one "
            "another (children of a page of parents, entities by id); 1: one at a time.",
        ),
        th.Property(
            "max_tries",
            th.IntegerType(minimum=1),
            default=8,
            title="Max tries",
            description="Tries per request (the first and the retries) on 5xx, 408, 429, "
            "dropped connections, timeouts and bodies cut short; other 4xx are never retried.",
        ),
        th.Property(
            "backoff_factor",
            th.NumberType(minimum=0),
            default=1,
            title="Backoff factor",
            description="Seconds of the first retry's wait; each next wait doubles, with jitter.",
        ),
        th.Property(
            "max_wait",
            th.NumberType(minimum=0),
            default=60,
            title="Max wait",
            description="Longest wait between two tries, in seconds (Retry-After aside).",
        ),
        th.Property(
            "max_retry_after",
            th.NumberType(minimum=0),
            default=300,
            title="Max Retry-After",
            description="Longest wait a server's Retry-After or rate-limit reset may impose, "
            "in seconds.",
        ),
        th.Property(
            "requests_per_second",
            th.NumberType(exclusive_minimum=0),
            title="Requests per second",
            description="Client-side rate limit shared by every stream (unset: none; the "
            "server's RateLimit headers and Retry-After are honoured either way).",
        ),
        th.Property(
            "rate_limit_burst",
            th.IntegerType(minimum=1),
            default=1,
            title="Rate limit burst",
            description="Requests that may go at once before requests_per_second applies.",
        ),
        th.Property(
            "skip_statuses",
            th.ObjectType(
                additional_properties=th.ArrayType(th.IntegerType(minimum=400, maximum=599))
            ),
            title="Statuses to skip",
            description='HTTP statuses to skip per stream, e.g. {"post_comments": [404]}: the '
            "request is logged and counted, and the stream goes on.",
        ),
        th.Property(
            "user_agent",
            th.StringType,
            default=f"tap-rest/{__version__}",
            title="User agent",
            description="User-Agent header sent with every request.",
        ),
        th.Property(
            "post_ids",
            th.ArrayType(th.IntegerType),
            title="Post ids",
            description="Fetch only these posts, one by one from /posts/{id}, instead of the list; "
            "their comments follow.",
        ),
        th.Property(
            "ability_ids",
            th.ArrayType(th.CustomType({"type": ["string", "integer"]})),
            title="Ability ids or names",
            description="Fetch only these abilities, by id or name, from /ability/{id}/ instead of "
            "the list; their details follow.",
        ),
        th.Property(
            "query_params",
            th.ObjectType(
                additional_properties=th.ObjectType(
                    additional_properties=th.CustomType(
                        {
                            "anyOf": [
                                _SCALAR.to_dict(),
                                {"type": "array", "items": _SCALAR.to_dict()},
                            ]
                        }
                    )
                )
            ),
            title="Query parameters",
            description="Extra query parameters for a stream's list requests, by stream name, e.g. "
            '{"posts": {"userId": 1}}; a list value repeats the parameter.',
        ),
        th.Property(
            "apis",
            th.ObjectType(
                additional_properties=th.ObjectType(
                    th.Property("base_url", th.URIType, required=True, description="Base URL."),
                    th.Property("auth", AUTH, description="Authentication, as the auth setting."),
                    th.Property(
                        "headers",
                        th.ObjectType(additional_properties=th.StringType),
                        description="Headers sent with every request.",
                    ),
                    th.Property(
                        "requests_per_second",
                        th.NumberType(exclusive_minimum=0),
                        description="Rate limit shared by this API's streams.",
                    ),
                    additional_properties=False,
                )
            ),
            title="APIs",
            description="Named APIs for the streams setting: base_url, auth, headers and "
            "requests_per_second shared by their streams.",
        ),
        th.Property(
            "streams",
            th.ArrayType(th.ObjectType(additional_properties=True)),
            title="Streams",
            description="Streams described in config alone: name, api or base_url, path (with "
            "{placeholders}), records_path, primary_keys, paginator, params, headers, parent, "
            "replication_key and bookmark_param, skip_statuses, schema (inferred when absent). "
            "See the README.",
        ),
        th.Property(
            "auth",
            AUTH,
            title="Authentication",
            description="How requests authenticate: an object whose type is none, api_key "
            "(name, value, location header or query), bearer (token), basic (username, password) "
            "or oauth2_client_credentials (token_url, client_id, client_secret, scopes, audience).",
        ),
    ).to_dict()

    message_writer_class = GuardedWriter
    _resume_input: RunProgress | None = None
    _input_bookmarks: dict[str, t.Any] = {}
    _api_auth: dict[str, APIAuthenticatorBase]
    _api_limiters: dict[str, RateLimiter]

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        self._api_auth = {}
        self._api_limiters = {}
        super().__init__(*args, **kwargs)
        self._hide_secrets()
        self.stats = RunStats()
        #: what the interrupted run that the input STATE comes from had done (read once)
        self.resume_from = self._resume_input or RunProgress()
        #: what this run has done, carried over from the interrupted one
        self.progress = RunProgress(completed=list(self.resume_from.completed))
        if self.resume_from.completed or self.resume_from.current:
            current = self.resume_from.current
            self.logger.info(
                "Resuming an interrupted run: %s delivered%s",
                ", ".join(self.resume_from.completed) or "no stream",
                f", {current['stream']} in progress" if current else "",
            )
        self.run_state[RUN_KEY] = self.progress.to_state()

    @classproperty
    def _env_var_config(cls) -> dict[str, t.Any]:  # noqa: N805
        """Read settings from the environment (and a .env file), typed by the config schema."""
        load_dotenv(find_dotenv(usecwd=True), override=False)
        schema = cls.config_jsonschema
        cls.append_builtin_config(schema)
        return config_from_env(schema, cls._env_var_prefix, os.environ)

    def load_state(self, state: dict[str, t.Any]) -> None:
        """Load the bookmarks, and the progress of the interrupted run the STATE comes from."""
        super().load_state(state)
        self._resume_input = RunProgress.from_state(state)
        self._input_bookmarks = copy.deepcopy(state.get("bookmarks", {}))

    def bookmark(self, stream: str, context: t.Mapping[str, t.Any] | None) -> t.Any:
        """Return the replication key value the input STATE holds for a stream or partition.

        Read-only and the same for the whole run, so worker threads may ask it before the
        partition's own sync has started.
        """
        entry = self._input_bookmarks.get(stream) or {}
        if context:
            partitions = entry.get("partitions") or []
            entry = next((p for p in partitions if p.get("context") == dict(context)), {})
        return entry.get("replication_key_value")

    @property
    def run_state(self) -> dict[str, t.Any]:
        """Return the STATE dict, which also carries the run's progress under RUN_KEY."""
        return t.cast("dict[str, t.Any]", self.state)

    @property
    def _auths(self) -> list[dict[str, t.Any]]:
        """Return every auth setting of the run: the tap's, then each named API's."""
        auths = [self.config.get("auth"), *(self._api(name).get("auth") for name in self._apis)]
        return [a for a in auths if isinstance(a, dict)]

    @property
    def sensitive_params(self) -> list[str]:
        """Return the query parameters that carry an API key, when a key goes in the query."""
        return [
            str(a["name"]) for a in self._auths if a.get("location") == "query" and a.get("name")
        ]

    @cached_property
    def redactor(self) -> Redactor:
        """Return what removes this run's secrets, the named APIs' too, from a text."""
        secrets = [value for auth in self._auths for value in secret_values(auth)]
        return Redactor(secrets, self.sensitive_params)

    def _hide_secrets(self) -> None:
        """Keep the configured secrets, and sensitive URL parameters, out of every log line."""
        install_redaction(self.redactor)

    @cached_property
    def prefetcher(self) -> Prefetcher:
        """Return the worker threads that fetch independent partitions ahead."""
        return Prefetcher(int(self.config.get("max_concurrency", DEFAULT_CONCURRENCY)))

    @cached_property
    def session(self) -> requests.Session:
        """Return the HTTP session every stream shares, its pool sized for the workers."""
        session = requests.Session()
        size = int(self.config.get("max_concurrency", DEFAULT_CONCURRENCY)) + 2
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=size)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    @cached_property
    def limiter(self) -> RateLimiter:
        """Return the rate limiter every stream and thread shares."""
        return RateLimiter(
            self.config.get("requests_per_second"), int(self.config.get("rate_limit_burst", 1))
        )

    # --- run progress, carried in STATE ----------------------------------------------------

    def _write_run_state(self) -> None:
        self.run_state[RUN_KEY] = self.progress.to_state()
        self.state_writer.write_state(self.state)

    def checkpoint(self, stream: str, next_page: PageRequest | None) -> None:
        """Record that every page of a top-level stream up to ``next_page`` was written."""
        page = None
        if next_page is not None:
            url = next_page.url and without_secrets(next_page.url, self.sensitive_params)
            page = token_to_state(PageRequest(url=url, params=next_page.params))
        self.progress.current = {"stream": stream, "next": page} if page else None
        self._write_run_state()

    def stream_completed(self, stream: str) -> None:
        """Record that a top-level stream (and its children) was delivered whole."""
        if stream not in self.progress.completed:
            self.progress.completed.append(stream)
        self.progress.current = None
        self._write_run_state()

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        """Stop at the next safe point; `invoke` then writes the STATE and exits non-zero."""
        GuardedWriter.guard.handle(signum)

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
        cls.print_version(print_fn=cls.logger.info)
        config = config or _ConfigInput()
        try:
            tap = cls(
                config=config.config,
                state=None if state is None else load_json(state.read()),
                catalog=None if catalog is None else load_json(catalog.read()),
                parse_env_config=config.parse_env,
                validate_config=True,
            )
        except Interrupted as stop:
            sys.exit(128 + stop.signum)
        tap.run()

    def run(self) -> None:
        """Sync every selected stream, then drop the run's progress from the final STATE."""
        try:
            self._sync_and_finish()
        finally:
            self.prefetcher.shutdown()
            t.cast("GuardedWriter", self.message_writer).flush()

    def _sync_and_finish(self) -> None:
        self.stats = RunStats()  # what discovery sampled is no part of the run
        try:
            self.sync_all()
        except Interrupted as stop:
            # Written even when unchanged, so that the run's last message is its STATE.
            self.run_state[RUN_KEY] = self.progress.to_state()
            self.message_writer.write_message(StateMessage(value=self.state))
            self.logger.error(
                "Interrupted by %s: the last STATE covers every record written; "
                "run again with it to resume",
                signal.Signals(stop.signum).name,
            )
            self.log_summary()
            sys.exit(128 + stop.signum)
        except FatalAPIError as exc:
            # A known failure: its message says it all, a traceback would only bury it.
            self.logger.error("%s", exc)
            self.log_summary()
            sys.exit(1)
        except BaseException:
            self.log_summary()
            raise
        del self.run_state[RUN_KEY]
        self.state_writer.write_state(self.state)
        self.log_summary()

    def log_summary(self) -> None:
        """Log one line per stream: records, requests, retries, skipped errors, seconds."""
        for line in self.stats.lines():
            self.logger.info("Summary: %s", line)

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Validate the config against the schema, then what a schema cannot say clearly."""
        self._hide_secrets()
        # The schema's own message for a bad `auth` quotes the whole object, secrets included.
        schema_errors = super()._validate_config(raise_errors=False)
        errors = [e for e in schema_errors if "config['auth']" not in e]
        problems = auth_problems(self.config.get("auth"))
        if len(errors) < len(schema_errors) and not problems:
            problems = ["auth: does not match the schema of its type"]
        errors += problems
        builtin = {cls.name for cls in STREAM_TYPES}
        declared = self.config.get("streams") or []
        errors += definition_problems(declared, self._apis, builtin)
        for name, api in self._apis.items():
            errors += [
                p.replace("auth", f"apis.{name}.auth", 1) for p in auth_problems(api.get("auth"))
            ]
        known = builtin | {d.get("name") for d in declared}
        for setting in ("query_params", "skip_statuses"):
            unknown = sorted(set(self.config.get(setting) or {}) - known)
            if unknown:
                errors.append(
                    f"{setting}: unknown stream(s) {', '.join(map(repr, unknown))}; "
                    f"known streams: {', '.join(sorted(known))}"
                )
        if errors and raise_errors:
            raise ConfigValidationError(
                "Config validation failed", errors=errors, schema=self.config_jsonschema
            )
        return errors

    @cached_property
    def authenticator(self) -> APIAuthenticatorBase:
        """Return the one authenticator every stream shares (one OAuth token for the run)."""
        return build_authenticator(
            self.config.get("auth"), timeout=float(self.config.get("request_timeout", 60))
        )

    def discover_streams(self) -> list[Stream]:
        """Return the built-in streams, then those the streams setting describes."""
        streams: list[Stream] = [cls(tap=self) for cls in STREAM_TYPES]
        classes: dict[str, type[DeclaredStream]] = {}
        samples: dict[str, list[dict]] = {}
        apis = self._apis
        pending = list(self.config.get("streams") or [])
        while pending:
            ready = [
                d
                for d in pending
                if (d.get("parent") or {}).get("stream", None) in (None, *classes)
            ]
            if not ready:
                break  # a cycle or a missing parent: validation has named it
            for given in ready:
                pending.remove(given)
                parent = classes.get((given.get("parent") or {}).get("stream", ""))
                definition = given
                known = self.input_catalog.get_stream(given["name"]) if self.input_catalog else None
                if "schema" not in given and known is not None:
                    # The catalog carries the schema discovery inferred: no request needed.
                    definition = {**given, "schema": known.schema.to_dict()}
                elif "schema" not in given:
                    probe = stream_class(given, apis, parent)
                    definition = {**given, "schema": self._infer_schema(probe, samples)}
                cls = stream_class(definition, apis, parent)
                classes[definition["name"]] = cls
                streams.append(cls(tap=self))
        return streams

    def _infer_schema(self, cls: type[DeclaredStream], samples: dict[str, list[dict]]) -> dict:
        """Infer a declared stream's schema from a few pages of its records."""
        name, keys = cls.definition["name"], cls.definition["primary_keys"]
        probe = cls(tap=self, schema={"type": "object", "properties": {}})
        context = None
        if cls.parent_stream_type is not None:
            parent = t.cast("type[DeclaredStream]", cls.parent_stream_type)
            parents = samples.get(parent.definition["name"])
            if parents is None:
                sampler = parent(tap=self)
                first = sampler._pages(None, sampler.get_new_paginator())
                parents = samples[parent.definition["name"]] = next(iter(first), [])
            if not parents:
                return infer_schema([], keys)
            context = probe.preprocess_context(parents[0])
        records: list[dict] = []
        for n, page in enumerate(probe._pages(context, probe.get_new_paginator())):
            records += [probe.post_process(dict(r), context) or r for r in page]
            if n >= SAMPLE_PAGES - 1 or len(records) >= SAMPLE_RECORDS:
                break
        samples[name] = records
        self.logger.info("Inferred the schema of '%s' from %d records", name, len(records))
        return infer_schema(records, keys)

    @property
    def _apis(self) -> dict[str, t.Any]:
        apis = self.config.get("apis")
        return apis if isinstance(apis, dict) else {}

    def _api(self, name: str | None) -> dict[str, t.Any]:
        """Return a named API's entry of the ``apis`` setting (empty for none)."""
        entry = self._apis.get(name) if name else None
        return entry if isinstance(entry, dict) else {}

    def authenticator_for(self, api: str | None) -> APIAuthenticatorBase:
        """Return the authenticator of a named API (its own auth), else the tap's."""
        auth = self._api(api).get("auth")
        if auth is None or api is None:
            return self.authenticator
        if api not in self._api_auth:
            timeout = float(self.config.get("request_timeout", 60))
            self._api_auth[api] = build_authenticator(auth, timeout=timeout)
        return self._api_auth[api]

    def limiter_for(self, api: str | None) -> RateLimiter:
        """Return the rate limiter of a named API (its own requests_per_second), else the tap's."""
        rate = self._api(api).get("requests_per_second")
        if rate is None or api is None:
            return self.limiter
        if api not in self._api_limiters:
            self._api_limiters[api] = RateLimiter(rate, 1)
        return self._api_limiters[api]


if __name__ == "__main__":
    TapRest.cli()
