"""Fidelity against the real public data in ../shared/fixtures (skipped where it is absent)."""

from __future__ import annotations

import json
import typing as t

import jsonschema
import pytest

from tap_rest.sandbox import Sandbox
from tap_rest.sandbox.data import Fixtures, Generated
from tap_rest.tap import TapRest
from tests.conftest import FIXTURES, run_tap

pytestmark = pytest.mark.skipif(
    not (FIXTURES / "jsonplaceholder" / "data.json").exists(),
    reason=f"real API data not found at {FIXTURES} (it lies beside the project in CI)",
)

# stream -> jsonplaceholder collection
JSONPLACEHOLDER = {
    "posts": "posts",
    "post_comments": "comments",
    "albums": "albums",
    "album_photos": "photos",
    "todos": "todos",
    "users": "users",
}


@pytest.fixture(scope="module")
def real() -> dict[str, t.Any]:
    return json.loads((FIXTURES / "jsonplaceholder" / "data.json").read_text())


@pytest.fixture(scope="module")
def real_abilities() -> list[dict]:
    folder = FIXTURES / "pokeapi" / "ability"
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*/index.json"))]


@pytest.fixture(scope="module")
def schemas() -> dict[str, dict]:
    tap = TapRest(config={}, validate_config=False)
    return {name: stream.schema for name, stream in tap.streams.items()}


def shape(value: t.Any) -> t.Any:
    """The structure of a JSON value: key sets and types, array items merged."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        items = {json.dumps(shape(v), sort_keys=True) for v in value}
        return ["array", sorted(items)]
    return type(value).__name__


def merged_shapes(values: t.Iterable[t.Any]) -> set[str]:
    return {json.dumps(shape(v), sort_keys=True) for v in values}


@pytest.mark.parametrize("stream", list(JSONPLACEHOLDER))
def test_every_real_jsonplaceholder_record_fits_the_schema(real, schemas, stream) -> None:
    validator = jsonschema.Draft7Validator(schemas[stream])
    records = real[JSONPLACEHOLDER[stream]]
    assert records
    for record in records:
        errors = list(validator.iter_errors(record))
        assert not errors, f"{stream} {record['id']}: {errors[0].message}"
        assert set(record) == set(schemas[stream]["properties"]), "schema misses or invents a field"


def test_every_real_ability_fits_the_schemas(real_abilities, schemas) -> None:
    assert len(real_abilities) == 373
    details = jsonschema.Draft7Validator(schemas["ability_details"])
    for record in real_abilities:
        errors = list(details.iter_errors(record))
        assert not errors, f"ability {record['id']}: {errors[0].message}"
    index = json.loads((FIXTURES / "pokeapi" / "ability" / "index.json").read_text())
    listing = jsonschema.Draft7Validator(schemas["abilities"])
    for row in index["results"]:
        ability = {"id": int(row["url"].rstrip("/").rsplit("/", 1)[-1]), **row}
        assert not list(listing.iter_errors(ability))


@pytest.mark.parametrize("collection", sorted(set(JSONPLACEHOLDER.values())))
def test_sandbox_records_have_the_real_shape(real, collection) -> None:
    generated = Generated()
    ours = [generated.get(collection, i) for i in generated.ids(collection)]
    assert len(ours) == len(real[collection])
    assert merged_shapes(ours) == merged_shapes(real[collection])
    assert [r["id"] for r in ours] == [r["id"] for r in real[collection]]
    for key in ("postId", "albumId", "userId"):
        if key in real[collection][0]:
            assert [r[key] for r in ours] == [r[key] for r in real[collection]], key


def test_sandbox_abilities_have_the_real_shape(real_abilities) -> None:
    generated = Generated()
    assert sorted(generated.ability_ids) == sorted(r["id"] for r in real_abilities)
    ours = [generated.ability_detail(i, "/api/v2") for i in generated.ability_ids]
    assert set(ours[0]) == set(real_abilities[0])

    def leaves(records: list[dict]) -> set[str]:
        found: set[str] = set()

        def walk(value: t.Any, path: str) -> None:
            if isinstance(value, dict):
                for k, v in value.items():
                    walk(v, f"{path}.{k}")
            elif isinstance(value, list):
                for v in value:
                    walk(v, f"{path}[]")
            else:
                found.add(f"{path}:{type(value).__name__}")

        for r in records:
            walk(r, "")
        return found

    assert leaves(ours) == leaves(real_abilities)


def test_a_full_sync_of_the_real_data_emits_exactly_the_real_records(tmp_path, real) -> None:
    with Sandbox(dataset=Fixtures(FIXTURES)) as sb:
        run = run_tap(tmp_path, {"jsonplaceholder_url": sb.url, "pokeapi_url": sb.pokeapi_url})
        origin = sb.url
    assert run.returncode == 0, run.stderr[-2000:]
    for stream, collection in JSONPLACEHOLDER.items():
        assert run.records[stream] == real[collection], stream
    index = json.loads((FIXTURES / "pokeapi" / "ability" / "index.json").read_text())
    assert [(a["name"], a["url"]) for a in run.records["abilities"]] == [
        (r["name"], origin + r["url"]) for r in index["results"]
    ]
    details = run.records["ability_details"]
    assert len(details) == 373
    first = json.loads((FIXTURES / "pokeapi" / "ability" / "1" / "index.json").read_text())
    by_id = {d["id"]: d for d in details}
    assert json.dumps(by_id[1], sort_keys=True) == json.dumps(first, sort_keys=True).replace(
        '"/api/v2/', f'"{origin}/api/v2/'
    )
