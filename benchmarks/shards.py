"""Shards benchmark: a fan-out read by 1 shard, then by 4 shards in parallel processes.

    .venv/bin/python benchmarks/shards.py            # about ten minutes; RESULTS.md, Shards
    .venv/bin/python benchmarks/shards.py --quick    # a tenth of the data, once; writes nothing

5,000 posts and their 25,000 comments (5,050 requests: 50 pages of posts, a request for the
comments of each post), each answer 50 ms late, ``max_concurrency`` 10 per process:

- no rate limit: 1 shard against 4;
- a per-IP rate limit of 200 requests a second, which the 4 shards share (they all come from
  one address): 1 shard against 4, left to themselves, then each limited to a quarter of it;
- a limit per API key (one sandbox, with its own limit, per key): 1 shard with one key against 4
  shards with a key each.

Each is run ``REPEATS`` times; the medians are reported, with the 429s the sandbox answered.
Nothing here asserts a time: the records are checked, the times only reported.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import typing as t
from contextlib import ExitStack
from pathlib import Path

from common import sandbox as started  # benchmarks/common.py

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = sys.executable
QUICK = "--quick" in sys.argv[1:]
REPEATS = 1 if QUICK else 3
SCALE = 5 if QUICK else 50
RECORDS = 600 * SCALE  # 100 posts and 500 comments a scale: 30,000 at --scale 50
RATE = 200
SECTION = ("<!-- shards:start -->", "<!-- shards:end -->")


def sandbox(*flags: str) -> t.ContextManager[str]:
    """Start a sandbox of this benchmark's scale; yield its origin."""
    return started("--scale", str(SCALE), *flags)


