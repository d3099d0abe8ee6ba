"""The config: its JSON Schema (the ``streams`` definitions included) and reading the environment.

Every setting, a stream definition's fields and each paginator's and auth type's options are
described here once; ``tap_rest.validate`` checks a config against this schema and the few
cross-references a schema cannot express.
"""

from __future__ import annotations

import typing as t
from decimal import Decimal
from importlib.metadata import PackageNotFoundError, version

from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers._util import load_json

try:
    __version__ = version("tap-rest")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

DEFAULT_CONCURRENCY = 10
#: the built-in streams, parents before children (tap_rest.streams defines them)
BUILTIN_STREAMS = [
    "posts",
    "post_comments",
    "albums",
    "album_photos",
    "todos",
    "users",
    "abilities",
    "ability_details",
]

_SCALAR = th.CustomType({"type": ["string", "integer", "number", "boolean"]})
_PARAMS = th.ObjectType(
    additional_properties=th.CustomType(
        {"anyOf": [_SCALAR.to_dict(), {"type": "array", "items": _SCALAR.to_dict()}]}
    )
)
_STATUSES = th.ArrayType(th.IntegerType(minimum=400, maximum=599))
#: a window bound: an ISO 8601 date or time, or a number (epoch seconds), as the API takes it
_BOUND = th.CustomType({"type": ["string", "integer", "number"]})


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
    oauth2_refresh_token=th.ObjectType(
        th.Property("token_url", th.URIType, required=True, description="The token endpoint."),
        th.Property("client_id", th.StringType, required=True, description="OAuth client id."),
        th.Property(
            "client_secret",
            th.StringType,
            secret=True,
            description="Client secret (none for a public client).",
        ),
        th.Property(
            "refresh_token",
            th.StringType,
            required=True,
            secret=True,
            description="The refresh token the authorisation gave (token_store keeps its "
            "successors).",
        ),
        th.Property(
            "token_store",
            th.StringType,
            description="File that keeps a rotated refresh token for the next run (created "
            "owner-only, written atomically, read before refresh_token).",
        ),
        th.Property("scopes", th.ArrayType(th.StringType), description="Scopes to ask for."),
        th.Property(
            "client_auth",
            th.StringType,
            allowed_values=["body", "basic"],
            description="Send client_id and client_secret in the form body (the default) or "
            "as HTTP basic auth.",
        ),
        th.Property(
            "refresh_margin",
            th.NumberType(minimum=0),
            description="Refresh the access token this many seconds before it expires "
            "(default 60, at most half its lifetime).",
        ),
        additional_properties=False,
    ),
)

_PAGE_SIZE = th.Property("page_size", th.IntegerType(minimum=1), description="Records per page.")
_FIRST_PARAMS = th.Property(
    "first_params", _PARAMS, description="Query parameters of the first request only."
)

