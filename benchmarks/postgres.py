"""Into PostgreSQL: 100,000 photos in pages of 100, tap-rest's ways against dlt rest_api's.

    .venv/bin/python benchmarks/postgres.py          # about five minutes; RESULTS.md section
    .venv/bin/python benchmarks/postgres.py --quick  # each way once, the default target skipped

Needs PostgreSQL at 127.0.0.1:5432 (user postgres, db test), ``bash scripts/meltano.sh`` (Meltano
and target-postgres from meltano.yml) and ``bash benchmarks/dlt.sh`` (dlt in its own venv). One
sandbox (``--scale 20``) serves every way the same records; each way loads into a fresh schema,
whose rows are checked by ``count(*)`` and ``count(distinct id)`` after each run:

- ``tap-rest | target-postgres``, the target at its defaults (INSERTs, every record validated
  again): the issue's starting point, run once;
- the same pipe, the target tuned (``use_copy``, ``validate_records: false``, as meltano.yml);
- the same pipe, the tap writing BATCH files (``batch_config``: jsonl, no compression);
- ``meltano run tap-rest target-postgres`` with meltano.yml's target and the BATCH files;
- dlt rest_api (``benchmarks/dlt_postgres.py``), merge on id, the anchor.

The tap is the same declared ``photos`` stream everywhere (inline schema, ``link_header``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
import uuid
from pathlib import Path

from common import sandbox  # benchmarks/common.py

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = sys.executable
QUICK = "--quick" in sys.argv[1:]
REPEATS = 1 if QUICK else 3
RECORDS = 100_000
SECTION = ("<!-- postgres:start -->", "<!-- postgres:end -->")
TARGET = ROOT / ".meltano" / "loaders" / "target-postgres" / "venv" / "bin" / "target-postgres"
MELTANO = ROOT / ".venv-meltano" / "bin" / "meltano"
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "password": "postgres"}
FAST = {"use_copy": True, "validate_records": False}
SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": ["integer"]},
        "albumId": {"type": ["integer"]},
        "title": {"type": ["string", "null"]},
        "url": {"type": ["string", "null"]},
        "thumbnailUrl": {"type": ["string", "null"]},
    },
}


def photos(origin: str) -> list[dict[str, t.Any]]:
    """Return the streams setting: every photo, paged as jsonplaceholder pages."""
    return [
        {
            "name": "photos",
            "base_url": origin,
            "path": "/photos",
            "primary_keys": ["id"],
            "paginator": {"type": "link_header", "first_params": {"_page": 1, "_limit": 100}},
            "schema": SCHEMA,
        }
    ]


def psql(sql: str) -> str:
    """Run one statement in the test database; return its unaligned output."""
    return subprocess.run(
        ["psql", "-h", PG["host"], "-U", PG["user"], "-d", "test", "-qAtc", sql],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def rows(schema: str) -> tuple[int, int]:
    """Return count(*) and count(distinct id) of the schema's photos, then drop the schema."""
    found = psql(f'select count(*), count(distinct id) from "{schema}".photos')
    psql(f'drop schema if exists "{schema}" cascade')
    total, distinct = (int(n) for n in found.split("|"))
    if (total, distinct) != (RECORDS, RECORDS):
        raise RuntimeError(f"{schema}: {total} rows, {distinct} ids, not {RECORDS}")
    return total, distinct


def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    """Run a command (a shell pipeline when a string list of one); return its wall seconds."""
    start = time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    if proc.returncode:
        raise RuntimeError(f"{cmd[:3]} failed: {proc.stderr.decode()[-2000:]}")
    return time.perf_counter() - start


def pipe(tmp: Path, origin: str, target: dict[str, t.Any], batch: bool) -> float:
    """Time ``tap-rest | target-postgres`` into a fresh schema; check its rows."""
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    tap = {"streams": photos(origin)}
    root = tmp / "batches"
    if batch:
        tap["batch_config"] = {
            "encoding": {"format": "jsonl", "compression": "none"},
            "storage": {"root": str(root)},
            "batch_size": 50_000,
        }
    (tmp / "tap.json").write_text(json.dumps(tap))
    (tmp / "target.json").write_text(
        json.dumps({**PG, "database": "test", "default_target_schema": schema, **target})
    )
    line = (
        f"{PYTHON} -m tap_rest --config {tmp / 'tap.json'} 2>/dev/null | "
        f"{TARGET} --config {tmp / 'target.json'}"
    )
    wall = timed(["bash", "-o", "pipefail", "-c", line])
    rows(schema)
    shutil.rmtree(root, ignore_errors=True)
    return wall


