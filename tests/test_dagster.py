"""Dagster end to end: the sharded job and the window partitions run real Meltano pipelines into
real PostgreSQL, with Meltano's STATE in PostgreSQL (meltano.yml's cluster environment)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import typing as t
import uuid
from pathlib import Path

import pytest
import requests
from dagster import DagsterEventType, DagsterInstance

from tap_rest.config import BUILTIN_STREAMS
from tap_rest.orchestration.meltano import window_piece
from tap_rest.sandbox import Sandbox
from tap_rest.shard import owner
from tests.conftest import DEFAULT_COUNTS, ROOT
from tests.test_catalog import discover
from tests.test_e2e import MELTANO, meltano, pg_counts, psql  # noqa: F401 (meltano: a fixture)
from tests.test_shard import SHOP_STREAMS, item_streams
from tests.test_window import windowed

DAGSTER = Path(sys.executable).parent / "dagster"
#: dagster dev, in its own virtual environment (scripts/dagster.sh: dagster-webserver's gql
#: requires the old backoff package, which must not replace singer-sdk's python-backoff)
DAGSTER_UI = ROOT / ".venv-dagster" / "bin" / "dagster"
MODULE = "tap_rest.orchestration.dagster"

# Meltano and the plugins installed (scripts/meltano.sh), as the end-to-end tests need them.
pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("meltano")]


@pytest.fixture(scope="session")
def dagster_ui() -> Path:
    """Dagster's web UI in .venv-dagster (scripts/dagster.sh, which scripts/test.sh runs)."""
    subprocess.run(["bash", "scripts/dagster.sh"], cwd=ROOT, check=True, timeout=900)
    return DAGSTER_UI


@pytest.fixture
def postgres():
    """A target schema and a Meltano system database of this test's own, dropped after it."""
    name = f"tap_rest_dagster_{uuid.uuid4().hex[:8]}"
    psql(f'create database "{name}"')
    try:
        yield name
    finally:
        psql(f'drop schema if exists "{name}" cascade')
        psql(f'drop database if exists "{name}" with (force)')


def environ(sb: Sandbox, tmp_path: Path, schema: str, **extra: str) -> dict[str, str]:
    """The environment of a Dagster run: the sandbox, the loader's schema, Dagster's home."""
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    return {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "MELTANO_PROJECT_ROOT": str(ROOT),
        "MELTANO_BIN": str(MELTANO),
        "TAP_REST_JSONPLACEHOLDER_URL": sb.url,
        "TAP_REST_POKEAPI_URL": sb.pokeapi_url,
        "TAP_REST_APIS": json.dumps({"shop": {"base_url": f"{sb.url}/shop"}}),
        "TARGET_POSTGRES_PASSWORD": os.environ.get("TARGET_POSTGRES_PASSWORD", "postgres"),
        "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema,
        **extra,
    }


def dagster(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run the dagster command line on this module; its output (stdout and stderr) as stdout."""
    return subprocess.run(
        [str(DAGSTER), *args, "-m", MODULE],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=900,
        check=False,
    )


LAUNCH_BACKFILL = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}"""
BACKFILL_STATUS = """
query($id: String!) {
  partitionBackfillOrError(backfillId: $id) { ... on PartitionBackfill { status } }
}"""
RUNS = """
{ runsOrError { ... on Runs { results { status tags { key value } } } } }"""


@contextlib.contextmanager
def dagster_dev(env: dict[str, str], tmp_path: Path) -> t.Iterator[t.Callable[..., dict]]:
    """Run ``dagster dev -m tap_rest.orchestration.dagster`` (its UI, its daemon) until the end
    of the block; yield a function that asks its GraphQL API."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (tmp_path / "dagster-dev.log").open("w")
    proc = subprocess.Popen(
        [str(DAGSTER_UI), "dev", "-m", MODULE, "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    origin = f"http://127.0.0.1:{port}"

    def graphql(query: str, **variables: t.Any) -> dict:
        answer = requests.post(
            f"{origin}/graphql", json={"query": query, "variables": variables}, timeout=60
        )
        answer.raise_for_status()
        return answer.json()["data"]

    try:
        for _ in range(180):
            assert proc.poll() is None, (tmp_path / "dagster-dev.log").read_text()[-3000:]
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{origin}/server_info", timeout=2).ok:
                    break
            time.sleep(1)
        yield graphql
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # dagster dev's own group: its webserver and daemon
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        log.close()


def last_run(env: dict[str, str]) -> tuple[str, dict[str, str], list[str]]:
    """The latest run in Dagster's instance: its status, each step's, its failures' messages."""
    with DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        run = instance.get_runs(limit=1)[0]
        steps = {s.step_key: s.status.value for s in instance.get_run_step_stats(run.run_id)}
        failures = [
            entry.dagster_event.step_failure_data.error.message
            for entry in instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_FAILURE)
        ]
    return run.status.value, steps, failures


