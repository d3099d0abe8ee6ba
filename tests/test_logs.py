"""Runs that read like a good command-line tool: a few lines, progress on long work."""

from __future__ import annotations

import re

from tap_rest.sandbox import Sandbox
from tap_rest.sandbox.faults import FaultSpec
from tests.conftest import DEFAULT_COUNTS, TapRun, run_tap


def test_a_default_sandbox_sync_writes_a_few_lines(full_run: TapRun) -> None:
    lines = full_run.stderr.splitlines()
    assert len(lines) <= 100, f"{len(lines)} lines"
    assert not any("METRIC" in line for line in lines)
    assert not any("with context keys" in line for line in lines), "a line per parent"
    for stream in DEFAULT_COUNTS:
        assert any(f"Summary: {stream}:" in line for line in lines)


def test_metrics_and_partition_lines_when_asked(tmp_path, config) -> None:
    run = run_tap(tmp_path, {**config, "builtin_streams": ["post_comments"], "log_metrics": True})
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stderr.count("METRIC") >= 101


def test_a_long_run_prints_progress_lines(tmp_path) -> None:
    # 100 posts and their comments at 40 ms a request, one at a time: about 4 s.
    with Sandbox(faults=FaultSpec(latency_ms=40)) as sb:
        config = {
            "jsonplaceholder_url": sb.url,
            "builtin_streams": ["posts", "post_comments"],
            "max_concurrency": 1,
            "progress_interval": 1,
        }
        run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr[-2000:]
    progress = [line for line in run.stderr.splitlines() if "Progress: " in line]
    assert len(progress) >= 2, run.stderr[-2000:]
    last = progress[-1]
    assert re.search(r"Progress: posts [\d,]+ records, post_comments [\d,]+ records, ", last)
    assert re.search(r"[\d,]+ requests, \d+ retries, [\d,]+ records/s$", last)
