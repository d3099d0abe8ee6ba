"""Orchestration without Meltano: the Dagster definitions load, pieces are named and isolated,
the SCHEMA writer sends what a run sends and asks the API nothing, errors are found."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tap_rest.orchestration.meltano import (
    MeltanoProject,
    last_error_line,
    shard_piece,
    window_piece,
)
from tests.conftest import ROOT, run_tap
from tests.test_catalog import discover, select

#: lines of a real ``meltano --log-format=json run`` whose tap failed (ids shortened)
FAILED_RUN = [
    '{"event": "Environment \'sandbox\' is active", "level": "info"}',
    '{"stdio": "stderr", "string_id": "tap-rest", "app_name": "singer-sdk", "name": "tap-rest",'
    ' "plugin_logger": "tap-rest.users", "event": "An unhandled error occurred while syncing '
    '\'users\'", "level": "error"}',
    '{"stdio": "stderr", "string_id": "tap-rest", "app_name": "singer-sdk", "name": "tap-rest",'
    ' "plugin_logger": "tap-rest", "event": "Stream \'users\': GET http://127.0.0.1:1/status/403/'
    'users?_page=1&_limit=100 returned 403 Forbidden: {}", "level": "error"}',
    '{"stdio": "stderr", "string_id": "tap-rest", "app_name": "singer-sdk", "name": "tap-rest",'
    ' "plugin_logger": "tap-rest", "event": "Summary: users: 0 records, 1 requests, 0 retries, 0 '
    'skipped errors, 0.0 s", "level": "info"}',
    '{"event": "Extractor failed", "level": "error"}',
    '{"success": false, "err": "Extractor failed", "event": "Block run completed", '
    '"level": "error"}',
    '{"status": "failure", "event": "Run completed", "level": "info"}',
]


def test_the_last_error_line_is_the_plugins_own() -> None:
    assert last_error_line(FAILED_RUN) == (
        "tap-rest: Stream 'users': GET http://127.0.0.1:1/status/403/users?_page=1&_limit=100 "
        "returned 403 Forbidden: {}"
    )
    # A loader's plain traceback line, at Meltano's info level, still counts by its words.
    plain = (
        '{"stdio": "stderr", "string_id": "target-postgres", "event": "psycopg2.errors.'
        'UniqueViolation: duplicate key value", "level": "info"}'
    )
    assert last_error_line([*FAILED_RUN[:1], plain, *FAILED_RUN[4:]]) == (
        "target-postgres: psycopg2.errors.UniqueViolation: duplicate key value"
    )
    assert last_error_line(FAILED_RUN[4:]) == "Block run completed: Extractor failed"
    # The tap's own one-line error (plain stderr) is not named twice.
    error = "tap-rest: error: Stream 'posts': GET http://127.0.0.1:1/posts/999 returned 404"
    own = json.dumps({"stdio": "stderr", "string_id": "tap-rest", "event": error, "level": "info"})
    assert last_error_line([own, *FAILED_RUN[4:]]) == error
    assert last_error_line(["not json at all"]) == "not json at all"


def test_pieces_have_their_own_state_ids_and_settings() -> None:
    piece = shard_piece(2, 4)
    assert piece.state_suffix == "shard-2-of-4"
    assert json.loads(piece.env["TAP_REST_SHARD"]) == {"index": 2, "count": 4}
    window = window_piece("2025-01-01T00:00:00+00:00", "2025-02-01T00:00:00+00:00")
    assert window.state_suffix == "window-2025-01-01T000000Z-2025-02-01T000000Z"
    assert json.loads(window.env["TAP_REST_WINDOW"]) == {
        "start": "2025-01-01T00:00:00+00:00",
        "end": "2025-02-01T00:00:00+00:00",
    }


def test_each_piece_gets_a_system_folder_of_its_own(tmp_path) -> None:
    system = tmp_path / ".meltano"
    for name in ("extractors", "loaders", "run", "logs"):
        (system / name).mkdir(parents=True)
    (system / "meltano.db").write_text("")
    (system / "meltano.db-wal").write_text("")
    old = os.environ.get("MELTANO_SYS_DIR_ROOT")
    os.environ["MELTANO_SYS_DIR_ROOT"] = str(system)
    try:
        project = MeltanoProject.locate(tmp_path, "meltano")
        own = project.piece_system_dir(shard_piece(0, 2))
        again = project.piece_system_dir(shard_piece(0, 2))
        other = project.piece_system_dir(shard_piece(1, 2))
    finally:
        if old is None:
            del os.environ["MELTANO_SYS_DIR_ROOT"]
        else:
            os.environ["MELTANO_SYS_DIR_ROOT"] = old
    assert own == again != other
    assert own == system / "run" / "pieces" / "shard-0-of-2"
    assert sorted(p.name for p in own.iterdir()) == ["extractors", "loaders", "meltano.db"]
    assert all((own / name).resolve() == system / name for name in ("extractors", "meltano.db"))


def test_the_schema_writer_sends_a_runs_schemas_and_asks_nothing(tmp_path, config, sandbox) -> None:
    catalog = select(discover(tmp_path, config), {"users", "post_comments"})
    run = run_tap(tmp_path, config, catalog=catalog)
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))
    sandbox.server.requests.clear()
    out = subprocess.run(
        [
            *(sys.executable, "-m", "tap_rest.orchestration.schemas"),
            *(
                "--config",
                str(tmp_path / "config.json"),
                "--catalog",
                str(tmp_path / "catalog.json"),
            ),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert not sandbox.server.requests
    written = [json.loads(line) for line in out.stdout.splitlines()]
    assert {m["type"] for m in written} == {"SCHEMA"}
    key = lambda m: m["stream"]  # noqa: E731
    assert sorted(written, key=key) == sorted(run.of_type("SCHEMA"), key=key)


def _dagster_definitions(**env: str) -> dict:
    code = (
        "import json; from tap_rest.orchestration.dagster import defs, tap_rest_sharded; "
        "repo = defs.get_repository_def(); "
        "windows = repo.assets_defs_by_key[__import__('dagster').AssetKey('tap_rest_windows')]; "
        "keys = windows.partitions_def.get_partition_keys(); "
        "print(json.dumps({'jobs': sorted(j.name for j in repo.get_all_jobs()), "
        "'assets': sorted(k.to_user_string() for k in repo.assets_defs_by_key), "
        "'ops': sorted(n.name for n in tap_rest_sharded.graph.nodes), "
        "'partitions': [keys[0], keys[1]]}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=ROOT,
        check=True,
        timeout=120,
    )
    return json.loads(out.stdout.splitlines()[-1])


def test_the_dagster_definitions_load() -> None:
    found = _dagster_definitions()
    assert "tap_rest_sharded" in found["jobs"]
    assert found["assets"] == ["tap_rest_tables", "tap_rest_windows"]
    assert found["ops"] == ["plan_shards", "prepare_loader", "report", "run_shard"]
    assert found["partitions"] == ["2025-01-01", "2025-02-01"]
    daily = _dagster_definitions(
        TAP_REST_WINDOWS_START="2024-02-28", TAP_REST_WINDOWS_CADENCE="daily"
    )
    assert daily["partitions"] == ["2024-02-28", "2024-02-29"]


def test_dagster_loads_the_module_as_its_command_line_does() -> None:
    dagster = Path(sys.executable).parent / "dagster"
    out = subprocess.run(
        [str(dagster), "job", "list", "-m", "tap_rest.orchestration.dagster"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "tap_rest_sharded" in out.stdout
