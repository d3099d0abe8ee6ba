"""Windows: a backfill split into time windows [start, end) reads every record exactly once,
and a window run never moves a bookmark."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections import Counter

import pytest

from tap_rest.sandbox import Sandbox
from tap_rest.sandbox.shop import CUSTOMERS, ORDERS_PER_CUSTOMER, order_created
from tap_rest.window import Window, instant
from tests.conftest import run_tap
from tests.test_catalog import discover, select
from tests.test_shard import records

ORDERS = CUSTOMERS * ORDERS_PER_CUSTOMER
#: first-of-month bounds from the shop's opening to past its last order
MONTHS = [f"2025-{m:02d}-01" for m in range(1, 13)] + ["2026-01-01"]


def windowed(**changes: object) -> dict:
    """The shop's orders as one list, readable by window of creation time."""
    return {
        "name": "shop_orders",
        "api": "shop",
        "path": "/orders",
        "records_path": "$.data[*]",
        "primary_keys": ["id"],
        "paginator": {"type": "offset", "page_size": 7, "total_path": "$.total"},
        "replication_key": "created_at",
        "bookmark_param": "created_gte",
        "window_end_param": "created_lt",
        **changes,
    }


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("window")
    with Sandbox() as sb:
        config = {
            "jsonplaceholder_url": sb.url,
            "pokeapi_url": sb.pokeapi_url,
            "apis": {"shop": {"base_url": f"{sb.url}/shop"}},
            "streams": [
                windowed(),
                windowed(name="shop_orders_lte", window_end_param="created_lte"),
            ],
        }
        catalog = discover(tmp, config)
        yield {"sb": sb, "config": config, "catalog": catalog}


def run_windows(tmp_path, shop: dict, stream: str, bounds: list, **settings) -> list:
    catalog = select(shop["catalog"], {stream})
    runs = []
    for start, end in itertools.pairwise(bounds):
        config = {**shop["config"], "window": {"start": start, "end": end}, **settings}
        run = run_tap(tmp_path, config, catalog=catalog)
        assert run.returncode == 0, run.stderr[-2000:]
        runs.append(run)
    return runs


@pytest.mark.parametrize("stream", ["shop_orders", "shop_orders_lte"])
def test_monthly_windows_read_every_record_exactly_once(tmp_path, shop, stream) -> None:
    runs = run_windows(tmp_path, shop, stream, MONTHS)
    together = Counter()
    for (start, end), run in zip(itertools.pairwise(MONTHS), runs, strict=True):
        ids = [r["id"] for r in run.records[stream]]
        created = [order_created(i) for i in ids]
        low = dt.datetime.fromisoformat(start).replace(tzinfo=dt.timezone.utc)
        high = dt.datetime.fromisoformat(end).replace(tzinfo=dt.timezone.utc)
        assert all(low <= c < high for c in created), (start, end)
        together.update(ids)
    assert together == Counter(range(1, ORDERS + 1))
    # Orders 61, 81, 163 and 183 were created exactly at a month's start: the later window.
    april = runs[MONTHS.index("2025-04-01")]
    assert april.records[stream][0]["id"] == 61
    assert april.records[stream][0]["created_at"] == "2025-04-01T00:00:00Z"


def test_an_inclusive_end_parameter_puts_no_record_into_two_windows(tmp_path, shop) -> None:
    runs = run_windows(tmp_path, shop, "shop_orders_lte", ["2025-03-01", "2025-04-01"])
    ids = [r["id"] for r in runs[0].records["shop_orders_lte"]]
    assert 61 not in ids, "the order created at the window's end belongs to the next window"
    assert "records outside the window [2025-03-01, 2025-04-01)" in runs[0].stderr


def test_windows_of_any_size_and_format_tile_the_list(tmp_path, shop) -> None:
    start = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    bounds = [(start + dt.timedelta(days=45 * k)).isoformat() for k in range(0, 8)]
    bounds += [int((start + dt.timedelta(days=400)).timestamp())]  # epoch seconds
    runs = run_windows(tmp_path, shop, "shop_orders", bounds)
    together = Counter(r["id"] for run in runs for r in run.records["shop_orders"])
    assert together == Counter(range(1, ORDERS + 1))


