"""End to end, as data engineers run it: Meltano, real Singer targets from PyPI, real
PostgreSQL and DuckDB. Needs Meltano and the plugins (`bash scripts/meltano.sh`, which
`scripts/test.sh` runs) and PostgreSQL at 127.0.0.1:5432 (`.ci/run` starts it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tap_rest.sandbox import Sandbox
from tests.conftest import DEFAULT_COUNTS, ROOT
from tests.test_catalog import discover, select
from tests.test_evolution import ITEMS, ORDERS

MELTANO = ROOT / ".venv-meltano" / "bin" / "meltano"
LOADERS = ROOT / ".meltano" / "loaders"
PG = {"host": "127.0.0.1", "port": "5432", "user": "postgres", "database": "test"}

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def meltano() -> Path:
    if not MELTANO.exists():
        pytest.fail(
            "Meltano is not installed: run `bash scripts/meltano.sh` (scripts/test.sh does)"
        )
    subprocess.run(["bash", "scripts/meltano.sh"], cwd=ROOT, check=True, timeout=900)
    return MELTANO


def meltano_run(
    meltano: Path, sandbox: Sandbox, *args: str, check: bool = True, **env: str
) -> subprocess.CompletedProcess:
    environ = {
        **os.environ,
        "TAP_REST_JSONPLACEHOLDER_URL": sandbox.url,
        "TAP_REST_POKEAPI_URL": sandbox.pokeapi_url,
        "TARGET_POSTGRES_PASSWORD": os.environ.get("TARGET_POSTGRES_PASSWORD", "postgres"),
        **env,
    }
    proc = subprocess.run(
        [str(meltano), "run", *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if check:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def psql(sql: str) -> list[list[str]]:
    out = subprocess.run(
        [
            "psql",
            "-h",
            PG["host"],
            "-p",
            PG["port"],
            "-U",
            PG["user"],
            "-d",
            PG["database"],
            "-At",
            "-F",
            "\t",
            "-c",
            sql,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return [line.split("\t") for line in out.splitlines()]


def pg_counts(schema: str) -> dict[str, int]:
    tables = [
        r[0]
        for r in psql(
            f"select table_name from information_schema.tables where table_schema = '{schema}'"
        )
    ]
    return {t: int(psql(f'select count(*) from "{schema}"."{t}"')[0][0]) for t in tables}


def test_meltano_run_into_postgres_loads_every_stream_once(meltano, sandbox) -> None:
    schema = f"tap_rest_e2e_{uuid.uuid4().hex[:8]}"
    env = {"TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema}
    state_id = f"--state-id-suffix=e2e-{schema}"
    try:
        meltano_run(meltano, sandbox, state_id, "tap-rest", "target-postgres", **env)
        assert pg_counts(schema) == DEFAULT_COUNTS
        keys = psql(
            "select tc.table_name, kcu.column_name from information_schema.table_constraints tc "
            "join information_schema.key_column_usage kcu "
            "using (constraint_schema, constraint_name) "
            f"where tc.table_schema = '{schema}' and tc.constraint_type = 'PRIMARY KEY'"
        )
        assert sorted(keys) == sorted([t, "id"] for t in DEFAULT_COUNTS)
        city = psql(
            f"select address->>'city', address->'geo'->>'lat' from \"{schema}\".users where id = 1"
        )
        assert city[0][0]
        assert float(city[0][1])
        # meltanolabs-target-postgres lands arrays of objects as jsonb[]
        effects = psql(
            "select array_length(effect_entries, 1), effect_entries[1]->'language'->>'name' "
            f'from "{schema}".ability_details where id = 1'
        )
        assert int(effects[0][0]) >= 1
        assert effects[0][1]
        comments = psql(f'select count(distinct "postId") from "{schema}".post_comments')
        assert int(comments[0][0]) == 100

        meltano_run(meltano, sandbox, state_id, "tap-rest", "target-postgres", **env)
        assert pg_counts(schema) == DEFAULT_COUNTS, "a second run must not duplicate rows"
    finally:
        psql(f'drop schema if exists "{schema}" cascade')


def duckdb_query(db: Path, sql: str) -> list:
    python = LOADERS / "target-duckdb" / "venv" / "bin" / "python"
    script = (
        "import duckdb, json, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
        "c.execute('use tap_rest_e2e'); "
        "print(json.dumps(c.execute(sys.argv[2]).fetchall(), default=str))"
    )
    out = subprocess.run(
        [str(python), "-c", script, str(db), sql], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def test_meltano_run_into_duckdb_loads_every_stream_once(meltano, sandbox, tmp_path) -> None:
    db = tmp_path / "tap_rest_e2e.duckdb"
    env = {"TARGET_DUCKDB_PATH": str(db)}
    state_id = f"--state-id-suffix=e2e-duckdb-{uuid.uuid4().hex[:8]}"
    count_sql = " union all ".join(
        f"select '{t}', count(*) from tap_rest.{t}" for t in DEFAULT_COUNTS
    )
    for _ in range(2):
        meltano_run(meltano, sandbox, state_id, "tap-rest", "target-duckdb", **env)
        assert dict(duckdb_query(db, count_sql)) == DEFAULT_COUNTS
    keys = duckdb_query(
        db,
        "select table_name, constraint_column_names from duckdb_constraints() "
        "where schema_name = 'tap_rest' and constraint_type = 'PRIMARY KEY'",
    )
    assert sorted(keys) == sorted([t, ["id"]] for t in DEFAULT_COUNTS)
    geo = duckdb_query(
        db, "select json_extract_string(address, '$.geo.lat') from tap_rest.users where id = 1"
    )
    assert float(geo[0][0])


def test_tap_piped_into_target_jsonl_emits_only_the_catalog_streams(
    meltano, sandbox, tmp_path
) -> None:
    config = {"jsonplaceholder_url": sandbox.url, "pokeapi_url": sandbox.pokeapi_url}
    (tmp_path / "tap.json").write_text(json.dumps(config))
    (tmp_path / "catalog.json").write_text(
        json.dumps(select(discover(tmp_path, config), {"users", "post_comments"}))
    )
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "target.json").write_text(
        json.dumps({"destination_path": str(out), "do_timestamp_file": False})
    )
    target = LOADERS / "target-jsonl" / "venv" / "bin" / "target-jsonl"
    tap = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tap_rest",
            "--config",
            str(tmp_path / "tap.json"),
            "--catalog",
            str(tmp_path / "catalog.json"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    loaded = subprocess.run(
        [str(target), "--config", str(tmp_path / "target.json")],
        stdin=tap.stdout,
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert tap.wait(timeout=300) == 0
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    files = {p.name: p.read_text().splitlines() for p in out.iterdir()}
    assert sorted(files) == ["post_comments.jsonl", "users.jsonl"]
    assert len(files["users.jsonl"]) == 10
    assert len(files["post_comments.jsonl"]) == 500
    assert {json.loads(line)["postId"] for line in files["post_comments.jsonl"]} == set(
        range(1, 101)
    )


def test_meltano_select_runs_only_the_chosen_streams(meltano, sandbox, tmp_path) -> None:
    env = {
        "TAP_REST__SELECT": json.dumps(["users.*", "todos.*"]),
        "TARGET_JSONL_DESTINATION_PATH": str(tmp_path),
    }
    meltano_run(
        meltano,
        sandbox,
        f"--state-id-suffix=e2e-{uuid.uuid4().hex[:8]}",
        "tap-rest",
        "target-jsonl",
        **env,
    )
    files = {p.name: len(p.read_text().splitlines()) for p in tmp_path.iterdir()}
    assert files == {"users.jsonl": 10, "todos.jsonl": 200}


def test_fields_that_appear_late_reach_postgres_whole(meltano, sandbox) -> None:
    schema = f"tap_rest_late_{uuid.uuid4().hex[:8]}"
    env = {
        "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema,
        "TAP_REST_APIS": json.dumps({"late": {"base_url": f"{sandbox.url}/late"}}),
        "TAP_REST_STREAMS": json.dumps([ORDERS, ITEMS]),
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
        assert psql(f"select count(coupon), min(coupon) from {orders}") == [["50", "SAVE100"]]
        assert psql(f"select count(*) from {orders} where metadata->>'campaign' is not null") == [
            ["50"]
        ]
        # A value of another type lands in its variant column; no column type is altered.
        amounts = psql(
            f"select coalesce(amount, amount__v_number) from {orders} where id in (60, 61) "
            "order by id"
        )
        assert [float(a[0]) for a in amounts] == [600.0, 610.5]
        references = psql(
            f"select coalesce(reference::text, reference__v_string) from {orders} "
            "where id in (80, 81) order by id"
        )
        assert [r[0] for r in references] == ["80", "R-81"]
        assert psql(f"select count(*) from {orders} where amount is null") == [["40"]]
        items = f'"{schema}".late_items'
        gifts = psql(f"select count(gift_note), min(metadata->>'order_ref') from {items}")
        assert gifts == [["3", "O-40"]]
    finally:
        psql(f'drop schema if exists "{schema}" cascade')


@pytest.mark.parametrize(
    ("env", "line"),
    [
        (
            {"TAP_REST_PAGE_SIZE": "-5"},
            "tap-rest: error: page_size: -5 is less than the minimum of 1",
        ),
        (
            {"TAP_REST_JSONPLACEHOLDER_URL": "http://127.0.0.1:9"},
            "tap-rest: error: cannot connect to http://127.0.0.1:9/",
        ),
    ],
)
def test_a_mistake_through_meltano_run_is_the_same_one_line(
    meltano, sandbox, tmp_path, env, line
) -> None:
    proc = meltano_run(
        meltano,
        sandbox,
        f"--state-id-suffix=e2e-{uuid.uuid4().hex[:8]}",
        "tap-rest",
        "target-jsonl",
        check=False,
        TARGET_JSONL_DESTINATION_PATH=str(tmp_path),
        TAP_REST__SELECT=json.dumps(["users.*"]),
        **env,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert line in output, output[-3000:]
    assert "Traceback" not in output.split(line)[0][-2000:]
