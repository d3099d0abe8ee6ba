"""meltano.yml and the tap's config schema must agree."""

from __future__ import annotations

import yaml

from tap_rest.tap import TapRest
from tests.conftest import ROOT

KINDS = {
    "string": "string",
    "integer": "integer",
    "number": "decimal",
    "boolean": "boolean",
    "array": "array",
    "object": "object",
}


def _json_type(prop: dict) -> str:
    types = prop.get("type", [])
    types = [types] if isinstance(types, str) else types
    return next(t for t in types if t != "null")


def test_meltano_settings_match_the_config_schema() -> None:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    extractor = next(p for p in project["plugins"]["extractors"] if p["name"] == "tap-rest")
    settings = {s["name"]: s for s in extractor["settings"]}
    schema = TapRest(config={}, validate_config=False).config_jsonschema
    properties = schema["properties"]
    assert list(settings) == list(properties), "names or order differ"
    for name, prop in properties.items():
        setting = settings[name]
        assert setting["kind"] == KINDS[_json_type(prop)], name
        assert bool(setting.get("sensitive")) == bool(prop.get("secret")), name
        assert setting.get("description"), name
        if "default" in prop and name != "user_agent":
            assert setting.get("value") == prop["default"], name


def test_meltano_capabilities_match_the_tap() -> None:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    extractor = next(p for p in project["plugins"]["extractors"] if p["name"] == "tap-rest")
    assert set(extractor["capabilities"]) == {str(c) for c in TapRest.capabilities}
