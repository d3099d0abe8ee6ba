"""Resilience against the sandbox's faults: retries, Retry-After, rate limits, clear failures,
skips, and interruption with resume."""

from __future__ import annotations

import json
import signal
import threading
from collections import Counter

import pytest
import requests

from tap_rest.sandbox import Sandbox
from tap_rest.sandbox.auth import AuthSpec
from tap_rest.sandbox.faults import FaultSpec
from tests.conftest import DEFAULT_COUNTS, TapRun, interrupt, run_tap
from tests.test_catalog import discover, select

FAST_RETRIES = {"max_tries": 15, "backoff_factor": 0.01, "max_wait": 0.1}


def normalised(run: TapRun, origin: str) -> Counter[tuple[str, str]]:
    """The multiset of (stream, record) with the sandbox's origin taken out of URLs."""
    return Counter(
        (m["stream"], json.dumps(m["record"], sort_keys=True).replace(origin, "ORIGIN"))
        for m in run.of_type("RECORD")
    )


def test_fault_matrix_emits_exactly_the_records_of_a_clean_run(tmp_path, full_run, sandbox) -> None:
    spec = FaultSpec(seed=11, fail_rate=0.3, reset_rate=0.05, truncate_rate=0.05)
    with Sandbox(faults=spec) as sb:
        config = {"jsonplaceholder_url": sb.url, "pokeapi_url": sb.pokeapi_url, **FAST_RETRIES}
        run = run_tap(tmp_path, config)
        injected = sb.server.faults.injected
        faulty = normalised(run, sb.url)
    assert run.returncode == 0, run.stderr[-3000:]
    assert dict(run.counts) == DEFAULT_COUNTS
    assert faulty == normalised(full_run, sandbox.url)
    for kind in ("500", "502", "503", "504", "reset", "truncate"):
        assert injected[kind] > 0, f"no {kind} was injected"
    assert "JSON body cut short" in run.stderr
    assert "retries" in run.stderr


def _posts_and_comments(tmp_path, sb: Sandbox, **settings: object) -> TapRun:
    config = {"jsonplaceholder_url": sb.url, "pokeapi_url": sb.pokeapi_url, **settings}
    return run_tap(
        tmp_path, config, catalog=select(discover(tmp_path, config), {"posts", "post_comments"})
    )


@pytest.mark.parametrize("retry_after_format", ["seconds", "date"])
def test_retry_after_is_honoured_to_the_second(tmp_path, retry_after_format) -> None:
    spec = FaultSpec(rate_limit=20, retry_after_format=retry_after_format, rate_limit_headers=False)
    with Sandbox(faults=spec) as sb:
        run = _posts_and_comments(tmp_path, sb, max_concurrency=1)
        faults = sb.server.faults
    assert run.returncode == 0, run.stderr[-3000:]
    assert dict(run.counts) == {"posts": 100, "post_comments": 500}
    assert faults.injected["429"] > 0, "the run must have met the limit"
    assert faults.early_requests == 0, "a request went before its Retry-After had passed"


def test_retry_after_holds_back_every_thread(tmp_path) -> None:
    spec = FaultSpec(rate_limit=20, rate_limit_headers=False)
    with Sandbox(faults=spec) as sb:
        run = _posts_and_comments(tmp_path, sb, max_concurrency=10)
        faults = sb.server.faults
    assert run.returncode == 0, run.stderr[-3000:]
    assert dict(run.counts) == {"posts": 100, "post_comments": 500}
    assert faults.injected["429"] > 0
    # Only requests already in flight when a 429 came back may arrive before its Retry-After.
    assert faults.early_requests <= 9 * faults.injected["429"]


def test_a_client_rate_limit_below_the_servers_meets_no_429(tmp_path) -> None:
    with Sandbox(faults=FaultSpec(rate_limit=20, rate_limit_headers=False)) as sb:
        run = _posts_and_comments(tmp_path, sb, requests_per_second=10)
        faults = sb.server.faults
    assert run.returncode == 0, run.stderr[-3000:]
    assert dict(run.counts) == {"posts": 100, "post_comments": 500}
    assert faults.injected["429"] == 0


