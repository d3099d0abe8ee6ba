"""Under a server's rate limit, over real HTTP: the tap learns a rate below it and waits as told.

The sandbox counts the requests that arrive inside a wait window after the window's first
limited answer went out (``early_after_answer``): only requests already in flight when that
answer came back may arrive inside it. Counts only: no timing is asserted.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request

from tap_rest.sandbox import Sandbox
from tap_rest.sandbox.faults import FaultSpec
from tests.conftest import TapRun, run_tap
from tests.test_catalog import discover, select

#: how long after a limited answer went out a request may arrive as one sent before it was
#: read: the tap's threads wait for the CPU on a loaded 2-core machine (the benchmark: 20 ms)
SLACK = 0.1
#: what the limiter logs each time it sets a rate
LEARNED = re.compile(r"Rate limit met: sending ([\d.]+) requests/s")


def _posts_and_comments(tmp_path, sb: Sandbox, **settings: object) -> TapRun:
    config = {"jsonplaceholder_url": sb.url, "pokeapi_url": sb.pokeapi_url, **settings}
    return run_tap(
        tmp_path, config, catalog=select(discover(tmp_path, config), {"posts", "post_comments"})
    )


def _delivered_once(run: TapRun) -> None:
    assert run.returncode == 0, run.stderr[-3000:]
    assert len(run.records["posts"]) == 100
    assert len(run.records["post_comments"]) == 500
    assert len({c["id"] for c in run.records["post_comments"]}) == 500
    assert len({p["id"] for p in run.records["posts"]}) == 100


def test_headers_make_the_tap_stay_under_the_limit_without_a_request_inside_a_wait(
    tmp_path,
) -> None:
    # 20 requests in any second, RateLimit-Limit/Remaining/Reset on every answer, the tap at
    # its default concurrency (10 threads)
    with Sandbox(faults=FaultSpec(rate_limit=20, answer_slack=SLACK)) as sb:
        run = _posts_and_comments(tmp_path, sb)
        faults = sb.server.faults
    _delivered_once(run)
    rates = [float(r) for r in LEARNED.findall(run.stderr)]
    assert rates, "the run must have met the limit (its Remaining spent) and learned a rate"
    assert all(rate < 20 for rate in rates), rates
    assert faults.early_after_answer == 0, faults.early_after
    # The Remaining budget stops the first burst before the server has to refuse most of it:
    # at most the requests in flight then (the old limiter met a 429 every burst).
    assert faults.injected["429"] <= 10


def test_retry_after_alone_teaches_a_rate_and_nothing_goes_inside_a_wait(tmp_path) -> None:
    # No RateLimit headers: only the 429s and their Retry-After (seconds, a date in turn)
    spec = FaultSpec(rate_limit=20, rate_limit_headers=False, answer_slack=SLACK)
    with Sandbox(faults=spec) as sb:
        run = _posts_and_comments(tmp_path, sb)
        faults = sb.server.faults
    _delivered_once(run)
    assert faults.injected["429"] > 0, "the run must have met the limit"
    assert LEARNED.search(run.stderr), "a rate is learned from the first 429"
    assert faults.early_after_answer == 0, faults.early_after
    # The first burst's requests in flight (10 threads), then a few as the rate probes upward
    assert faults.injected["429"] <= 20, faults.injected


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_the_sandbox_counts_a_request_inside_a_wait_after_its_answer_at_stats() -> None:
    with Sandbox(faults=FaultSpec(rate_limit=2, retry_after_format="seconds")) as sb:
        statuses = [_get(f"{sb.url}/posts/1") for _ in range(3)]
        assert statuses == [200, 200, 429]
        time.sleep(0.1)  # the 429 came back long ago; its Retry-After (>= 1 s) is not over
        assert _get(f"{sb.url}/posts/1") == 429
        with urllib.request.urlopen(f"{sb.url}/__stats") as answer:
            stats = json.load(answer)
    assert stats == {
        "requests": 4,
        "most_in_flight": 1,
        "injected": {"429": 2},
        "early_requests": 1,
        "early_after_answer": 1,
    }
