"""BATCH output: every record in a file exactly once, each STATE after the files of its records."""

from __future__ import annotations

import gzip
import json
import signal
import stat
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from tap_rest.sandbox import Sandbox
from tap_rest.sandbox.faults import FaultSpec
from tests.conftest import DEFAULT_COUNTS, TapRun, interrupt, run_tap
from tests.test_e2e import meltano, meltano_run, pg_counts, psql  # noqa: F401 - a fixture
from tests.test_evolution import ITEMS, ORDERS, late_config, synced


def batch_config(root: Path, *, size: int, compression: str = "none") -> dict:
    return {
        "encoding": {"format": "jsonl", "compression": compression},
        "storage": {"root": str(root)},
        "batch_size": size,
    }


def read_batch(url: str) -> list[dict]:
    path = Path(unquote(urlparse(url).path))
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return [json.loads(line) for line in data.splitlines()]


def replay(run: TapRun) -> list[tuple[dict, Counter[str]]]:
    """Walk the output as a target would: each STATE with the records delivered before it."""
    delivered: Counter[str] = Counter()
    states = []
    for message in run.messages:
        if message["type"] == "RECORD":
            delivered[message["stream"]] += 1
        elif message["type"] == "BATCH":
            for url in message["manifest"]:
                delivered[message["stream"]] += len(read_batch(url))
        elif message["type"] == "STATE":
            states.append((message["value"], Counter(delivered)))
    return states


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_batches_hold_every_record_once_and_each_state_follows_its_records(
    tmp_path, sandbox, compression
) -> None:
    (tmp_path / "plain").mkdir()
    plain = synced(tmp_path / "plain", late_config(sandbox))
    root = tmp_path / "batches"
    config = late_config(sandbox, batch_config=batch_config(root, size=7, compression=compression))
    batched = synced(tmp_path, config)

    assert batched.of_type("RECORD") == []
    from_files: dict[str, list[dict]] = {}
    for message in batched.of_type("BATCH"):
        assert message["encoding"] == {"format": "jsonl", "compression": compression}
        for url in message["manifest"]:
            from_files.setdefault(message["stream"], []).extend(read_batch(url))
    assert from_files == dict(plain.records), "the same records, each once, in the same order"

    # No STATE is ahead of a record it covers: each STATE of the batched run is one the plain
    # run wrote too, and the batched run had delivered at least the records the plain one had.
    plain_states = replay(plain)
    batched_states = replay(batched)
    assert len(batched_states) > 3
    for value, delivered in batched_states:
        before = next(d for v, d in plain_states if v == value)
        assert all(delivered[s] >= n for s, n in before.items()), (value, delivered, before)
    assert batched.of_type("STATE")[-1] == plain.of_type("STATE")[-1]

    files = sorted(root.iterdir())
    assert len(files) == len(batched.of_type("BATCH"))
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files), "owner-only"
    assert stat.S_IMODE(root.stat().st_mode) == 0o700


def delivered_before_schemas(run: TapRun) -> list[tuple[str, int]]:
    """Return, for each SCHEMA in turn, its stream and the records of it delivered before."""
    delivered: Counter[str] = Counter()
    out = []
    for message in run.messages:
        if message["type"] == "RECORD":
            delivered[message["stream"]] += 1
        elif message["type"] == "BATCH":
            delivered[message["stream"]] += len(read_batch(message["manifest"][0]))
        elif message["type"] == "SCHEMA":
            out.append((message["stream"], delivered[message["stream"]]))
    return out


def test_a_batch_holds_only_records_its_last_schema_describes(tmp_path, sandbox) -> None:
    (tmp_path / "plain").mkdir()
    plain = synced(tmp_path / "plain", late_config(sandbox))
    config = late_config(sandbox, batch_config=batch_config(tmp_path / "b", size=15))
    run = synced(tmp_path, config)
    # A new SCHEMA follows exactly the records written before it, as RECORD lines would: the
    # open files are announced first, so no batch spans a change of schema.
    assert delivered_before_schemas(run) == delivered_before_schemas(plain)
    schemas: dict[str, dict] = {}
    batches_per_schema: Counter[int] = Counter()
    for message in run.messages:
        if message["type"] == "SCHEMA":
            schemas[message["stream"]] = message["schema"]["properties"]
        elif message["type"] == "BATCH":
            described = schemas[message["stream"]]
            for record in read_batch(message["manifest"][0]):
                assert set(record) <= set(described), (message["stream"], record)
            if message["stream"] == "late_orders":
                batches_per_schema[len(described)] += 1
    # The schema grew mid-stream, between batches: batches went out under several schemas.
    assert len(batches_per_schema) >= 3, batches_per_schema
    assert sum(1 for m in run.of_type("SCHEMA") if m["stream"] == "late_orders") >= 3