PAGINATOR = th.DiscriminatedUnion(
    "type",
    single=th.ObjectType(additional_properties=False),
    offset=th.ObjectType(
        _PAGE_SIZE,
        th.Property(
            "offset_param", th.StringType, description="Query parameter of the offset (offset)."
        ),
        th.Property(
            "limit_param", th.StringType, description="Query parameter of the page size (limit)."
        ),
        th.Property("total_path", th.StringType, description="JSONPath to the total record count."),
        th.Property(
            "limit_path",
            th.StringType,
            description="JSONPath to the page size the server says it used: a page shorter "
            "than it is the last.",
        ),
        th.Property(
            "stop_on_short_page",
            th.BooleanType,
            description="Take a page shorter than page_size for the last (default false: "
            "servers often cap the page size; without a total, paging ends at an empty page).",
        ),
        additional_properties=False,
    ),
    page=th.ObjectType(
        _PAGE_SIZE,
        th.Property(
            "page_param", th.StringType, description="Query parameter of the page number (page)."
        ),
        th.Property(
            "size_param", th.StringType, description="Query parameter of the page size (per_page)."
        ),
        th.Property("total_pages_path", th.StringType, description="JSONPath to the page count."),
        th.Property("start", th.IntegerType, description="First page number (default 1)."),
        additional_properties=False,
    ),
    next_link=th.ObjectType(
        th.Property("next_path", th.StringType, description="JSONPath to the next URL ($.next)."),
        _FIRST_PARAMS,
        additional_properties=False,
    ),
    link_header=th.ObjectType(
        th.Property("rel", th.StringType, description="The Link relation to follow (next)."),
        _FIRST_PARAMS,
        additional_properties=False,
    ),
    cursor=th.ObjectType(
        th.Property(
            "cursor_path",
            th.StringType,
            description="JSONPath to the next cursor in the body (cursor_source body).",
        ),
        th.Property(
            "cursor_param",
            th.StringType,
            description="Query parameter the cursor goes back in (with cursor_location "
            "header_out: the request header).",
        ),
        th.Property("has_more_path", th.StringType, description="JSONPath to a has-more flag."),
        th.Property("limit_param", th.StringType, description="Query parameter of the page size."),
        _PAGE_SIZE,
        th.Property(
            "cursor_source",
            th.StringType,
            allowed_values=["body", "header"],
            description="Where the next cursor is: the body at cursor_path (default) or the "
            "response header cursor_header.",
        ),
        th.Property(
            "cursor_header",
            th.StringType,
            description="Response header of the next cursor (cursor_source header).",
        ),
        th.Property(
            "cursor_location",
            th.StringType,
            allowed_values=["query", "body", "header_out"],
            description="Where the cursor goes back: the query parameter cursor_param "
            "(default), the JSON body at cursor_body_path, or the request header cursor_param.",
        ),
        th.Property(
            "cursor_body_path",
            th.StringType,
            description="Dotted path in the JSON body the cursor is set at (cursor_location "
            "body), e.g. search_after or page.after.",
        ),
        additional_properties=False,
    ),
)

STREAM_DEFINITION = th.ObjectType(
    th.Property("name", th.StringType, required=True, description="The stream's name."),
    th.Property("api", th.StringType, description="A named API of the apis setting."),
    th.Property("base_url", th.URIType, description="The base URL, when no api is named."),
    th.Property(
        "path",
        th.StringType,
        required=True,
        description="Appended to the base URL; {placeholders} are filled from the parent.",
    ),
    th.Property("records_path", th.StringType, description="JSONPath to the records ($[*])."),
    th.Property(
        "primary_keys",
        th.CustomType({"type": "array", "items": {"type": "string"}, "minItems": 1}),
        required=True,
        description="The fields that identify a record.",
    ),
    th.Property("paginator", PAGINATOR, description="How the list is paged (default single)."),
    th.Property(
        "method",
        th.StringType,
        allowed_values=["GET", "POST"],
        description="HTTP method (GET; POST for a search read with a JSON body).",
    ),
    th.Property(
        "json",
        th.ObjectType(additional_properties=True),
        description="JSON request body (method POST); {placeholders} are filled from the "
        "parent in its string values.",
    ),
    th.Property(
        "params",
        _PARAMS,
        description="Extra query parameters; {placeholders} are filled from the parent.",
    ),
    th.Property(
        "headers", th.ObjectType(additional_properties=th.StringType), description="Extra headers."
    ),
    th.Property(
        "parent",
        th.ObjectType(
            th.Property("stream", th.StringType, required=True, description="The parent stream."),
            th.Property(
                "fields",
                th.ObjectType(additional_properties=th.StringType),
                required=True,
                description="Placeholder -> the parent record's field that fills it: a name, a "
                "dotted path (owner.login) or a JSONPath ($.owner.login).",
            ),
            additional_properties=False,
        ),
        description="One partition per parent record.",
    ),
    th.Property("replication_key", th.StringType, description="The bookmark field."),
    th.Property(
        "bookmark_param", th.StringType, description="Query parameter the bookmark is sent as."
    ),
    th.Property(
        "bookmark_body_path",
        th.StringType,
        description="Dotted path in the JSON body the bookmark is sent at (method POST).",
    ),
    th.Property(
        "window_end_param",
        th.StringType,
        description="Query parameter a window's end is sent as (e.g. created[lt], until): the "
        "stream can be read a window at a time (the window setting).",
    ),
    th.Property("is_sorted", th.BooleanType, description="Records come sorted by the bookmark."),
    th.Property(
        "schema_evolution",
        th.StringType,
        allowed_values=["evolve", "freeze"],
        description="evolve: widen the schema to fit every record (the default when the schema "
        "is inferred); freeze: keep an inline schema's shape and count what it drops.",
    ),
    th.Property(
        "total_path",
        th.StringType,
        description="JSONPath to the list's total record count, to check that every record "
        "was received (default: the offset paginator's total_path).",
    ),
    th.Property(
        "total_header",
        th.StringType,
        description="Response header with the list's total record count (X-Total-Count).",
    ),
    th.Property(
        "on_incomplete",
        th.StringType,
        allowed_values=["warn", "fail"],
        description="A list short of its reported total: warn (default) or fail the run.",
    ),
    th.Property(
        "skip_statuses",
        _STATUSES,
        description="Statuses to skip for this stream (a skipped page ends its list).",
    ),
    th.Property(
        "schema",
        th.ObjectType(additional_properties=True),
        description="A JSON Schema (inferred when absent).",
    ),
    additional_properties=False,
)

