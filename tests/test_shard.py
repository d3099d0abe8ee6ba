"""Shards: n runs of one config emit together exactly the records of one run, each record once,
each shard reading only its own part and resuming from its own STATE."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest
import requests

from tap_rest.config import BUILTIN_STREAMS
from tap_rest.sandbox import Sandbox
from tap_rest.sandbox.faults import FaultSpec
from tap_rest.shard import owner
from tests.conftest import DEFAULT_COUNTS, TapRun, run_tap
from tests.test_catalog import discover, select

SHOP_STREAMS = [
    {
        "name": "customers",
        "api": "shop",
        "path": "/customers",
        "records_path": "$.data[*]",
        "primary_keys": ["id"],
        "paginator": {"type": "offset", "page_size": 20, "total_path": "$.total"},
        "replication_key": "updated_at",
        "bookmark_param": "updated_since",
    },
    {
        "name": "orders",
        "api": "shop",
        "path": "/customers/{customer_id}/orders",
        "records_path": "$.data[*]",
        "primary_keys": ["id"],
        "parent": {"stream": "customers", "fields": {"customer_id": "id"}},
        "paginator": {"type": "offset", "page_size": 20, "total_path": "$.total"},
        "replication_key": "updated_at",
        "bookmark_param": "updated_since",
    },
]

#: flat lists in every paging style: by offset and by page number (split by page, capped
#: servers included), by cursor and Link header (read whole by one shard)
ITEMS = {
    "items_offset": ("offset", "$.items[*]", {"total_path": "$.total"}, {"total": 237}),
    "items_offset_capped": (
        "offset-nototal",
        "$.items[*]",
        {"stop_on_short_page": False},
        {"total": 233, "max_limit": 7},
    ),
    "items_page": ("page", "$.data[*]", {"total_pages_path": "$.total_pages"}, {"total": 151}),
    "items_page_capped": ("page-nototal", "$.data[*]", {}, {"total": 149, "max_limit": 6}),
    "items_cursor": (
        "cursor",
        "$.data[*]",
        {"cursor_path": "$.next_cursor", "cursor_param": "cursor", "limit_param": "limit"},
        {"total": 55},
    ),
    "items_link": ("link", "$[*]", {}, {"total": 43, "per_page": 10}),
}
_TYPES = {"offset": "offset", "offset-nototal": "offset", "page": "page", "page-nototal": "page"}
_TYPES |= {"cursor": "cursor", "link": "link_header"}
SPLIT_BY_PAGE = {"items_offset", "items_offset_capped", "items_page", "items_page_capped"}


def item_streams(base_url: str, **sizes: int) -> list[dict]:
    """Declared flat lists over the sandbox's generic collections (``sizes`` resize them)."""
    streams = []
    for name, (style, records_path, options, params) in ITEMS.items():
        paginator = {"type": _TYPES[style], **options}
        if _TYPES[style] in ("offset", "page", "cursor"):
            paginator["page_size"] = 10
        streams.append(
            {
                "name": name,
                "base_url": base_url,
                "path": f"/generic/{style}",
                "records_path": records_path,
                "primary_keys": ["id"],
                "paginator": paginator,
                "params": {**params, **({"total": sizes[name]} if name in sizes else {})},
                # completeness: the list against the total it reports (not a shard's part)
                **({"total_path": "$.total"} if name == "items_offset" else {}),
            }
        )
    return streams


def shard_config(sb: Sandbox, **sizes: int) -> dict:
    """Every built-in stream, a declared parent-child pair and flat lists in every style."""
    return {
        "jsonplaceholder_url": sb.url,
        "pokeapi_url": sb.pokeapi_url,
        "builtin_streams": BUILTIN_STREAMS,
        "apis": {"shop": {"base_url": f"{sb.url}/shop"}},
        "streams": [*SHOP_STREAMS, *item_streams(sb.url, **sizes)],
    }


def select_all(tmp_path: Path, config: dict) -> dict:
    catalog = discover(tmp_path, config)
    return select(catalog, {e["tap_stream_id"] for e in catalog["streams"]})


