"""meltano.yml and the tap's config schema must agree."""

from __future__ import annotations

import typing as t

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


def flat_settings(properties: dict, prefix: str = "") -> dict[str, dict]:
    """Setting name -> JSON schema, with a discriminated union's fields as dotted names."""
    out: dict[str, dict] = {}
    for name, prop in properties.items():
        branches = [b for b in prop.get("oneOf", []) if "properties" in b]
        if branches:
            for branch in branches:
                for sub, sub_prop in branch["properties"].items():
                    merged = out.setdefault(f"{prefix}{name}.{sub}", dict(sub_prop))
                    merged.setdefault("enum", [])
                    if "const" in sub_prop:
                        merged["enum"].append(sub_prop["const"])
        else:
            out[prefix + name] = prop
    return out


def _extractor() -> dict[str, t.Any]:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    return next(p for p in project["plugins"]["extractors"] if p["name"] == "tap-rest")


def test_meltano_settings_match_the_config_schema() -> None:
    settings = {s["name"]: s for s in _extractor()["settings"]}
    schema = TapRest(config={}, validate_config=False).config_jsonschema
    properties = flat_settings(schema["properties"])
    assert list(settings) == list(properties), "names or order differ"
    for name, prop in properties.items():
        setting = settings[name]
        allowed = prop.get("enum") or []
        if allowed:
            assert setting["kind"] == "options", name
            assert [o["value"] for o in setting["options"]] == allowed, name
        else:
            assert setting["kind"] == KINDS[_json_type(prop)], name
        assert bool(setting.get("sensitive")) == bool(prop.get("secret")), name
        assert setting.get("description"), name
        if "default" in prop and name != "user_agent":
            assert setting.get("value") == prop["default"], name


def test_secrets_are_sensitive_in_meltano() -> None:
    sensitive = {s["name"] for s in _extractor()["settings"] if s.get("sensitive")}
    assert sensitive == {
        "auth.value",
        "auth.token",
        "auth.password",
        "auth.client_secret",
        "auth.refresh_token",
        "apis",  # each API's auth and headers may hold a secret
    }


def test_meltano_capabilities_match_the_tap() -> None:
    assert set(_extractor()["capabilities"]) == {str(c) for c in TapRest.capabilities}