def test_ratelimit_headers_make_the_tap_wait_for_the_reset(tmp_path) -> None:
    # One request at a time: with several in flight, those sent before the answer that said
    # "none left" came back may still meet a 429 (and are retried after its Retry-After).
    with Sandbox(faults=FaultSpec(rate_limit=20)) as sb:
        run = _posts_and_comments(tmp_path, sb, max_concurrency=1)
        faults = sb.server.faults
    assert run.returncode == 0, run.stderr[-3000:]
    assert dict(run.counts) == {"posts": 100, "post_comments": 500}
    assert faults.injected["429"] == 0, "RateLimit-Remaining: 0 must hold requests until the reset"
    assert "rate limit exhausted; waiting" in run.stderr


def _users_from(tmp_path, base: str) -> TapRun:
    config = {
        "jsonplaceholder_url": base,
        "pokeapi_url": base,
        "max_tries": 5,
        "backoff_factor": 0.01,
    }
    return run_tap(tmp_path, config, catalog=select(discover(tmp_path, config), {"users"}))


@pytest.mark.parametrize("status", [400, 403, 404, 405, 410, 422])
def test_4xx_fails_after_one_request_naming_stream_url_status_and_body(
    tmp_path, sandbox, status
) -> None:
    sandbox.server.requests.clear()
    run = _users_from(tmp_path, f"{sandbox.url}/status/{status}")
    assert run.returncode != 0
    assert sum(sandbox.server.requests.values()) == 1
    url = f"{sandbox.url}/status/{status}/users?_page=1&_limit=100"
    assert f"Stream 'users': GET {url} returned {status}" in run.stderr
    assert f"status {status} on purpose" in run.stderr
    assert "; retry" not in run.stderr
    assert "Traceback" not in run.stderr


def test_401_fails_after_one_request(tmp_path) -> None:
    with Sandbox(auth=AuthSpec(mode="bearer")) as sb:
        run = _users_from(tmp_path, sb.url)
        sent = sum(sb.server.requests.values())
    assert run.returncode != 0
    assert sent == 1
    assert "returned 401 Unauthorized" in run.stderr


def test_an_html_page_with_200_fails_after_one_request(tmp_path, sandbox) -> None:
    sandbox.server.requests.clear()
    run = _users_from(tmp_path, f"{sandbox.url}/html")
    assert run.returncode != 0
    assert sum(sandbox.server.requests.values()) == 1
    assert (
        f"Stream 'users': GET {sandbox.url}/html/users?_page=1&_limit=100 returned 200 with a body "
        "that is not JSON (Content-Type: text/html; charset=utf-8)"
    ) in run.stderr


@pytest.mark.parametrize("status", [408, 429, 500, 503])
def test_retriable_statuses_are_retried_up_to_max_tries(tmp_path, sandbox, status) -> None:
    sandbox.server.requests.clear()
    run = _users_from(tmp_path, f"{sandbox.url}/status/{status}")
    assert run.returncode != 0
    assert sum(sandbox.server.requests.values()) == 5
    assert "giving up after 5 tries" in run.stderr


def test_skip_statuses_skip_logs_and_counts(tmp_path, config, sandbox) -> None:
    settings = {**config, "post_ids": [1, 999, 2], "skip_statuses": {"posts": [404]}}
    catalog = select(discover(tmp_path, config), {"posts", "post_comments"})
    run = run_tap(tmp_path, settings, catalog=catalog)
    assert run.returncode == 0, run.stderr[-2000:]
    assert [p["id"] for p in run.records["posts"]] == [1, 2]
    assert len(run.records["post_comments"]) == 10
    assert f"GET {sandbox.url}/posts/999 returned 404 Not Found" in run.stderr
    assert "skipped, as skip_statuses asks" in run.stderr
    assert "posts: 2 records, 3 requests, 0 retries, 1 skipped errors" in run.stderr