def records(run: TapRun) -> Counter[tuple[str, str]]:
    """The multiset of (stream, record) a run emitted."""
    return Counter(
        (m["stream"], json.dumps(m["record"], sort_keys=True)) for m in run.of_type("RECORD")
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A sandbox, the config, its catalog and one unsharded run to compare shards against."""
    tmp = tmp_path_factory.mktemp("shard")
    with Sandbox() as sb:
        config = shard_config(sb)
        catalog = select_all(tmp, config)
        whole = run_tap(tmp, config, catalog=catalog)
        assert whole.returncode == 0, whole.stderr[-3000:]
        yield {"sb": sb, "config": config, "catalog": catalog, "whole": whole}


def test_the_unsharded_run_reads_every_record(world) -> None:
    assert "items_offset: 237 records" in world["whole"].stderr
    assert "237 of 237 reported" in world["whole"].stderr
    counts = world["whole"].counts
    assert {s: counts[s] for s in DEFAULT_COUNTS} == DEFAULT_COUNTS
    assert counts["customers"] == 50
    assert counts["orders"] == 200
    for name, (_, _, _, params) in ITEMS.items():
        assert counts[name] == params["total"], name


def _ids(requested: Counter[str], pattern: str) -> Counter[int]:
    found: Counter[int] = Counter()
    for target, n in requested.items():
        if match := re.search(pattern, target):
            found[int(match.group(1))] += n
    return found


@pytest.mark.parametrize("count", [1, 2, 3, 4, 7])
def test_shards_together_emit_exactly_the_records_of_one_run(world, tmp_path, count) -> None:
    sb, whole = world["sb"], world["whole"]
    together: Counter[tuple[str, str]] = Counter()
    comments, photos, details, orders = Counter(), Counter(), Counter(), Counter()
    pages: Counter[str] = Counter()
    for index in range(count):
        sb.server.requests.clear()
        config = {**world["config"], "shard": {"index": index, "count": count}}
        run = run_tap(tmp_path, config, catalog=world["catalog"])
        assert run.returncode == 0, run.stderr[-3000:]
        assert "but the API reported" not in run.stderr, "a shard's part held to a whole total"
        together += records(run)
        asked = Counter(sb.server.requests)
        emitted = run.records
        # Children are requested for this shard's own parents only, the prefetcher included.
        own = {
            "posts": {p["id"] for p in emitted["posts"]},
            "albums": {a["id"] for a in emitted["albums"]},
            "abilities": {a["id"] for a in emitted["abilities"]},
            "customers": {c["id"] for c in emitted["customers"]},
        }
        for counter, parent, pattern in (
            (comments, "posts", r"^/posts/(\d+)/comments"),
            (photos, "albums", r"^/albums/(\d+)/photos"),
            (details, "abilities", r"^/api/v2/ability/(\d+)/$"),
            (orders, "customers", r"^/shop/customers/(\d+)/orders"),
        ):
            asked_for = _ids(asked, pattern)
            assert set(asked_for) == own[parent], parent
            counter.update(asked_for)
        # A list split by page: this shard asks for its own pages only.
        pages += Counter(
            t for t in asked if t.startswith(("/generic/offset", "/generic/page")) and asked[t]
        )
        marker = run.of_type("STATE")[-1]["value"].get("tap_rest_shard")
        assert marker == ({"index": index, "count": count} if count > 1 else None)
    assert together == records(whole)
    for counter, parents in ((comments, 100), (photos, 100), (details, 373), (orders, 50)):
        assert len(counter) == parents
        assert set(counter.values()) == {1}, "a child partition was requested twice"
    if count > 1:
        duplicates = {t: n for t, n in pages.items() if n > 1}
        assert not duplicates, f"a list page was read by two shards: {duplicates}"


def test_lists_read_in_order_belong_to_the_shard_their_name_hashes_to(world, tmp_path) -> None:
    count = 3
    for index in range(count):
        config = {**world["config"], "shard": {"index": index, "count": count}}
        run = run_tap(tmp_path, config, catalog=world["catalog"])
        assert run.returncode == 0, run.stderr[-3000:]
        for name in ("items_cursor", "items_link", "todos", "users"):
            mine = owner(name, count) == index
            assert (run.counts[name] > 0) == mine, (name, index)
            if not mine:
                assert f"Skipping stream '{name}': another shard reads it whole" in run.stderr


def test_entities_by_id_are_split_and_others_ids_never_requested(tmp_path) -> None:
    with Sandbox() as sb:
        name_of_7 = requests.get(f"{sb.pokeapi_url}/ability/7/", timeout=10).json()["name"]
        config = {
            "jsonplaceholder_url": sb.url,
            "pokeapi_url": sb.pokeapi_url,
            "post_ids": list(range(1, 31)),
            # ability 7 named twice (id and name): one shard writes it, once
            "ability_ids": [1, "2", 7, name_of_7, 10001],
        }
        catalog = select(
            discover(tmp_path, config), {"posts", "post_comments", "abilities", "ability_details"}
        )
        whole = run_tap(tmp_path, config, catalog=catalog)
        assert whole.returncode == 0, whole.stderr[-2000:]
        assert whole.counts["abilities"] == 4
        together: Counter[tuple[str, str]] = Counter()
        for index in range(3):
            sb.server.requests.clear()
            run = run_tap(
                tmp_path, {**config, "shard": {"index": index, "count": 3}}, catalog=catalog
            )
            assert run.returncode == 0, run.stderr[-2000:]
            together += records(run)
            posts = _ids(Counter(sb.server.requests), r"^/posts/(\d+)$")
            assert set(posts) == {i for i in range(1, 31) if owner([i], 3) == index}
            assert {p["id"] for p in run.records["posts"]} == set(posts)
    assert together == records(whole)


def test_a_state_from_another_shard_is_refused(world, tmp_path) -> None:
    first = {**world["config"], "shard": {"index": 1, "count": 2}}
    catalog = select(world["catalog"], {"users"})
    run = run_tap(tmp_path, first, catalog=catalog)
    state = tmp_path / "state.json"
    state.write_text(json.dumps(run.of_type("STATE")[-1]["value"]))
    other = {**world["config"], "shard": {"index": 0, "count": 2}}
    for config in (other, world["config"]):
        refused = run_tap(tmp_path, config, "--state", str(state), catalog=catalog)
        assert refused.returncode == 1
        assert "state: written by shard 1 of 2, but this run is" in refused.stderr
        assert "--state-id-suffix shard-<index>-of-<count>" in refused.stderr
        assert not refused.of_type("RECORD")


def test_an_unsharded_state_may_start_any_shard(tmp_path) -> None:
    with Sandbox() as sb:
        config = shard_config(sb)
        catalog = select(select_all(tmp_path, config), {"customers", "orders"})
        first = run_tap(tmp_path, config, catalog=catalog)
        state = tmp_path / "state.json"
        state.write_text(json.dumps(first.of_type("STATE")[-1]["value"]))
        assert requests.post(f"{sb.url}/shop/touch?customer=7", timeout=10).ok
        emitted = Counter()
        for index in range(2):
            sharded = {**config, "shard": {"index": index, "count": 2}}
            run = run_tap(tmp_path, sharded, "--state", str(state), catalog=catalog)
            assert run.returncode == 0, run.stderr[-2000:]
            emitted += run.counts
    assert emitted == {"customers": 1, "orders": 1}


def test_each_shard_is_incremental_on_its_own_state(tmp_path) -> None:
    with Sandbox() as sb:
        config = shard_config(sb)
        catalog = select(select_all(tmp_path, config), {"customers", "orders"})
        states, seen = [], Counter()
        for index in range(3):
            sharded = {**config, "shard": {"index": index, "count": 3}}
            run = run_tap(tmp_path, sharded, catalog=catalog)
            assert run.returncode == 0, run.stderr[-2000:]
            seen += run.counts
            path = tmp_path / f"state-{index}.json"
            path.write_text(json.dumps(run.of_type("STATE")[-1]["value"]))
            states.append(path)
        assert seen == {"customers": 50, "orders": 200}
        assert requests.post(f"{sb.url}/shop/touch?customer=7", timeout=10).ok
        second = {}
        for index in range(3):
            sharded = {**config, "shard": {"index": index, "count": 3}}
            run = run_tap(tmp_path, sharded, "--state", str(states[index]), catalog=catalog)
            assert run.returncode == 0, run.stderr[-2000:]
            second[index] = {s: [r["id"] for r in rs] for s, rs in run.records.items()}
    holder = owner([7], 3)
    assert second[holder] == {"customers": [7], "orders": [25]}
    assert all(not second[i] for i in range(3) if i != holder)


def _kill_inside(
    tmp_path: Path, config: dict, catalog: dict, stream: str, after: int
) -> tuple[int, list[dict], str]:
    """Run the tap as a target reads it; SIGTERM it ``after`` records into ``stream``."""
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "tap_rest", "--config", str(tmp_path / "config.json")),
            *("--catalog", str(tmp_path / "catalog.json")),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    errors: list[str] = []
    drain = threading.Thread(target=lambda: errors.append(proc.stderr.read()), daemon=True)
    drain.start()
    messages, seen = [], 0
    for line in proc.stdout:
        messages.append(json.loads(line))
        if messages[-1]["type"] == "RECORD" and messages[-1]["stream"] == stream:
            seen += 1
            if seen == after:
                proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=120)
    drain.join(timeout=30)
    return proc.returncode, messages, errors[0]


@pytest.fixture(scope="module")
def resumable(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A slower sandbox with a long list split by page, and one unsharded run of it."""
    tmp = tmp_path_factory.mktemp("resume")
    # Latency and a long list, so that each shard is stopped inside that list.
    with Sandbox(faults=FaultSpec(latency_ms=2)) as sb:
        config = shard_config(sb, items_offset=18_000)
        catalog = select_all(tmp, config)
        whole = run_tap(tmp, config, catalog=catalog)
        assert whole.returncode == 0, whole.stderr[-3000:]
        yield {"config": config, "catalog": catalog, "whole": whole}


@pytest.mark.parametrize("count", [1, 2, 3, 4, 7])
def test_each_shard_resumes_from_its_own_state_after_sigterm(resumable, tmp_path, count) -> None:
    catalog, together = resumable["catalog"], set()
    for index in range(count):
        sharded = {**resumable["config"], "shard": {"index": index, "count": count}}
        code, messages, err = _kill_inside(tmp_path, sharded, catalog, "items_offset", 100)
        assert code == 143, err[-2000:]
        assert messages[-1]["type"] == "STATE"
        state = messages[-1]["value"]
        assert state.get("tap_rest_shard") == (
            {"index": index, "count": count} if count > 1 else None
        )
        assert state["tap_rest_run"]["current"]["stream"] == "items_offset"
        (tmp_path / "state.json").write_text(json.dumps(state))
        rest = run_tap(tmp_path, sharded, "--state", str(tmp_path / "state.json"), catalog=catalog)
        assert rest.returncode == 0, rest.stderr[-2000:]
        first = TapRun(code, err, messages)
        together |= set(records(first)) | set(records(rest))
        # The rerun resumes: the streams delivered before are not read again, and the list
        # starts again at one of this shard's own pages (ranges of 10 items), not its first.
        assert "Stream 'items_offset' resumes at page offset=" in rest.stderr
        assert not {"abilities", "albums", "customers"} & set(rest.counts)
        resumed_at = next(
            m["record"]["id"] for m in rest.of_type("RECORD") if m["stream"] == "items_offset"
        )
        assert ((resumed_at - 1) // 10) % count == index
        assert resumed_at > 10 * count
    assert together == set(records(resumable["whole"]))


def test_shard_settings_are_checked(tmp_path, config) -> None:
    run = run_tap(tmp_path, {**config, "shard": {"index": 3, "count": 3}})
    assert run.returncode == 1
    assert "shard.index: 3 is not below shard.count (3)" in run.stderr
    run = run_tap(tmp_path, {**config, "shard": {"index": 0}})
    assert run.returncode == 1
    assert "shard.count: required" in run.stderr


def test_a_child_selected_alone_follows_its_unselected_parents_key(world, tmp_path) -> None:
    catalog = select(world["catalog"], {"post_comments", "orders"})
    whole = run_tap(tmp_path, world["config"], catalog=catalog)
    assert whole.returncode == 0, whole.stderr[-2000:]
    together: Counter[tuple[str, str]] = Counter()
    for index in range(3):
        config = {**world["config"], "shard": {"index": index, "count": 3}}
        run = run_tap(tmp_path, config, catalog=catalog)
        assert run.returncode == 0, run.stderr[-2000:]
        assert set(run.counts) <= {"post_comments", "orders"}
        assert {owner([c["postId"]], 3) for c in run.records["post_comments"]} == {index}
        assert {owner([o["customer_id"]], 3) for o in run.records["orders"]} == {index}
        together += records(run)
    assert together == records(whole)
    assert whole.counts == {"post_comments": 500, "orders": 200}


def test_a_server_that_ignores_the_page_size_stops_a_list_split_by_page(tmp_path, sandbox) -> None:
    # The server reads `limit` (fixed at 50 here), the paginator asks with `size`: to the tap,
    # the server answers 50 records for a page of 10, as a server ignoring the page size does.
    stream = {
        "name": "ignores_size",
        "base_url": sandbox.url,
        "path": "/generic/offset",
        "records_path": "$.items[*]",
        "primary_keys": ["id"],
        "paginator": {"type": "offset", "page_size": 10, "limit_param": "size"},
        "params": {"total": 120, "limit": 50},
    }
    config = {"jsonplaceholder_url": sandbox.url, "streams": [stream]}
    run = run_tap(tmp_path, {**config, "shard": {"index": 1, "count": 2}})
    assert run.returncode == 1
    assert "returned 50 records for size=10; a list split by page among shards needs" in (
        run.stderr
    )
