"""tap-rest: the tap class, its settings and stream discovery."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from singer_sdk import Stream, Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError

from tap_rest.streams import STREAM_TYPES

try:
    __version__ = version("tap-rest")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

_SCALAR = th.CustomType({"type": ["string", "integer", "number", "boolean"]})


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
            "request_timeout",
            th.NumberType(exclusive_minimum=0),
            default=60,
            title="Request timeout",
            description="Seconds to wait for the server to connect or send data "
            "before giving up on a request.",
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
    ).to_dict()

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Validate the config against the schema, then check stream names in query_params."""
        errors = super()._validate_config(raise_errors=raise_errors)
        known = {cls.name for cls in STREAM_TYPES}
        unknown = sorted(set(self.config.get("query_params") or {}) - known)
        if unknown:
            errors.append(
                f"query_params: unknown stream(s) {', '.join(map(repr, unknown))}; "
                f"known streams: {', '.join(sorted(known))}"
            )
            if raise_errors:
                raise ConfigValidationError(
                    "Config validation failed", errors=errors, schema=self.config_jsonschema
                )
        return errors

    def discover_streams(self) -> list[Stream]:
        """Return one instance of every built-in stream."""
        return [stream_class(tap=self) for stream_class in STREAM_TYPES]


if __name__ == "__main__":
    TapRest.cli()