def test_skip_statuses_for_an_unknown_stream_is_a_config_error(tmp_path, config) -> None:
    run = run_tap(tmp_path, {**config, "skip_statuses": {"comments": [404]}})
    assert run.returncode != 0
    assert "skip_statuses: unknown stream(s) 'comments'" in run.stderr


def test_the_summary_has_a_line_per_stream(full_run) -> None:
    for stream, count in DEFAULT_COUNTS.items():
        assert f"Summary: {stream}: {count} records," in full_run.stderr


def _kill_mid_run(tmp_path, config: dict, records: int, sig: int) -> tuple[int, list[dict], str]:
    """Run the tap, reading its output as a target would, and signal it after some lines."""
    ended = interrupt(config, tmp_path, after_lines=records, sig=sig)
    return ended["code"], ended["messages"], ended["stderr"]


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_an_interrupted_run_resumed_from_its_state_loses_nothing(
    tmp_path, full_run, sig, code
) -> None:
    with Sandbox(faults=FaultSpec(latency_ms=3)) as sb:
        config = {"jsonplaceholder_url": sb.url, "pokeapi_url": sb.pokeapi_url, "page_size": 20}
        returncode, messages, err = _kill_mid_run(tmp_path, config, 3000, sig)
        assert returncode == code, err[-2000:]
        assert f"Interrupted by {signal.Signals(sig).name}" in err
        assert messages[-1]["type"] == "STATE"
        first = TapRun(returncode, err, messages)
        assert 0 < sum(first.counts.values()) < sum(DEFAULT_COUNTS.values())
        state = tmp_path / "state.json"
        state.write_text(json.dumps(messages[-1]["value"]))
        second = run_tap(tmp_path, config, "--state", str(state))
        origin = sb.url
    assert second.returncode == 0, second.stderr[-2000:]
    together = normalised(first, origin) | normalised(second, origin)
    assert set(together) == set(normalised(full_run, full_run_origin(full_run)))
    assert sum(second.counts.values()) < sum(DEFAULT_COUNTS.values()), "the rerun resumes"
    assert "tap_rest_run" not in second.of_type("STATE")[-1]["value"]


def full_run_origin(run: TapRun) -> str:
    url = run.records["abilities"][0]["url"]
    return url.split("/api/v2/")[0]


def test_resume_skips_delivered_streams_and_starts_at_the_saved_page(
    tmp_path, config, sandbox
) -> None:
    state = {
        "tap_rest_run": {
            "completed": ["abilities", "albums"],
            "current": {
                "stream": "posts",
                "next": {"url": None, "params": [["_page", 3], ["_limit", 10]]},
            },
        }
    }
    (tmp_path / "state.json").write_text(json.dumps(state))
    sandbox.server.requests.clear()
    run = run_tap(tmp_path, {**config, "page_size": 10}, "--state", str(tmp_path / "state.json"))
    assert run.returncode == 0, run.stderr[-2000:]
    assert "abilities" not in run.counts
    assert "albums" not in run.counts
    assert [p["id"] for p in run.records["posts"]] == list(range(21, 101))
    assert {c["postId"] for c in run.records["post_comments"]} == set(range(21, 101))
    assert run.counts["todos"] == 200
    assert "/posts?_page=1&_limit=10" not in sandbox.server.requests


def test_the_summary_counts_what_was_written_even_when_a_run_fails(tmp_path) -> None:
    # One try per request: the first injected 5xx ends the run, with children fetched ahead.
    with Sandbox(faults=FaultSpec(seed=3, fail_rate=0.02)) as sb:
        config = {"jsonplaceholder_url": sb.url, "pokeapi_url": sb.pokeapi_url, "max_tries": 1}
        run = run_tap(tmp_path, config)
    assert run.returncode == 1, run.stderr[-2000:]
    assert 0 < sum(run.counts.values()) < sum(DEFAULT_COUNTS.values())
    for stream in DEFAULT_COUNTS:
        if f"Summary: {stream}:" in run.stderr:
            assert f"Summary: {stream}: {run.counts.get(stream, 0)} records," in run.stderr