def catalog(tmp: Path, origin: str) -> Path:
    """Write a catalog selecting posts and their comments; return its path."""
    config = tmp / "discover.json"
    config.write_text(json.dumps({"jsonplaceholder_url": origin, "pokeapi_url": origin}))
    found = json.loads(
        subprocess.run(
            [PYTHON, "-m", "tap_rest", "--config", str(config), "--discover"],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout
    )
    for entry in found["streams"]:
        for md in entry["metadata"]:
            if not md["breadcrumb"]:
                md["metadata"]["selected"] = entry["tap_stream_id"] in {"posts", "post_comments"}
    path = tmp / "catalog.json"
    path.write_text(json.dumps(found))
    return path


def run_shards(
    tmp: Path, origins: list[str], count: int, catalog_path: Path, rps: float | None = None
) -> dict:
    """Run ``count`` shards at once, shard i against origins[i % len]; time them together."""
    procs, counts, retries = [], [0] * count, [0] * count

    def drain(index: int, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        counts[index] = sum(1 for line in proc.stdout if line.startswith('{"type":"RECORD"'))

    def errors(index: int, proc: subprocess.Popen) -> None:
        assert proc.stderr is not None
        text = proc.stderr.read()
        retries[index] = sum(
            int(n) for n in re.findall(r"records, \d+ requests, (\d+) retries", text)
        )

    threads = []
    start = time.perf_counter()
    for index in range(count):
        origin = origins[index % len(origins)]
        config = {
            "jsonplaceholder_url": origin,
            "pokeapi_url": f"{origin}/api/v2",
            "page_size": 100,
            "max_concurrency": 10,
            "backoff_factor": 0.2,
            **({"requests_per_second": rps} if rps else {}),
            **({"shard": {"index": index, "count": count}} if count > 1 else {}),
        }
        path = tmp / f"shard-{index}-of-{count}.json"
        path.write_text(json.dumps(config))
        proc = subprocess.Popen(
            [PYTHON, "-m", "tap_rest", "--config", str(path), "--catalog", str(catalog_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        procs.append(proc)
        for target in (drain, errors):
            threads.append(threading.Thread(target=target, args=(index, proc), daemon=True))
            threads[-1].start()
    codes = [proc.wait() for proc in procs]
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    if any(codes) or sum(counts) != RECORDS:
        raise RuntimeError(f"shards exited {codes} with {sum(counts)} records of {RECORDS}")
    return {"wall": wall, "retries": sum(retries)}


def scenario(
    tmp: Path, count: int, *, rate: int | None, keys: int, rps: float | None = None
) -> dict:
    """Run one scenario REPEATS times against ``keys`` sandboxes; return the medians.

    ``rps`` is each shard's own client-side limit (``requests_per_second``).
    """
    flags = ["--latency-ms", "50", *(["--rate-limit", str(rate)] if rate else [])]
    walls, retries = [], []
    with ExitStack() as stack:
        origins = [stack.enter_context(sandbox(*flags)) for _ in range(keys)]
        catalog_path = catalog(tmp, origins[0])
        for _ in range(REPEATS):
            time.sleep(1.5)  # a fresh rate-limit second for each repeat
            result = run_shards(tmp, origins, count, catalog_path, rps)
            walls.append(result["wall"])
            retries.append(result["retries"])
    wall = statistics.median(walls)
    return {"wall": wall, "rate": RECORDS / wall, "retries": statistics.median(retries)}


def main() -> int:
    """Run the three scenarios, print the table and write it into RESULTS.md."""
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        limited = scenario(tmp, 1, rate=RATE, keys=1)
        rows = [
            ("none", scenario(tmp, 1, rate=None, keys=1), scenario(tmp, 4, rate=None, keys=1)),
            (f"{RATE} req/s per IP, shared", limited, scenario(tmp, 4, rate=RATE, keys=1)),
            (
                f"{RATE} req/s per IP, shared; each shard `requests_per_second` {RATE // 4}",
                limited,
                scenario(tmp, 4, rate=RATE, keys=1, rps=RATE / 4),
            ),
            (
                f"{RATE} req/s per API key, a key a shard",
                limited,
                scenario(tmp, 4, rate=RATE, keys=4),
            ),
        ]
    lines = [
        SECTION[0],
        "## Shards",
        "",
        f"Measured {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC by "
        f"`.venv/bin/python benchmarks/shards.py` (median of {REPEATS}), on the machine above: "
        f"{100 * SCALE:,} posts and their {500 * SCALE:,} comments ({101 * SCALE:,} requests) at "
        "50 ms a request, `max_concurrency` 10 per process; 4 shards are 4 processes at once, "
        "each reading the posts and writing the comments of its own quarter of them.",
        "",
        "| API limit | 1 shard | 4 shards | speed-up | 429s retried (1 / 4) |",
        "|---|---|---|---|---|",
    ]
    for name, one, four in rows:
        lines.append(
            f"| {name} | {one['wall']:.1f} s, {one['rate']:,.0f} rec/s "
            f"| {four['wall']:.1f} s, {four['rate']:,.0f} rec/s "
            f"| {one['wall'] / four['wall']:.2f}x | {one['retries']:.0f} / {four['retries']:.0f} |"
        )
    lines += [
        "",
        "A rate limit per IP address is shared by every shard that comes from that address: "
        "4 shards on one machine (or behind one NAT) get no more requests a second than one, "
        "and left to themselves they are slower than one: each spends the common budget, meets "
        "429s and waits out the Retry-After. Splitting the budget among them "
        "(`requests_per_second` of the limit over n in each shard) removes the 429s, not the "
        "ceiling. Shards pay off against a limit when each has its own budget: its own API key "
        "(an `auth` per shard) or its own address.",
        SECTION[1],
    ]
    section = "\n".join(lines)
    print(section)
    if QUICK:
        return 0
    results = HERE / "RESULTS.md"
    text = results.read_text() if results.exists() else "# Benchmark results\n"
    if SECTION[0] in text:
        before, rest = text.split(SECTION[0], 1)
        text = before + section + rest.split(SECTION[1], 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    results.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