def test_a_window_run_leaves_the_bookmark_as_it_was(tmp_path, shop) -> None:
    catalog = select(shop["catalog"], {"shop_orders"})
    state = {"bookmarks": {"shop_orders": {"replication_key": "created_at"}}}
    state["bookmarks"]["shop_orders"]["replication_key_value"] = "2025-02-10T12:00:00Z"
    (tmp_path / "state.json").write_text(json.dumps(state))
    window = {"start": "2025-06-01", "end": "2025-07-01"}
    run = run_tap(
        tmp_path,
        {**shop["config"], "window": window},
        "--state",
        str(tmp_path / "state.json"),
        catalog=catalog,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    # The whole window is read, whatever the bookmark says, and the bookmark does not move.
    assert len(run.records["shop_orders"]) == 20
    final = run.of_type("STATE")[-1]["value"]["bookmarks"]["shop_orders"]
    assert final["replication_key_value"] == "2025-02-10T12:00:00Z"
    # Without a window the stream is incremental from its bookmark as always.
    plain = run_tap(
        tmp_path, shop["config"], "--state", str(tmp_path / "state.json"), catalog=catalog
    )
    assert plain.returncode == 0, plain.stderr[-2000:]
    assert plain.records["shop_orders"][0]["created_at"] == "2025-02-10T12:00:00Z"
    assert plain.of_type("STATE")[-1]["value"]["bookmarks"]["shop_orders"][
        "replication_key_value"
    ] == ("2025-10-26T12:00:00Z")


def test_a_window_split_among_shards_reads_each_record_once(tmp_path, shop) -> None:
    shop["sb"].server.requests.clear()
    together = Counter()
    for index in range(3):
        runs = run_windows(
            tmp_path,
            shop,
            "shop_orders",
            ["2025-01-01", "2025-05-01", "2026-01-01"],
            shard={"index": index, "count": 3},
        )
        together.update(r["id"] for run in runs for r in run.records["shop_orders"])
    assert together == Counter(range(1, ORDERS + 1))
    # A windowed list is the same for every shard, so it is split by page: no page read twice.
    pages = [t for t in shop["sb"].server.requests if t.startswith("/shop/orders")]
    assert len(pages) == len(set(pages))
    assert all(shop["sb"].server.requests[t] == 1 for t in pages)


def test_a_windowed_parent_bounds_its_children(tmp_path) -> None:
    customers = windowed(
        name="new_customers",
        path="/customers",
        paginator={"type": "offset", "page_size": 10, "total_path": "$.total"},
    )
    orders = {
        "name": "their_orders",
        "api": "shop",
        "path": "/customers/{customer_id}/orders",
        "records_path": "$.data[*]",
        "primary_keys": ["id"],
        "parent": {"stream": "new_customers", "fields": {"customer_id": "id"}},
    }
    with Sandbox() as sb:
        config = {
            "jsonplaceholder_url": sb.url,
            "pokeapi_url": sb.pokeapi_url,
            "apis": {"shop": {"base_url": f"{sb.url}/shop"}},
            "streams": [customers, orders],
        }
        catalog = select(discover(tmp_path, config), {"new_customers", "their_orders"})
        together = Counter()
        for start, end in itertools.pairwise(MONTHS):
            window = {"start": start, "end": end}
            run = run_tap(tmp_path, {**config, "window": window}, catalog=catalog)
            assert run.returncode == 0, run.stderr[-2000:]
            together.update(records(run))
    assert Counter(s for s, _ in together) == {"new_customers": 50, "their_orders": 200}
    assert max(together.values()) == 1


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ({"start": "2025-02-01", "end": "2025-01-01"}, "window: start '2025-02-01' is not before"),
        ({"start": "last tuesday"}, "window.start: 'last tuesday' is not an ISO 8601 date"),
        ({}, "window: needs start, end or both"),
        ({"begin": "2025-01-01"}, "window.begin: not a field"),
    ],
)
def test_window_settings_are_checked(tmp_path, shop, window, message) -> None:
    run = run_tap(tmp_path, {**shop["config"], "window": window})
    assert run.returncode == 1
    assert message in run.stderr


def test_a_window_needs_a_stream_that_can_be_read_by_window(tmp_path, config) -> None:
    run = run_tap(tmp_path, {**config, "window": {"start": "2025-01-01"}})
    assert run.returncode == 1
    assert "window: no stream can be read by window" in run.stderr
    bad = windowed(replication_key=None, bookmark_param=None)
    bad = {k: v for k, v in bad.items() if v is not None}
    run = run_tap(tmp_path, {**config, "streams": [{**bad, "base_url": "http://x.test"}]})
    assert run.returncode == 1
    assert "streams[shop_orders].window_end_param: needs replication_key" in run.stderr


def test_instants_compare_dates_times_and_epoch_seconds() -> None:
    assert instant("2025-01-01") == instant("2025-01-01T00:00:00Z") == 1735689600.0
    assert instant("2025-01-01T01:00:00+01:00") == instant(1735689600)
    assert instant("soon") is None
    assert instant(True) is None
    window = Window("2025-01-01", "2025-02-01")
    assert window.contains("2025-01-01T00:00:00Z")
    assert not window.contains("2025-02-01T00:00:00Z")
    assert window.contains("not a time")  # kept: the API chose it


def test_a_window_run_reads_only_the_streams_it_can_window(tmp_path, shop) -> None:
    config = {**shop["config"], "builtin_streams": ["posts", "users"]}
    catalog = discover(tmp_path, config)
    everything = select(catalog, {e["tap_stream_id"] for e in catalog["streams"]})
    window = {"start": "2025-04-01", "end": "2025-05-01"}
    run = run_tap(tmp_path, {**config, "window": window}, catalog=everything)
    assert run.returncode == 0, run.stderr[-2000:]
    assert dict(run.counts) == {"shop_orders": 20, "shop_orders_lte": 20}
    assert (
        "Skipping stream 'posts': this run reads the window [2025-04-01, 2025-05-01) of the "
        "streams with window_end_param"
    ) in run.stderr


def test_discovery_infers_schemas_from_the_whole_list_not_the_window(tmp_path, shop) -> None:
    bare = {k: v for k, v in windowed().items() if k != "schema"}
    config = {**shop["config"], "streams": [bare], "window": {"start": "2030-01-01"}}
    catalog = discover(tmp_path, config)
    schema = next(e["schema"] for e in catalog["streams"] if e["tap_stream_id"] == "shop_orders")
    assert {"id", "created_at", "customer_id", "amount"} <= set(schema["properties"])