API = th.ObjectType(
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
    th.Property(
        "rate_limit_statuses",
        _STATUSES,
        description="Statuses that mean only 'too many requests' for this API (default [429]).",
    ),
    th.Property(
        "allowed_hosts",
        th.ArrayType(th.StringType),
        description="Other hosts (host or host:port) this API's next links may lead to; "
        "requests there carry none of its credentials.",
    ),
    th.Property(
        "rate_limit_pattern",
        th.StringType,
        description="A 4xx body matching this regular expression is a rate limit.",
    ),
    additional_properties=False,
)

CONFIG_SCHEMA: dict[str, t.Any] = th.PropertiesList(
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
        description="Base URL of PokeAPI, up to /api/v2 (the sandbox: http://127.0.0.1:PORT/api/v2).",
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
        title="Max tries",
        description="Tries per request at most (the first and the retries); unset: no count, "
        "max_retry_time bounds the retries. Other 4xx than 408 and rate limits are never retried.",
    ),
    th.Property(
        "max_retry_time",
        th.NumberType(minimum=0),
        default=600,
        title="Max retry time",
        description="Seconds a request keeps being retried while the API answers (5xx, 408, rate "
        "limits, dropped connections, bodies cut short); an API that never answered in the run "
        "gets 3 quick tries, as its URL is likely wrong.",
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
        "rate_limit_statuses",
        _STATUSES,
        title="Rate limit statuses",
        description="Statuses that mean only 'too many requests': wait, then retry (default "
        "[429]). Any error whose RateLimit-Remaining is 0, or with a Retry-After, or whose body "
        "matches rate_limit_pattern is one too.",
    ),
    th.Property(
        "rate_limit_pattern",
        th.StringType,
        title="Rate limit pattern",
        description="A regular expression (case-insensitive): a 4xx body matching it is a rate "
        "limit (default: 'rate limit exceeded', 'too many requests' and the like).",
    ),
    th.Property(
        "allowed_hosts",
        th.ArrayType(th.StringType),
        title="Allowed hosts",
        description="Other hosts (host or host:port) than its API's that a stream's next links "
        "may lead to, for the built-in streams and those with a base_url; requests there carry "
        "no credential. A link to any other host stops the run.",
    ),
    th.Property(
        "skip_statuses",
        th.ObjectType(additional_properties=_STATUSES),
        title="Statuses to skip",
        description='HTTP statuses to skip per stream, e.g. {"post_comments": [404]}: the '
        "request is logged and counted, and what it belongs to ends (a child's list, one "
        "entity, the rest of a list); the stream goes on.",
    ),
    th.Property(
        "schema_evolution",
        th.ObjectType(
            additional_properties=th.CustomType({"type": "string", "enum": ["evolve", "freeze"]})
        ),
        title="Schema evolution",
        description='Per stream ("*": every stream), evolve (widen the schema to fit every '
        "record and send it again) or freeze (keep the schema's shape; what it drops is counted "
        "and warned of). Default: evolve for inferred schemas, freeze for inline ones, e.g. "
        '{"users": "evolve"}.',
    ),
    th.Property(
        "progress_interval",
        th.NumberType(minimum=0),
        default=10,
        title="Progress interval",
        description="Seconds between two progress lines during a run (0: none).",
    ),
    th.Property(
        "log_metrics",
        th.BooleanType,
        default=False,
        title="Log metrics",
        description="Log the SDK's METRIC line for every request and the start of every "
        "partition (shown at debug level anyway).",
    ),
    th.Property(
        "user_agent",
        th.StringType,
        default=f"tap-rest/{__version__}",
        title="User agent",
        description="User-Agent header sent with every request.",
    ),
    th.Property(
        "builtin_streams",
        th.ArrayType(th.StringType(allowed_values=BUILTIN_STREAMS)),
        title="Built-in streams",
        description="The built-in streams to offer (a child brings its parent, read but not "
        "written unless listed). Default: all of them when the streams setting is empty, none "
        "when it declares streams.",
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
        th.ObjectType(additional_properties=_PARAMS),
        title="Query parameters",
        description="Extra query parameters for a stream's list requests, by stream name, e.g. "
        '{"posts": {"userId": 1}}; a list value repeats the parameter.',
    ),
    th.Property(
        "apis",
        th.ObjectType(additional_properties=API),
        secret=True,
        title="APIs",
        description="Named APIs for the streams setting: base_url, auth, headers and "
        "requests_per_second shared by their streams.",
    ),
    th.Property(
        "streams",
        th.ArrayType(STREAM_DEFINITION),
        title="Streams",
        description="Streams described in config alone: name, api or base_url, path (with "
        "{placeholders}), records_path, primary_keys, paginator, method, json, params, headers, "
        "parent, replication_key and bookmark_param or bookmark_body_path, total_path or "
        "total_header and on_incomplete, skip_statuses, schema (inferred when absent). "
        "See the README.",
    ),
    th.Property(
        "shard",
        th.ObjectType(
            th.Property(
                "index", th.IntegerType(minimum=0), required=True, description="This shard, from 0."
            ),
            th.Property(
                "count", th.IntegerType(minimum=1), required=True, description="How many shards."
            ),
            additional_properties=False,
        ),
        title="Shard",
        description='Run one shard of the work, {"index": i, "count": n}: the n shards emit '
        "together exactly the records of one run, each record in one shard; give each its own "
        "STATE. See the README, Past one machine.",
    ),
    th.Property(
        "window",
        th.ObjectType(
            th.Property("start", _BOUND, description="Inclusive: sent as bookmark_param."),
            th.Property("end", _BOUND, description="Exclusive: sent as window_end_param."),
            additional_properties=False,
        ),
        title="Window",
        description="Read one time window [start, end) of the streams with window_end_param, "
        'as {"start": "2025-01-01", "end": "2025-02-01"}; bookmarks are left as they were.',
    ),
    th.Property(
        "auth",
        AUTH,
        title="Authentication",
        description="How requests authenticate: an object whose type is none, api_key "
        "(name, value, location header or query), bearer (token), basic (username, password), "
        "oauth2_client_credentials (token_url, client_id, client_secret, scopes, audience) "
        "or oauth2_refresh_token (token_url, client_id, client_secret, refresh_token, "
        "token_store).",
    ),
    th.Property(
        "batch_config",
        th.ObjectType(
            th.Property(
                "encoding",
                th.ObjectType(
                    th.Property("format", th.StringType(allowed_values=["jsonl"])),
                    th.Property("compression", th.StringType(allowed_values=["gzip", "none"])),
                ),
                description='{"format": "jsonl", "compression": "none"} (or gzip, at level 1).',
            ),
            th.Property(
                "storage",
                th.ObjectType(
                    th.Property("root", th.StringType, required=True),
                    th.Property("prefix", th.StringType),
                ),
                required=True,
                description='Where the files go: {"root": "file:///path", "prefix": "..."}; '
                "the target must read the same place.",
            ),
            th.Property(
                "batch_size",
                th.IntegerType(minimum=1),
                description="Records per BATCH message (default 10000).",
            ),
        ),
        title="Batch config",
        description="Write records to JSON-lines files announced by BATCH messages instead of "
        "RECORD lines (each STATE after the files holding its records); "
        "see the README, Into PostgreSQL fast.",
    ),
).to_dict()


_TRUTHY = ("1", "true", "t", "yes", "y", "on")


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


def normalised(config: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """Return a config as the code reads it: a null setting unset, numbers as Python's.

    The SDK reads a file's decimals as Decimal (``{"requests_per_second": 0.5}``, as Meltano
    passes config), which would meet floats in arithmetic and fail; and ``null`` means unset.
    """
    return {k: _plain_numbers(v) for k, v in config.items() if v is not None}


def _plain_numbers(value: t.Any) -> t.Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: _plain_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_numbers(v) for v in value]
    return value
