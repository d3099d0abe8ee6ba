"""One validation for every entry point: each problem of a config named in one line."""

from __future__ import annotations

import difflib
import re
import typing as t
from urllib.parse import urlsplit

from jsonpath_ng.ext import parse as parse_jsonpath
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from tap_rest.placeholders import names_in
from tap_rest.window import instant

#: a stream definition's fields that hold a JSONPath, the paginator's included
_JSONPATH_FIELDS = ("records_path", "total_path")
_PAGINATOR_JSONPATHS = (
    "total_path",
    "total_pages_path",
    "limit_path",
    "next_path",
    "cursor_path",
    "has_more_path",
)


_BODY_PATH = re.compile(r"(\$\.)?[^.\[\]*$]+(\.[^.\[\]*$]+)*")


URLS = FormatChecker(formats=())


@URLS.checks("uri")
def _is_url(value: object) -> bool:
    """Tell whether a URL setting has an http(s) scheme and a host (``127.0.0.1:8080`` has not)."""
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _where(error: ValidationError, config: t.Mapping[str, t.Any]) -> str:
    """Return a setting's path as users write it: ``streams[orders].paginator.type``."""
    where, node = "", t.cast("t.Any", config)
    for part in error.absolute_path:
        if isinstance(part, int):
            name = node[part].get("name") if isinstance(node[part], dict) else None
            where += f"[{name or f'#{part + 1}'}]"
        else:
            where += f".{part}" if where else str(part)
        node = node[part]
    return where


def _join(where: str, field: str) -> str:
    return f"{where}.{field}" if where else field


def _discriminated(schema: t.Mapping[str, t.Any]) -> dict[str, dict[str, t.Any]] | None:
    """Return a ``oneOf`` of objects told apart by a ``type`` const, by type; else None."""
    # Optional settings add a ``{"type": "null"}`` branch, which has no discriminator.
    branches = [b for b in schema.get("oneOf") or [] if "properties" in b]
    kinds = {b["properties"].get("type", {}).get("const"): b for b in branches}
    return None if not branches or None in kinds else kinds