def test_an_interrupted_batched_run_resumed_from_its_state_loses_nothing(
    tmp_path, full_run
) -> None:
    with Sandbox(faults=FaultSpec(latency_ms=3)) as sb:
        config = {
            "jsonplaceholder_url": sb.url,
            "pokeapi_url": sb.pokeapi_url,
            "page_size": 20,
            "batch_config": batch_config(tmp_path / "b", size=100),
        }
        ended = interrupt(config, tmp_path, after_lines=15, sig=signal.SIGTERM)
        assert ended["code"] == 143, ended["stderr"][-2000:]
        messages = ended["messages"]
        assert messages[-1]["type"] == "STATE"
        first = replay(TapRun(ended["code"], ended["stderr"], messages))
        delivered_first = first[-1][1]
        assert 0 < sum(delivered_first.values()) < sum(DEFAULT_COUNTS.values())
        state = tmp_path / "state.json"
        state.write_text(json.dumps(messages[-1]["value"]))
        config["batch_config"] = batch_config(tmp_path / "b2", size=100)
        second = run_tap(tmp_path, config, "--state", str(state))
    assert second.returncode == 0, second.stderr[-2000:]
    ids: Counter[tuple[str, int]] = Counter()
    for message in [*messages, *second.messages]:
        if message["type"] == "BATCH":
            for record in read_batch(message["manifest"][0]):
                ids[message["stream"], record.get("id", record.get("name"))] += 1
    expected = {(s, r.get("id", r.get("name"))) for s, rs in full_run.records.items() for r in rs}
    assert set(ids) == expected, "every record, the first run's and the resumed run's together"
    assert sum(ids.values()) < 2 * len(expected), "the rerun resumes, it does not start over"


def test_a_batch_format_the_writer_does_not_write_is_a_named_config_error(tmp_path, config) -> None:
    bad = batch_config(tmp_path / "b", size=10)
    bad["encoding"]["format"] = "parquet"
    run = run_tap(tmp_path, {**config, "batch_config": bad})
    assert run.returncode != 0
    assert "batch_config" in run.stderr
    assert "parquet" in run.stderr
    assert not (tmp_path / "b").exists()


@pytest.mark.e2e
def test_meltano_run_with_batches_lands_late_fields_in_postgres_once(
    meltano,  # noqa: F811 - the fixture
    sandbox,
    tmp_path,
) -> None:
    schema = f"tap_rest_batch_{uuid.uuid4().hex[:8]}"
    root = tmp_path / "batches"
    env = {
        "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema,
        "TAP_REST_APIS": json.dumps({"late": {"base_url": f"{sandbox.url}/late"}}),
        "TAP_REST_STREAMS": json.dumps([ORDERS, ITEMS]),
        "TAP_REST_BATCH_CONFIG": json.dumps(batch_config(root, size=25, compression="gzip")),
    }
    try:
        meltano_run(
            meltano,
            sandbox,
            f"--state-id-suffix=e2e-{schema}",
            "tap-rest",
            "target-postgres",
            **env,
        )
        assert pg_counts(schema) == {"late_orders": 100, "late_items": 300}
        orders = f'"{schema}".late_orders'
        items = f'"{schema}".late_items'
        assert psql(f"select count(distinct id) from {orders}") == [["100"]]
        assert psql(f"select count(distinct id) from {items}") == [["300"]]
        # Fields that first appear after several batches land, in their own columns.
        assert psql(f"select count(coupon), min(coupon) from {orders}") == [["50", "SAVE100"]]
        assert psql(f"select count(*) from {orders} where metadata->>'campaign' is not null") == [
            ["50"]
        ]
        amounts = psql(
            f"select coalesce(amount, amount__v_number) from {orders} where id in (60, 61) "
            "order by id"
        )
        assert [float(a[0]) for a in amounts] == [600.0, 610.5]
        gifts = psql(f"select count(gift_note), min(metadata->>'order_ref') from {items}")
        assert gifts == [["3", "O-40"]]
        assert len(list(root.iterdir())) >= (100 + 300) // 25
    finally:
        psql(f'drop schema if exists "{schema}" cascade')
