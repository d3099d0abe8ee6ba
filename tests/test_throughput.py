"""What makes a run fast changes nothing it writes: whole pages, the gate, children asked early."""

from __future__ import annotations

import json
import re
import threading
import time
import typing as t
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import pytest
from requests.structures import CaseInsensitiveDict

from tap_rest.concurrency import WINDOW, CpuShare, Gate, GateClosedError
from tap_rest.prefetch import ListPages, PagesAhead, Prefetcher, started
from tap_rest.quota import parse_quota
from tap_rest.sandbox import Sandbox
from tap_rest.sandbox.faults import FaultSpec
from tap_rest.writer import GuardedWriter
from tests.conftest import run_tap


class _Clocks:
    """A wall clock and a CPU clock the test moves by hand."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def spend(self, wall: float, busy: float) -> None:
        self.wall += wall
        self.cpu += wall * busy


def _gate(most: int) -> tuple[Gate, _Clocks]:
    clocks = _Clocks()
    return Gate(most, clock=lambda: clocks.wall, cpu=lambda: clocks.cpu), clocks


def test_the_gate_halves_while_the_run_is_busy_and_doubles_while_it_waits() -> None:
    gate, clocks = _gate(10)
    limits = []
    for busy in (1.0, 1.0, 0.95, 1.0, 1.0, 0.7, 0.1, 0.1, 0.2, 0.1, 0.1):
        clocks.spend(WINDOW * 1.01, busy)
        gate.pace()
        limits.append(gate.limit)
    # Busy: 10 -> 5 -> 2 -> 1 -> 0 (the writer fetches for itself), and no lower; in between
    # it holds; waiting: 1 -> 2 -> 4 -> 8 -> 10, and no higher.
    assert limits == [5, 2, 1, 0, 0, 0, 1, 2, 4, 8, 10]


def test_the_gate_judges_only_a_whole_window() -> None:
    gate, clocks = _gate(10)
    clocks.spend(WINDOW / 2, 1.0)
    gate.pace()
    assert gate.limit == 10
    clocks.spend(WINDOW * 0.51, 1.0)
    gate.pace()
    assert gate.limit == 5


def _most_at_once(gate: Gate, fetches: int) -> int:
    """Run fetches through the gate from many threads; return the most that ran at once."""
    lock = threading.Lock()
    running = most = 0

    def fetch() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.1)
        with lock:
            running -= 1

    with ThreadPoolExecutor(8) as pool:
        for future in [pool.submit(gate.run, gate.ticket(), fetch) for _ in range(fetches)]:
            future.result(timeout=30)
    return most


def test_the_gate_lets_through_its_limit_and_at_zero_one_fetch_at_a_time() -> None:
    gate, _ = _gate(8)
    assert _most_at_once(gate, 24) == 8
    gate.limit = 3
    assert _most_at_once(gate, 24) == 3
    gate.limit = 0  # what was queued still runs: the writer may be waiting for it
    assert gate.inline
    assert _most_at_once(gate, 6) == 1


def test_the_gate_lets_fetches_through_in_the_order_they_were_asked_for() -> None:
    # The writer waits for the oldest fetch first: a newer one must not overtake it, however
    # the worker threads happen to reach the gate.
    gate, _ = _gate(1)
    tickets = [gate.ticket() for _ in range(6)]
    order: list[int] = []
    with ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(gate.run, n, order.append, n) for n in reversed(tickets)]
        for future in futures:
            future.result(timeout=10)
    assert order == tickets


def test_a_closed_gate_turns_away_the_fetches_still_waiting() -> None:
    gate, _ = _gate(1)
    release = threading.Event()
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(gate.run, gate.ticket(), release.wait)
        second = pool.submit(gate.run, gate.ticket(), lambda: "fetched")
        time.sleep(0.1)
        gate.close()
        with pytest.raises(GateClosedError):
            second.result(timeout=10)
        release.set()
        assert first.result(timeout=10) is True


class _Stream:
    name = "s"

    def fetch_partition(self, context: t.Any) -> list[list[dict]]:
        return [[dict(context)]]


def test_an_inline_prefetcher_starts_nothing_ahead() -> None:
    prefetcher = Prefetcher(4)
    prefetcher.gate = Gate(4, clock=lambda: 0.0, cpu=lambda: 0.0)  # judged by the test alone
    try:
        prefetcher.gate.limit = 0
        prefetcher.submit(_Stream(), {"id": 1})
        assert prefetcher.take(_Stream(), {"id": 1}) is None
        prefetcher.gate.limit = 4
        prefetcher.submit(_Stream(), {"id": 2})
        future = prefetcher.take(_Stream(), {"id": 2})
        assert future is not None
        assert future.result(timeout=10) == [[{"id": 2}]]
    finally:
        prefetcher.shutdown()


def test_partitions_asked_for_inline_start_when_the_gate_opens_again() -> None:
    # A page of children asked for while the writer fetched for itself: once the server turns
    # slow and the gate opens, the rest of them go to the workers, not one by one to the end.
    prefetcher = Prefetcher(4)
    prefetcher.gate = Gate(4, clock=lambda: 0.0, cpu=lambda: 0.0)  # judged by the test alone
    try:
        prefetcher.gate.limit = 0
        for n in range(1, 5):
            prefetcher.submit(_Stream(), {"id": n})
        assert prefetcher.take(_Stream(), {"id": 1}) is None  # still inline: the writer's
        prefetcher.gate.limit = 2
        # The one the writer needs now it fetches itself; the ones after it start at once.
        futures = [prefetcher.take(_Stream(), {"id": n}) for n in range(2, 5)]
        assert [f.result(timeout=10) if f else None for f in futures] == [
            None,
            [[{"id": 3}]],
            [[{"id": 4}]],
        ]
        assert prefetcher.take(_Stream(), {"id": 1}) is None  # taken once, never fetched
    finally:
        prefetcher.shutdown()


def test_the_next_page_is_started_before_a_page_goes_out_but_never_waited_for() -> None:
    second_asked = threading.Event()
    events: list[str] = []

    def source() -> t.Iterator[int]:
        yield 1
        # Page 2 is fetched only once page 1 went out: started() must not wait for it.
        assert second_asked.wait(10), "page 1 was held back waiting for page 2"
        yield 2
        time.sleep(0.1)  # page 3 sits fetched in the queue by the time page 2 went out
        yield 3
        yield 4
        raise ValueError("page 5 failed")

    def start(page: int) -> int:
        events.append(f"start {page}")
        return page * 10

    got = []

    def write_all() -> None:
        for page, made in started(PagesAhead(source(), depth=2), start):
            events.append(f"out {page}")
            got.append((page, made))
            second_asked.set()
            time.sleep(0.6)  # page 3, then 4, are fetched while this page is written

    with pytest.raises(ValueError, match="page 5 failed"):
        write_all()
    assert got == [(1, 10), (2, 20), (3, 30), (4, 40)]
    # Page 4 (fetched) starts before page 3 goes out; page 4 goes out before the error.
    assert events.index("start 4") < events.index("out 3")
    assert events[-1] == "out 4"


def test_answers_without_rate_limit_headers_have_no_quota() -> None:
    assert parse_quota(CaseInsensitiveDict({"Content-Type": "application/json"})) is None
    quota = parse_quota(CaseInsensitiveDict({"ratelimit-remaining": "0", "ratelimit-reset": "3"}))
    assert quota is not None
    assert (quota.remaining, quota.reset) == (0, 3)


def _metric_records(stderr: str, stream: str) -> int:
    total = 0
    for line in stderr.splitlines():
        match = re.search(r"METRIC: (\{.*\})", line)
        if match:
            metric = json.loads(match.group(1))
            tags = metric.get("tags") or {}
            if metric.get("metric") == "record_count" and tags.get("stream") == stream:
                total += metric["value"]
    return total


def test_pages_written_whole_are_counted_in_the_record_metrics(tmp_path: Path, config) -> None:
    settings = {**config, "builtin_streams": ["posts", "post_comments"], "log_metrics": True}
    run = run_tap(tmp_path, settings)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.counts == {"posts": 100, "post_comments": 500}
    assert _metric_records(run.stderr, "post_comments") == 500
    assert _metric_records(run.stderr, "posts") == 100


def test_against_a_slow_server_the_fetches_run_at_the_most_allowed(tmp_path: Path) -> None:
    # 100 posts and their comments at 30 ms a request: the run waits on the server, and the
    # gate keeps every worker fetching (the sandbox counts the requests it answers at once).
    with Sandbox(faults=FaultSpec(latency_ms=30)) as sandbox:
        config = {
            "jsonplaceholder_url": sandbox.url,
            "builtin_streams": ["posts", "post_comments"],
            "max_concurrency": 6,
        }
        run = run_tap(tmp_path, config)
        most = sandbox.server.stats()["most_in_flight"]
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.counts == {"posts": 100, "post_comments": 500}
    # six workers for the comments, and the one fetching the pages of posts ahead
    assert most >= 6, most


def test_a_page_goes_out_before_the_next_page_fails_to_start() -> None:
    def source() -> t.Iterator[int]:
        yield 1
        yield 2

    def start(page: int) -> int:
        if page == 2:
            raise KeyError("a parent record without its id")
        return page

    ahead = PagesAhead(source(), depth=2)
    deadline = time.monotonic() + 10
    while ahead._queue.qsize() < 2 and time.monotonic() < deadline:  # both pages fetched
        time.sleep(0.01)
    out: list[int] = []

    def write_all() -> None:
        for page, _ in started(ahead, start):
            out.append(page)

    with pytest.raises(KeyError, match="without its id"):
        write_all()
    assert out == [1]


def test_a_record_that_cannot_be_encoded_leaves_no_half_line() -> None:
    writer = GuardedWriter()
    looped: dict = {}
    looped["self"] = looped
    with pytest.raises(RecursionError):
        writer.write_records("s", [{"id": 1}, looped], datetime.now(timezone.utc))
    lines = bytes(writer._pending).splitlines(keepends=True)
    assert [json.loads(line)["record"] for line in lines] == [{"id": 1}]
    assert lines[-1].endswith(b"\n")


def _pages_read(busy: float) -> tuple[list[int], bool]:
    """Read 8 pages, the run judged ``busy``; return them and whether a thread took over."""
    clocks = _Clocks()
    pages = ListPages(iter(range(8)), 2, share=CpuShare(lambda: clocks.wall, lambda: clocks.cpu))
    got = []
    for page in pages:
        got.append(page)
        clocks.spend(WINDOW * 1.01, busy)  # writing the page took a window
    return got, pages._ahead is not None


def test_a_list_is_read_inline_while_the_run_keeps_a_core_busy() -> None:
    assert _pages_read(busy=0.95) == (list(range(8)), False)


def test_a_list_is_fetched_ahead_once_the_run_waits_on_the_server() -> None:
    assert _pages_read(busy=0.1) == (list(range(8)), True)


def test_a_list_read_inline_is_closed_when_its_reader_stops() -> None:
    closed = threading.Event()

    def source() -> t.Iterator[int]:
        try:
            yield from range(8)
        finally:
            closed.set()

    pages = iter(ListPages(source(), 2, share=CpuShare(lambda: 0.0, lambda: 0.0)))
    assert next(pages) == 0
    pages.close()  # type: ignore[attr-defined]
    assert closed.is_set()