def test_a_github_quota_403_is_a_wait_not_a_failure(tmp_path) -> None:
    # GitHub answers 403 "API rate limit exceeded" with X-RateLimit-Remaining: 0 and an epoch
    # X-RateLimit-Reset when the quota is spent. Another client has spent this window's quota
    # before the tap starts: its first request meets the 403 and waits for the reset.
    with Sandbox(faults=FaultSpec(quota=150, quota_window=10, answer_slack=0.1)) as sb:
        session = requests.Session()
        while session.get(f"{sb.url}/users/1").headers["X-RateLimit-Remaining"] != "0":
            pass
        run = _posts_and_comments(tmp_path, sb)
        faults = sb.server.faults
    assert run.returncode == 0, run.stderr[-3000:]
    assert dict(run.counts) == {"posts": 100, "post_comments": 500}
    assert len({c["id"] for c in run.records["post_comments"]}) == 500
    assert faults.injected["403"] > 0, "the tap must have met the spent quota"
    assert "API rate limit exceeded" in run.stderr
    # Nothing went after the 403 came back, until the reset.
    assert faults.early_after_answer == 0, faults.early_after


def test_a_github_quota_is_kept_by_its_remaining_count(tmp_path) -> None:
    # 40 requests per 2-second window: X-RateLimit-Remaining, less the requests in flight, stops
    # the tap's threads before the quota is spent; answers that come back out of order may
    # still let a few in flight meet a 403 (then retried after the reset).
    with Sandbox(faults=FaultSpec(quota=40, quota_window=2, answer_slack=0.1)) as sb:
        run = _posts_and_comments(tmp_path, sb)
        faults = sb.server.faults
    assert run.returncode == 0, run.stderr[-3000:]
    assert dict(run.counts) == {"posts": 100, "post_comments": 500}
    assert len({c["id"] for c in run.records["post_comments"]}) == 500
    assert "Rate limit met" in run.stderr, "the quota (101 requests, 40 a window) was reached"
    assert faults.injected["403"] <= 10, faults.injected
    assert faults.early_after_answer == 0, faults.early_after


def test_a_flaky_api_never_ends_a_run_with_default_settings(tmp_path, full_run, sandbox) -> None:
    # Seeds 1-5 of 30 % 5xx, 5 % dropped connections and 5 % bodies cut short, default retry
    # settings: each run must write exactly a clean run's records. Mostly waiting: in parallel.
    clean = normalised(full_run, sandbox.url)
    results: dict[int, tuple[TapRun, str]] = {}

    def one(seed: int) -> None:
        spec = FaultSpec(seed=seed, fail_rate=0.3, reset_rate=0.05, truncate_rate=0.05)
        with Sandbox(faults=spec) as sb:
            folder = tmp_path / f"seed{seed}"
            folder.mkdir()
            config = {"jsonplaceholder_url": sb.url, "pokeapi_url": sb.pokeapi_url}
            results[seed] = (run_tap(folder, config), sb.url)

    threads = [threading.Thread(target=one, args=(seed,)) for seed in range(1, 6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for seed, (run, origin) in sorted(results.items()):
        assert run.returncode == 0, f"seed {seed}: {run.stderr[-2000:]}"
        assert normalised(run, origin) == clean, f"seed {seed}: not the clean run's records"


def test_an_error_that_asks_to_wait_is_a_wait(tmp_path, sandbox) -> None:
    # A 403 with Retry-After only asks the client to slow down: waited for, then retried.
    sandbox.server.canned["slow"] = (
        403,
        [("Content-Type", "application/json"), ("Retry-After", "1")],
        b'{"message": "please slow down"}',
    )
    stream = {
        "name": "slow",
        "base_url": sandbox.url,
        "path": "/canned/slow",
        "primary_keys": ["id"],
        "schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
    }
    sandbox.server.requests.clear()
    run = run_tap(tmp_path, {"streams": [stream], "max_retry_time": 2.5})
    assert run.returncode == 1
    assert sandbox.server.requests["/canned/slow"] >= 2, "retried after the wait"
    assert "retry 1 in 1." in run.stderr