def _suggest(name: str, known: t.Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _describe(error: ValidationError, where: str, owner: str) -> list[str]:
    """Say what one schema error means, in one line per problem, never quoting a secret."""
    value, kind = error.instance, error.validator
    shown = repr(value) if isinstance(value, (str, int, float, bool)) else "the value"
    if error.schema.get("secret") or error.schema.get("writeOnly"):
        shown = "the value"
    if kind == "required":
        missing = error.message.split("'")[1]
        return [f"{_join(where, missing)}: required{owner}"]
    if kind == "additionalProperties":
        known = sorted(error.schema.get("properties", {}))
        extra = sorted(set(value) - set(known))
        fields = f" (its fields: {', '.join(known)})" if known else ""
        return [
            f"{_join(where, name)}: not a field{owner or ' of ' + (where or 'the config')}"
            f"{fields}{_suggest(name, known)}"
            for name in extra
        ]
    if kind == "oneOf" and isinstance(value, dict) and (kinds := _discriminated(error.schema)):
        chosen = value.get("type")
        if chosen is None:
            return [f"{_join(where, 'type')}: required (one of {', '.join(kinds)})"]
        if chosen not in kinds:
            return [
                f"{_join(where, 'type')}: {chosen!r} is not one of {', '.join(kinds)}"
                f"{_suggest(str(chosen), kinds)}"
            ]
        context = f" when {_join(where, 'type')} is {chosen!r}"
        inner = f" of {_join(where, 'type')} {chosen!r}"
        problems: list[str] = []
        for sub in Draft202012Validator(kinds[chosen]).iter_errors(value):
            sub_where = where + "".join(f".{p}" for p in sub.absolute_path)
            owned = context if sub.validator == "required" else ""
            if sub.validator == "additionalProperties":
                owned = inner
            problems += _describe(sub, sub_where, owned)
        return problems
    if kind == "enum":
        options = ", ".join(map(str, error.validator_value))
        return [f"{where}: {shown} is not one of {options}"]
    if kind == "type":
        expected = error.validator_value
        expected = [expected] if isinstance(expected, str) else expected
        wanted = " or ".join(e for e in expected if e != "null")
        return [f"{where}: {shown} is not {'an' if wanted[0] in 'aeiou' else 'a'} {wanted}"]
    if kind == "format":
        return [
            f"{where}: {shown} is not a URL with a scheme and a host (http://... or https://...)"
        ]
    if kind == "minItems" and not value:
        return [f"{where}: required (at least {error.validator_value})"]
    message = error.message if shown != "the value" else error.message.replace(repr(value), "")
    return [f"{where}: {message.strip()}"]


def schema_problems(schema: t.Mapping[str, t.Any], config: t.Mapping[str, t.Any]) -> list[str]:
    """Return what the config schema finds wrong, one line per problem."""
    order = list(schema.get("properties", {}))

    def position(error: ValidationError) -> tuple[int, str]:
        path = list(error.absolute_path)
        first = order.index(path[0]) if path and path[0] in order else -1
        return first, ".".join(map(str, path))

    problems: list[str] = []
    validator = Draft202012Validator(schema, format_checker=URLS)
    for error in sorted(validator.iter_errors(config), key=position):
        problems += _describe(error, _where(error, config), "")
    return problems


def _has_cycle(name: str, by_name: t.Mapping[str, t.Any]) -> bool:
    seen = {name}
    current = by_name.get(name)
    while isinstance(current, dict) and current.get("parent"):
        parent = current["parent"].get("stream")
        if parent in seen:
            return True
        seen.add(parent)
        current = by_name.get(parent)
    return False


def _jsonpath_problem(where: str, path: t.Any) -> list[str]:
    if not isinstance(path, str):
        return []
    try:
        parse_jsonpath(path)
    except Exception as exc:  # jsonpath-ng raises several kinds
        return [f"{where}: {path!r} is not a JSONPath ({exc})"]
    return []


def definition_problems(
    streams: t.Sequence[t.Any], apis: t.Mapping[str, t.Any], builtin: t.Collection[str]
) -> list[str]:
    """Return what no schema can say about the ``streams`` setting: names, references, paths."""
    definitions = [d for d in streams if isinstance(d, dict)]
    names = [d.get("name") for d in definitions]
    by_name: dict[str, t.Any] = {str(d.get("name")): d for d in definitions}
    problems: list[str] = []
    for n, definition in enumerate(definitions):
        name = definition.get("name") or f"#{n + 1}"
        where = f"streams[{name}]"
        if name in builtin:
            problems.append(f"{where}.name: '{name}' is a built-in stream")
        if names.count(name) > 1:
            problems.append(f"{where}.name: defined more than once")
        api = definition.get("api")
        if api and api not in apis:
            problems.append(f"{where}.api: no API named '{api}' in apis")
        if not api and not definition.get("base_url"):
            problems.append(f"{where}: needs base_url or api")
        paginator = definition.get("paginator")
        paginator = paginator if isinstance(paginator, dict) else {}
        for option in _JSONPATH_FIELDS:
            problems += _jsonpath_problem(f"{where}.{option}", definition.get(option))
        for option in _PAGINATOR_JSONPATHS:
            problems += _jsonpath_problem(f"{where}.paginator.{option}", paginator.get(option))
        parent = definition.get("parent")
        fields = parent.get("fields") if isinstance(parent, dict) else None
        if isinstance(parent, dict) and "stream" in parent:
            if parent["stream"] not in by_name:
                problems.append(f"{where}.parent.stream: no stream '{parent['stream']}' in streams")
            elif _has_cycle(name, by_name):
                problems.append(f"{where}.parent: the parents form a cycle")
        for placeholder, field in fields.items() if isinstance(fields, dict) else ():
            if isinstance(field, str) and field.startswith("$"):
                problems += _jsonpath_problem(f"{where}.parent.fields.{placeholder}", field)
        problems += _placeholder_problems(where, definition, fields)
        problems += _request_problems(where, definition, paginator)
    return problems


def _placeholder_problems(
    where: str, definition: t.Mapping[str, t.Any], fields: t.Any
) -> list[str]:
    """Name each ``{placeholder}`` of the path, params and json that no parent field fills."""
    problems = []
    for option in ("path", "params", "json"):
        for placeholder in dict.fromkeys(names_in(definition.get(option))):
            if not isinstance(fields, dict) or placeholder not in fields:
                problems.append(
                    f"{where}.{option}: no parent field fills the placeholder {{{placeholder}}} "
                    "(map it in parent.fields)"
                )
    return problems


def _request_problems(
    where: str, definition: t.Mapping[str, t.Any], paginator: t.Mapping[str, t.Any]
) -> list[str]:
    """Name what a request's options need of one another: method, body, bookmark, cursor."""
    problems: list[str] = []
    post = definition.get("method") == "POST"
    needs_post = {
        "json": definition.get("json") is not None,
        "bookmark_body_path": definition.get("bookmark_body_path") is not None,
        "paginator.cursor_location": paginator.get("cursor_location") == "body",
    }
    for option, used in needs_post.items():
        if used and not post:
            problems.append(f"{where}.{option}: needs method POST (a GET sends no body)")
    for option, path in (
        ("bookmark_body_path", definition.get("bookmark_body_path")),
        ("paginator.cursor_body_path", paginator.get("cursor_body_path")),
    ):
        if isinstance(path, str) and not _BODY_PATH.fullmatch(path):
            problems.append(
                f"{where}.{option}: {path!r} is not a dotted path of names (page.after)"
            )
    if definition.get("replication_key") and not (
        definition.get("bookmark_param") or definition.get("bookmark_body_path")
    ):
        problems.append(
            f"{where}.bookmark_param: required with replication_key (or bookmark_body_path)"
        )
    if definition.get("window_end_param") and not (
        definition.get("replication_key") and definition.get("bookmark_param")
    ):
        problems.append(
            f"{where}.window_end_param: needs replication_key and bookmark_param "
            "(a window is read by the records' replication key)"
        )
    if definition.get("total_path") and definition.get("total_header"):
        problems.append(f"{where}.total_header: set total_path or total_header, not both")
    if paginator.get("type") == "cursor":
        problems += _cursor_problems(f"{where}.paginator", paginator)
    return problems


#: a cursor paginator's option -> the setting and its values that need it
_CURSOR_NEEDS = (
    ("cursor_path", "cursor_source", ("body",)),
    ("cursor_header", "cursor_source", ("header",)),
    ("cursor_param", "cursor_location", ("query", "header_out")),
    ("cursor_body_path", "cursor_location", ("body",)),
)
_CURSOR_DEFAULTS = {"cursor_source": "body", "cursor_location": "query"}


def _cursor_problems(where: str, paginator: t.Mapping[str, t.Any]) -> list[str]:
    """Name the cursor options that the chosen cursor source and location need."""
    problems = []
    for option, setting, values in _CURSOR_NEEDS:
        value = paginator.get(setting, _CURSOR_DEFAULTS[setting])
        if value in values and not paginator.get(option):
            default = "" if setting in paginator else " (the default)"
            problems.append(f"{where}.{option}: required with {setting} {value}{default}")
    return problems


def scope_problems(config: t.Mapping[str, t.Any]) -> list[str]:
    """Return what is wrong with the ``shard`` and ``window`` settings beyond their types."""
    problems: list[str] = []
    shard = config.get("shard")
    if isinstance(shard, dict):
        index, count = shard.get("index"), shard.get("count")
        if isinstance(index, int) and isinstance(count, int) and not 0 <= index < count:
            problems.append(f"shard.index: {index} is not below shard.count ({count})")
    window = config.get("window")
    if isinstance(window, dict):
        if window.get("start") is None and window.get("end") is None:
            problems.append("window: needs start, end or both")
        for bound in ("start", "end"):
            value = window.get(bound)
            if isinstance(value, str) and instant(value) is None:
                problems.append(
                    f"window.{bound}: {value!r} is not an ISO 8601 date or time "
                    "(or give a number of epoch seconds)"
                )
        start, end = instant(window.get("start")), instant(window.get("end"))
        if start is not None and end is not None and start >= end:
            problems.append(
                f"window: start {window['start']!r} is not before end {window['end']!r}"
            )
        streams: list[t.Any] = config["streams"] if isinstance(config.get("streams"), list) else []
        if not any(isinstance(d, dict) and d.get("window_end_param") for d in streams):
            problems.append(
                "window: no stream can be read by window (give a streams definition "
                "window_end_param)"
            )
    return problems


def config_problems(
    config: t.Mapping[str, t.Any], schema: t.Mapping[str, t.Any], builtin: t.Collection[str]
) -> list[str]:
    """Return every problem of a config, each naming its setting (empty when it is fine)."""
    problems = schema_problems(schema, config)
    apis: dict[str, t.Any] = config["apis"] if isinstance(config.get("apis"), dict) else {}
    streams: list[t.Any] = config["streams"] if isinstance(config.get("streams"), list) else []
    problems += definition_problems(streams, apis, builtin)
    problems += scope_problems(config)
    known = set(builtin) | {d.get("name") for d in streams if isinstance(d, dict)}
    entries = [("", config), *((f"apis.{n}.", a) for n, a in apis.items() if isinstance(a, dict))]
    for prefix, entry in entries:
        pattern = entry.get("rate_limit_pattern")
        if isinstance(pattern, str):
            try:
                re.compile(pattern)
            except re.error as exc:
                problems.append(
                    f"{prefix}rate_limit_pattern: {pattern!r} is not a regular expression ({exc})"
                )
    for setting in ("query_params", "skip_statuses", "schema_evolution"):
        value = config.get(setting)
        allowed = known | {"*"} if setting == "schema_evolution" else known
        unknown = sorted(set(value) - allowed) if isinstance(value, dict) else []
        if unknown:
            problems.append(
                f"{setting}: unknown stream(s) {', '.join(map(repr, unknown))}; "
                f"known streams: {', '.join(sorted(str(k) for k in known))}"
            )
    # A key may hold a line break: a problem stays one line.
    return [p.replace("\r", "\\r").replace("\n", "\\n") for p in problems]


def unknown_settings(config: t.Mapping[str, t.Any], schema: t.Mapping[str, t.Any]) -> list[str]:
    """Return a warning for each setting the tap does not know, with the closest known one."""
    known = list(schema.get("properties", {}))
    return [
        f"{key}: not a setting of tap-rest, ignored{_suggest(key, known)}"
        for key in config
        if key not in known
    ]
