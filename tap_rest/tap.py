"""tap-rest: the tap class, its settings and stream discovery."""

from __future__ import annotations

import typing as t
from functools import cached_property
from importlib.metadata import PackageNotFoundError, version

from singer_sdk import Stream, Tap
from singer_sdk import typing as th
from singer_sdk.authenticators import APIAuthenticatorBase
from singer_sdk.exceptions import ConfigValidationError

from tap_rest.auth import (
    Redactor,
    auth_problems,
    build_authenticator,
    install_redaction,
    secret_values,
)
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
            "auth",
            AUTH,
            title="Authentication",
            description="How requests authenticate: an object whose type is none, api_key "
            "(name, value, location header or query), bearer (token), basic (username, password) "
            "or oauth2_client_credentials (token_url, client_id, client_secret, scopes, audience).",
        ),
    ).to_dict()

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._hide_secrets()

    def _hide_secrets(self) -> None:
        """Keep the configured secrets, and sensitive URL parameters, out of every log line."""
        auth = self.config.get("auth")
        auth = auth if isinstance(auth, dict) else None
        sensitive = [str(auth.get("name"))] if auth and auth.get("location") == "query" else []
        install_redaction(Redactor(secret_values(auth), sensitive))

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
        known = {cls.name for cls in STREAM_TYPES}
        unknown = sorted(set(self.config.get("query_params") or {}) - known)
        if unknown:
            errors.append(
                f"query_params: unknown stream(s) {', '.join(map(repr, unknown))}; "
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
        """Return one instance of every built-in stream."""
        return [stream_class(tap=self) for stream_class in STREAM_TYPES]


if __name__ == "__main__":
    TapRest.cli()
