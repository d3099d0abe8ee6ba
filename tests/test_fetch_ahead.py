"""Fetch-ahead of a list's pages, and the environment read once per host: nothing lost or added."""

from __future__ import annotations

import json
import re
import threading
import typing as t
from pathlib import Path

import pytest
import requests

from tap_rest.prefetch import PagesAhead
from tap_rest.sandbox import Sandbox
from tap_rest.sandbox.auth import AuthSpec
from tap_rest.scope import ScopedSession
from tests.conftest import run_tap
from tests.test_catalog import discover, select


def test_pages_come_in_order_and_an_error_in_its_page_place() -> None:
    def source() -> t.Iterator[int]:
        yield from range(5)
        raise ValueError("page 6 failed")

    pages = iter(PagesAhead(source(), depth=2))
    assert [next(pages) for _ in range(5)] == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="page 6 failed"):
        next(pages)


def test_a_reader_that_stops_stops_the_worker_within_its_depth() -> None:
    produced: list[int] = []
    closed = threading.Event()

    def source() -> t.Iterator[int]:
        try:
            n = 0
            while True:
                produced.append(n)
                yield n
                n += 1
        finally:
            closed.set()

    pages = iter(PagesAhead(source(), depth=2))
    assert next(pages) == 0
    pages.close()  # type: ignore[attr-defined]
    assert closed.wait(10), "the worker did not stop"
    # The page read, two queued, and the one the worker held when it saw the reader stop.
    assert len(produced) <= 4


def test_a_list_fetched_ahead_asks_each_page_once_and_states_only_written_pages(
    tmp_path: Path,
) -> None:
    with Sandbox() as sandbox:
        config = {
            "jsonplaceholder_url": sandbox.url,
            "pokeapi_url": sandbox.pokeapi_url,
            "page_size": 10,
            "max_concurrency": 4,
        }
        catalog = select(discover(tmp_path, config), {"posts"})
        run = run_tap(tmp_path, config, catalog=catalog)
        assert run.returncode == 0, run.stderr[-2000:]
        asked = [p for p in sandbox.server.requests if p.startswith("/posts")]
        counts = {p: n for p, n in sandbox.server.requests.items() if p.startswith("/posts")}
    # 100 posts in 10 pages: 10 requests, none past the end (the last page has no next link).
    assert len(asked) == 10, sorted(asked)
    assert set(counts.values()) == {1}
    assert [r["id"] for r in run.records["posts"]] == list(range(1, 101))
    written = 0
    nexts = []
    for message in run.messages:
        if message["type"] == "RECORD":
            written += 1
        elif message["type"] == "STATE":
            current = (message["value"].get("tap_rest_run") or {}).get("current")
            if current and current.get("stream") == "posts":
                # json-server's next link, kept relative to the base URL: /posts?_page=N&...
                page = int(re.findall(r"_page=(\d+)", json.dumps(current["next"]))[0])
                # A STATE names the next page only once every record before it is written.
                assert written == (page - 1) * 10, (page, written)
                nexts.append(page)
    assert nexts == list(range(2, 11))


def _prepared(session: requests.Session, url: str) -> requests.PreparedRequest:
    return session.prepare_request(requests.Request("GET", url))


def test_the_environment_proxy_still_applies(monkeypatch: pytest.MonkeyPatch) -> None:
    with Sandbox() as sandbox:
        url = f"{sandbox.url}/posts/1"
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens on port 9
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        session = ScopedSession()
        for _ in range(2):  # the second request uses what the first one looked up
            with pytest.raises(requests.exceptions.ProxyError):
                session.send(_prepared(session, url), timeout=5)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        session = ScopedSession()
        for _ in range(2):
            assert session.send(_prepared(session, url), timeout=5).status_code == 200


def test_a_netrc_entry_still_applies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = AuthSpec(mode="basic")
    with Sandbox(auth=spec) as sandbox:
        url = f"{sandbox.url}/posts/1"
        netrc = tmp_path / "netrc"
        host = re.sub(r"^http://|:\d+$", "", sandbox.url)
        netrc.write_text(f"machine {host} login {spec.username} password {spec.password}\n")
        netrc.chmod(0o600)
        monkeypatch.setenv("NETRC", str(netrc))
        session = ScopedSession()
        for _ in range(2):
            assert session.send(_prepared(session, url), timeout=5).status_code == 200
        monkeypatch.setenv("NETRC", str(tmp_path / "none"))
        session = ScopedSession()
        for _ in range(2):
            assert session.send(_prepared(session, url), timeout=5).status_code == 401
