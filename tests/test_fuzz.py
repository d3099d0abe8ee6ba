"""Fuzzing: any body ends in records, a retry or one named error; any config in named problems."""

from __future__ import annotations

import json
import typing as t

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from singer_sdk.exceptions import ConfigValidationError, FatalAPIError

from tap_rest.config import CONFIG_SCHEMA
from tap_rest.sandbox import Sandbox
from tap_rest.streams import STREAM_TYPES
from tap_rest.tap import TapRest
from tap_rest.validate import config_problems

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=25,
)
RECORDS = st.lists(
    st.fixed_dictionaries(
        {"id": st.integers(min_value=0) | st.none() | st.text(max_size=5)},
        optional={"name": JSON_VALUES, "value": JSON_VALUES},
    ),
    max_size=8,
)


@st.composite
def bodies(draw: st.DrawFn) -> tuple[bytes, str]:
    """A body as a server may send it: a shape, an encoding, maybe cut short."""
    shape = draw(
        st.sampled_from(["records", "wrapped", "value", "raw"]),
    )
    if shape == "records":
        text = json.dumps(draw(RECORDS))
    elif shape == "wrapped":
        text = json.dumps({"data": draw(RECORDS | JSON_VALUES), "next": draw(JSON_VALUES)})
    elif shape == "value":
        text = json.dumps(draw(JSON_VALUES))
    else:
        return draw(st.binary(max_size=200)), draw(
            st.sampled_from(["application/json", "text/html"])
        )
    raw = text.encode(draw(st.sampled_from(["utf-8", "utf-16"])))
    if draw(st.booleans()):
        raw = raw[: draw(st.integers(min_value=0, max_value=len(raw)))]
    return raw, "application/json"


@pytest.fixture(scope="module")
def fuzz_sandbox() -> t.Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=bodies(), records_path=st.sampled_from(["$[*]", "$.data[*]", "$"]))
def test_any_body_ends_in_records_or_one_named_error(
    fuzz_sandbox, capfd, body, records_path
) -> None:
    raw, content_type = body
    fuzz_sandbox.server.canned["fuzz"] = (200, [("Content-Type", content_type)], raw)
    stream = {
        "name": "things",
        "base_url": f"{fuzz_sandbox.url}/canned",
        "path": "/fuzz",
        "records_path": records_path,
        "primary_keys": ["id"],
        "schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
    }
    config = {"streams": [stream], "max_tries": 2, "backoff_factor": 0}
    tap = TapRest(config=config)
    try:
        tap.streams["things"].sync()
    except FatalAPIError as exc:
        message = str(exc)
        assert "things" in message, message
        assert "\n" not in message.strip(), message
    finally:
        capfd.readouterr()


SETTINGS = list(CONFIG_SCHEMA["properties"])
CONFIGS = st.dictionaries(
    st.sampled_from(SETTINGS) | st.text(max_size=10),
    JSON_VALUES
    | st.just({"type": "bearer"})
    | st.lists(st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=4)),
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(config=CONFIGS)
def test_any_config_ends_in_named_problems(config) -> None:
    builtin = {cls.name for cls in STREAM_TYPES}
    problems = config_problems(config, CONFIG_SCHEMA, builtin)
    assert all(isinstance(p, str) and "\n" not in p for p in problems)
    for problem in problems:
        setting = problem.split(":")[0].split(".")[0].split("[")[0]
        assert setting in config or setting == "", problem
    safe = {k: v for k, v in config.items() if k not in ("streams", "apis")}
    refused: list[ConfigValidationError] = []
    try:
        TapRest(config=safe)
    except ConfigValidationError as exc:
        refused.append(exc)
    assert all(exc.errors for exc in refused), "a refused config names its problems"


ODD_VALUES: list[t.Any] = [None, True, 0, -1, 1.5, "", "x", [], [1], {}, {"x": 1}, {"x": True}]


@pytest.mark.parametrize("setting", SETTINGS)
def test_every_setting_of_every_type_is_named_or_taken(setting: str) -> None:
    """Each setting given each JSON type: the tap starts or names its problems, never crashes."""
    builtin = {cls.name for cls in STREAM_TYPES}
    for value in ODD_VALUES:
        config = {setting: value}
        assert all(isinstance(p, str) for p in config_problems(config, CONFIG_SCHEMA, builtin))
        refused: list[ConfigValidationError] = []
        try:
            TapRest(config=config)
        except ConfigValidationError as exc:
            refused.append(exc)
        assert all(exc.errors for exc in refused), (setting, value)