def meltano(tmp: Path, origin: str) -> float:
    """Time ``meltano run tap-rest target-postgres`` with the BATCH files; check its rows."""
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    root = tmp / "batches"
    env = {
        **os.environ,
        "TAP_REST_STREAMS": json.dumps(photos(origin)),
        "TAP_REST_BATCH_CONFIG": json.dumps(
            {
                "encoding": {"format": "jsonl", "compression": "none"},
                "storage": {"root": str(root)},
                "batch_size": 50_000,
            }
        ),
        "TARGET_POSTGRES_PASSWORD": "postgres",
        "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema,
    }
    cmd = [str(MELTANO), "run", f"--state-id-suffix={schema}", "tap-rest", "target-postgres"]
    wall = timed(cmd, env)
    rows(schema)
    shutil.rmtree(root, ignore_errors=True)
    return wall


def dlt(origin: str) -> float:
    """Time dlt rest_api into a fresh schema; check its rows."""
    schema = f"dlt_{uuid.uuid4().hex[:8]}"
    python = subprocess.run(
        ["bash", str(HERE / "dlt.sh")], capture_output=True, text=True, check=True
    ).stdout.strip()
    wall = timed([python, str(HERE / "dlt_postgres.py"), origin, schema])
    rows(schema)
    psql(f'drop schema if exists "{schema}_staging" cascade')  # dlt's merge staging
    return wall


def measure() -> dict[str, float]:
    """Return each way's median wall seconds, every way taking its turn in each round."""
    subprocess.run(["bash", "scripts/meltano.sh"], cwd=ROOT, check=True)
    walls: dict[str, list[float]] = {}
    with sandbox("--scale", "20") as origin, tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        pipe(tmp, origin, FAST, batch=False)  # fills the sandbox's cache
        ways: dict[str, t.Callable[[], float]] = {
            "pipe_tuned": lambda: pipe(tmp, origin, FAST, batch=False),
            "pipe_batch": lambda: pipe(tmp, origin, FAST, batch=True),
            "meltano_batch": lambda: meltano(tmp, origin),
            "dlt": lambda: dlt(origin),
        }
        for _ in range(REPEATS):
            for name, way in ways.items():
                walls.setdefault(name, []).append(way())
        if not QUICK:
            walls["pipe_default"] = [pipe(tmp, origin, {}, batch=False)]
    return {name: statistics.median(w) for name, w in walls.items()}


def postgres() -> dict[str, float]:
    """Measure every way, write the section; return the medians and BATCH's time over dlt's.

    The case of benchmarks/run.py.
    """
    medians = measure()
    write(section(medians))
    return {**medians, "ratio": medians["pipe_batch"] / medians["dlt"]}


LABELS = {
    "pipe_default": "`tap-rest \\| target-postgres`, target defaults (once)",
    "pipe_tuned": "`tap-rest \\| target-postgres`, `use_copy`, `validate_records: false`",
    "pipe_batch": "the same, and the tap's `batch_config` (BATCH files)",
    "meltano_batch": "`meltano run tap-rest target-postgres`, meltano.yml + `batch_config`",
    "dlt": "dlt rest_api 1.31.0, merge on id (the anchor)",
}


def section(medians: dict[str, float]) -> str:
    """Return the RESULTS.md section."""
    lines = [
        SECTION[0],
        "## Into PostgreSQL",
        "",
        f"Measured {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC by "
        f"`.venv/bin/python benchmarks/postgres.py` (median of {REPEATS}, the ways taking turns), "
        "on the machine above: 100,000 photos in pages of 100 from one sandbox into "
        "PostgreSQL 127.0.0.1, each into a fresh schema, rows checked (count and distinct ids); "
        "meltanolabs-target-postgres 0.8.1.",
        "",
        "| way | seconds | rows/s | vs dlt |",
        "|---|---|---|---|",
    ]
    for name, label in LABELS.items():
        if name in medians:
            wall = medians[name]
            lines.append(
                f"| {label} | {wall:.1f} | {RECORDS / wall:,.0f} | {medians['dlt'] / wall:.2f}x |"
            )
    lines += ["", SECTION[1]]
    return "\n".join(lines)


def write(text: str) -> None:
    """Put the section into RESULTS.md between its markers."""
    results = HERE / "RESULTS.md"
    current = results.read_text() if results.exists() else "# Benchmark results\n"
    if SECTION[0] in current:
        before, rest = current.split(SECTION[0], 1)
        current = before + text + rest.split(SECTION[1], 1)[1]
    else:
        current = current.rstrip("\n") + "\n\n" + text + "\n"
    results.write_text(current)


def main() -> int:
    """Measure, print and (unless quick) record the section."""
    text = section(measure())
    print(text)
    if not QUICK:
        write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