def meltano_state(env: dict[str, str], *args: str) -> str:
    out = subprocess.run(
        [str(MELTANO), "state", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return out.stdout


def no_duplicates(schema: str) -> None:
    for table in pg_counts(schema):
        rows, keys = psql(f'select count(*), count(distinct id) from "{schema}"."{table}"')[0]
        assert rows == keys, f"{table}: {rows} rows for {keys} keys"


def test_the_sharded_job_splits_a_run_into_four_and_each_shard_is_incremental(
    tmp_path, postgres
) -> None:
    with Sandbox() as sb:
        sharded_job_twice(sb, tmp_path, postgres)


def with_schemas(tmp_path: Path, sb: Sandbox, streams: list[dict]) -> list[dict]:
    """The definitions with the schemas discovery infers (so no run samples pages to infer)."""
    config = {
        "jsonplaceholder_url": sb.url,
        "pokeapi_url": sb.pokeapi_url,
        "builtin_streams": [],
        "apis": {"shop": {"base_url": f"{sb.url}/shop"}},
        "streams": streams,
    }
    schemas = {e["tap_stream_id"]: e["schema"] for e in discover(tmp_path, config)["streams"]}
    return [{**d, "schema": schemas[d["name"]]} for d in streams]


def sharded_job_twice(sandbox: Sandbox, tmp_path: Path, postgres: str) -> None:
    # A parent-child pair (incremental) and a list split by page, besides the built-in streams.
    streams = with_schemas(tmp_path, sandbox, [*SHOP_STREAMS, *item_streams(sandbox.url)[:1]])
    env = environ(
        sandbox,
        tmp_path,
        postgres,
        MELTANO_ENVIRONMENT="cluster",
        MELTANO_DATABASE_URI=f"postgresql+psycopg://postgres@127.0.0.1:5432/{postgres}",
        TAP_REST_STREAMS=json.dumps(streams),
        TAP_REST_BUILTIN_STREAMS=json.dumps(BUILTIN_STREAMS),
        TAP_REST_SHARDS="4",
    )
    first = dagster("job", "execute", "-j", "tap_rest_sharded", env=env)
    assert first.returncode == 0, first.stdout[-6000:]
    status, steps, _ = last_run(env)
    assert status == "SUCCESS"
    assert steps == {
        "prepare_loader": "SUCCESS",
        "plan_shards": "SUCCESS",
        **{f"run_shard[shard_{i}_of_4]": "SUCCESS" for i in range(4)},
        "report": "SUCCESS",
    }
    expected = {**DEFAULT_COUNTS, "customers": 50, "orders": 200, "items_offset": 237}
    assert pg_counts(postgres) == expected
    no_duplicates(postgres)
    # Four state ids in Meltano's system database (PostgreSQL), each its shard's own.
    ids = sorted(meltano_state(env, "list").split())
    assert ids == [f"cluster:tap-rest-to-target-postgres:shard-{i}-of-4" for i in range(4)]
    for index, state_id in enumerate(ids):
        state = json.loads(meltano_state(env, "get", state_id))["singer_state"]
        assert state["tap_rest_shard"] == {"index": index, "count": 4}
        assert state["bookmarks"]["customers"]["replication_key_value"]

    # A customer changes; the second run reads only what changed, each shard from its own STATE.
    assert requests.post(f"{sandbox.url}/shop/touch?customer=7", timeout=10).ok
    sandbox.server.requests.clear()
    second = dagster("job", "execute", "-j", "tap_rest_sharded", env=env)
    assert second.returncode == 0, second.stdout[-6000:]
    asked = dict(sandbox.server.requests)
    customer_lists = [t for t in asked if t.startswith("/shop/customers?")]
    assert len(customer_lists) == 4, customer_lists
    assert all("updated_since=" in t for t in customer_lists), "each shard sends its bookmark"
    orders = [t for t in asked if "/orders" in t]
    assert len(orders) == 1, orders
    assert orders[0].startswith("/shop/customers/7/orders")
    assert asked[orders[0]] == 1
    assert pg_counts(postgres) == expected
    no_duplicates(postgres)
    touched = psql(f'select updated_at from "{postgres}".customers where id = 7')[0][0]
    assert not touched.startswith("2026-01-01 00:07"), "customer 7 was not updated"
    holder = owner([7], 4)
    state = json.loads(meltano_state(env, "get", ids[holder]))["singer_state"]
    assert state["bookmarks"]["customers"]["replication_key_value"] > "2026-01-01T00:50:00Z"


def test_a_failing_shard_fails_the_job_with_its_last_error_line(
    sandbox, tmp_path, postgres
) -> None:
    env = environ(
        sandbox,
        tmp_path,
        postgres,
        MELTANO_DATABASE_URI=f"postgresql+psycopg://postgres@127.0.0.1:5432/{postgres}",
        TAP_REST_POST_IDS=json.dumps([1, 2, 3, 999]),
        TAP_REST__SELECT=json.dumps(["posts.*"]),
    )
    config = tmp_path / "run.yaml"
    config.write_text(json.dumps({"ops": {"plan_shards": {"config": {"shards": 3}}}}))
    run = dagster("job", "execute", "-j", "tap_rest_sharded", "-c", str(config), env=env)
    assert run.returncode != 0
    failing = owner([999], 3)
    line = f"GET {sandbox.url}/posts/999 returned 404 Not Found"
    status, steps, failures = last_run(env)
    assert status == "FAILURE"
    assert steps[f"run_shard[shard_{failing}_of_3]"] == "FAILURE"
    for index in set(range(3)) - {failing}:
        assert steps[f"run_shard[shard_{index}_of_3]"] == "SUCCESS"
    assert len(failures) == 1
    message = failures[0][failures[0].index(f"shard {failing} of 3 failed") :].splitlines()[0]
    assert message.startswith(f"shard {failing} of 3 failed (meltano run exit 1): tap-rest: ")
    assert f"Stream 'posts': {line}" in message, "the shard's last error line"
    ids = set(meltano_state(env, "list").split())
    for index in set(range(3)) - {failing}:
        assert f"sandbox:tap-rest-to-target-postgres:shard-{index}-of-3" in ids


@pytest.mark.usefixtures("dagster_ui")
def test_a_windowed_backfill_as_dagster_partitions_loads_every_record_once(
    tmp_path, postgres
) -> None:
    customers = windowed(name="new_customers", path="/customers")
    children = {
        "name": "their_orders",
        "api": "shop",
        "path": "/customers/{customer_id}/orders",
        "records_path": "$.data[*]",
        "primary_keys": ["id"],
        "parent": {"stream": "new_customers", "fields": {"customer_id": "id"}},
    }
    # Meltano's default system database (SQLite in its system folder), in a folder of this
    # test's own with the project's plugins: every partition's STATE lands in that one database.
    system = tmp_path / "meltano_system"
    system.mkdir()
    for plugins in ("extractors", "loaders"):
        (system / plugins).symlink_to(ROOT / ".meltano" / plugins)
    streams = [windowed(), customers, children]
    # A sandbox of its own: the other tests touch the shop's records.
    with Sandbox() as sb:
        env = environ(
            sb,
            tmp_path,
            postgres,
            MELTANO_SYS_DIR_ROOT=str(system),
            TAP_REST_STREAMS=json.dumps(streams),
            TAP_REST__SELECT=json.dumps([f"{d['name']}.*" for d in streams]),
            TAP_REST_WINDOWS_START="2025-01-01",
            TAP_REST_WINDOWS_CADENCE="monthly",
        )
        tables = dagster("asset", "materialize", "--select", "tap_rest_tables", env=env)
        assert tables.returncode == 0, tables.stdout[-3000:]
        months = [f"2025-{m:02d}-01" for m in range(1, 13)]
        # A Dagster backfill of twelve monthly partitions, as the UI launches it: dagster dev's
        # daemon runs the partitions, several at once.
        with dagster_dev(env, tmp_path) as graphql:
            launched = graphql(
                LAUNCH_BACKFILL,
                params={
                    "partitionNames": months,
                    "assetSelection": [{"path": ["tap_rest_windows"]}],
                    "fromFailure": False,
                },
            )["launchPartitionBackfill"]
            assert launched["__typename"] == "LaunchBackfillSuccess", launched
            status = "REQUESTED"
            deadline = time.monotonic() + 900
            while status == "REQUESTED" and time.monotonic() < deadline:
                time.sleep(2)
                found = graphql(BACKFILL_STATUS, id=launched["backfillId"])
                status = found["partitionBackfillOrError"]["status"]
            runs = graphql(RUNS)["runsOrError"]["results"]
    assert status == "COMPLETED_SUCCESS", [r for r in runs if r["status"] != "SUCCESS"]
    partitions = sorted(
        t["value"] for r in runs for t in r["tags"] if t["key"] == "dagster/partition"
    )
    assert partitions == months, "one run a partition"
    assert pg_counts(postgres) == {"shop_orders": 200, "new_customers": 50, "their_orders": 200}
    no_duplicates(postgres)
    april = psql(
        f'select min(id), count(*) from "{postgres}".shop_orders where id between 61 and 80'
    )
    assert april == [["61", "20"]]
    assert (system / "meltano.db").is_file()
    ids = set(meltano_state(env, "list").split())
    assert len(ids) == 12
    for month, end in zip(months, [*months[1:], "2026-01-01"], strict=True):
        piece = window_piece(f"{month}T00:00:00+00:00", f"{end}T00:00:00+00:00")
        assert f"sandbox:tap-rest-to-target-postgres:{piece.state_suffix}" in ids
