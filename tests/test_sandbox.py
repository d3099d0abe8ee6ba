"""The sandbox serves both APIs with the real paths, counts, paging and errors."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest
import requests

from tap_rest.pagination import parse_link_header
from tap_rest.sandbox import Sandbox
from tap_rest.sandbox.auth import AuthSpec
from tap_rest.sandbox.data import Generated


def get(sb: Sandbox, path: str) -> requests.Response:
    return requests.get(sb.url + path, timeout=10)


@pytest.mark.parametrize(
    ("path", "count"),
    [
        ("/posts", 100),
        ("/comments", 500),
        ("/albums", 100),
        ("/photos", 5000),
        ("/todos", 200),
        ("/users", 10),
    ],
)
def test_default_counts(sandbox, path, count) -> None:
    body = get(sandbox, path).json()
    assert len(body) == count
    assert [r["id"] for r in body] == list(range(1, count + 1))


def test_scale_multiplies_every_collection() -> None:
    data = Generated(scale=100)
    assert data.count("posts") == 10_000
    assert data.count("photos") == 500_000
    assert len(data.ability_ids) == 37_300
    assert len(set(data.ability_ids)) == 37_300
    with Sandbox(dataset=data) as sb:
        resp = get(sb, "/photos?_page=5000&_limit=100")
        assert resp.headers["X-Total-Count"] == "500000"
        assert [p["id"] for p in resp.json()] == list(range(499_901, 500_001))
        assert len(get(sb, "/albums/10000/photos").json()) == 50


def test_data_is_deterministic() -> None:
    a, b = Generated(), Generated()
    assert [a.get("users", i) for i in range(1, 11)] == [b.get("users", i) for i in range(1, 11)]
    assert a.ability_detail(7, "x") == b.ability_detail(7, "x")


def test_one_entity_by_id_and_404(sandbox) -> None:
    assert get(sandbox, "/posts/1").json()["id"] == 1
    for path in ("/posts/101", "/posts/0", "/posts/abc", "/users/11"):
        resp = get(sandbox, path)
        assert resp.status_code == 404, path
        assert resp.json() == {}
    assert get(sandbox, "/nothing").status_code == 404


def test_nested_routes_equal_filters(sandbox) -> None:
    nested = get(sandbox, "/posts/3/comments").json()
    assert nested == get(sandbox, "/comments?postId=3").json()
    assert len(nested) == 5
    assert {c["postId"] for c in nested} == {3}
    assert len(get(sandbox, "/albums/2/photos").json()) == 50
    assert {p["userId"] for p in get(sandbox, "/users/4/posts").json()} == {4}


def test_filters_by_any_field(sandbox) -> None:
    assert len(get(sandbox, "/posts?userId=1").json()) == 10
    assert len(get(sandbox, "/posts?userId=1&userId=2").json()) == 20
    todos = get(sandbox, "/todos?completed=true").json()
    assert todos
    assert all(t["completed"] for t in todos)
    user = get(sandbox, "/users/1").json()
    city = user["address"]["city"]
    assert user in get(sandbox, f"/users?address.city={city}").json()
    assert get(sandbox, "/posts?id_gte=98").json()[0]["id"] == 98
    assert len(get(sandbox, "/posts?userId_ne=1").json()) == 90


def test_page_and_limit_with_link_and_total(sandbox) -> None:
    resp = get(sandbox, "/posts?_page=2&_limit=30")
    assert [p["id"] for p in resp.json()] == list(range(31, 61))
    assert resp.headers["X-Total-Count"] == "100"
    links = {params["rel"]: target for target, params in parse_link_header(resp.headers["Link"])}
    assert links == {
        "first": f"{sandbox.url}/posts?_page=1&_limit=30",
        "prev": f"{sandbox.url}/posts?_page=1&_limit=30",
        "next": f"{sandbox.url}/posts?_page=3&_limit=30",
        "last": f"{sandbox.url}/posts?_page=4&_limit=30",
    }
    last = get(sandbox, "/posts?_page=4&_limit=30")
    assert len(last.json()) == 10
    assert "next" not in {p["rel"] for _, p in parse_link_header(last.headers["Link"])}


def test_json_server_quirks_one_page_or_past_the_end_has_no_links(sandbox) -> None:
    for path in ("/posts?_page=1&_limit=100", "/posts?_page=9&_limit=100"):
        resp = get(sandbox, path)
        assert resp.headers["Link"] == ""
        assert resp.headers["X-Total-Count"] == "100"
    assert get(sandbox, "/posts?_page=9&_limit=100").json() == []
    assert len(get(sandbox, "/posts?_page=1").json()) == 10  # _limit defaults to 10


def test_start_end_and_limit_slices(sandbox) -> None:
    assert [p["id"] for p in get(sandbox, "/posts?_start=5&_end=8").json()] == [6, 7, 8]
    resp = get(sandbox, "/posts?_start=95&_limit=10")
    assert [p["id"] for p in resp.json()] == [96, 97, 98, 99, 100]
    assert resp.headers["X-Total-Count"] == "100"
    assert "Link" not in resp.headers


def test_sort_and_order(sandbox) -> None:
    ids = [p["id"] for p in get(sandbox, "/posts?_sort=id&_order=desc&_limit=3").json()]
    assert ids == [100, 99, 98]


def test_pokeapi_ability_list_pages_by_offset_and_limit(sandbox) -> None:
    api = sandbox.pokeapi_url
    first = requests.get(f"{api}/ability/", timeout=10).json()
    assert first["count"] == 373
    assert len(first["results"]) == 20
    assert first["previous"] is None
    assert first["next"] == f"{api}/ability/?offset=20&limit=20"
    middle = requests.get(f"{api}/ability/?offset=20&limit=20", timeout=10).json()
    assert middle["previous"] == f"{api}/ability/?offset=0&limit=20"
    last = requests.get(f"{api}/ability/?offset=360&limit=20", timeout=10).json()
    assert len(last["results"]) == 13
    assert last["next"] is None
    assert last["results"][-1]["url"] == f"{api}/ability/10060/"
    everything = requests.get(f"{api}/ability?limit=1000", timeout=10).json()
    assert len(everything["results"]) == 373
    assert everything["next"] is None


def test_pokeapi_ability_detail_by_id_or_name(sandbox) -> None:
    api = sandbox.pokeapi_url
    by_id = requests.get(f"{api}/ability/10001/", timeout=10).json()
    assert by_id["id"] == 10001
    assert by_id["is_main_series"] is False
    by_name = requests.get(f"{api}/ability/{by_id['name']}/", timeout=10).json()
    assert by_name == by_id
    assert by_id["generation"]["url"].startswith(f"{api}/generation/")
    for missing in ("314", "10061", "no-such-ability"):
        assert requests.get(f"{api}/ability/{missing}/", timeout=10).status_code == 404


def test_cli_serves_on_the_asked_port_and_stops_on_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tap_rest.sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        assert match, line
        deadline = time.monotonic() + 30
        while True:
            try:
                assert len(requests.get(match.group(1) + "/users", timeout=5).json()) == 10
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_generic_styles_page_as_documented(sandbox) -> None:
    body = get(sandbox, "/generic/offset?total=25&offset=20&limit=10").json()
    assert body["total"] == 25
    assert [i["id"] for i in body["items"]] == [21, 22, 23, 24, 25]
    page = get(sandbox, "/generic/page?total=25&page=3&per_page=10").json()
    assert page["total_pages"] == 3
    assert len(page["data"]) == 5
    nxt = get(sandbox, "/generic/next?total=25&offset=0&limit=10").json()
    assert nxt["next"] == "/generic/next?total=25&offset=10&limit=10"
    assert get(sandbox, "/generic/next?total=25&offset=20&limit=10").json()["next"] is None
    link = get(sandbox, "/generic/link?total=25&page=1&per_page=10")
    rels = {p["rel"]: target for target, p in parse_link_header(link.headers["Link"])}
    assert rels["next"] == "/generic/link?total=25&page=2&per_page=10"
    first = get(sandbox, "/generic/cursor?total=15&limit=10").json()
    assert first["has_more"] is True
    last = get(sandbox, f"/generic/cursor?total=15&limit=10&cursor={first['next_cursor']}").json()
    assert [i["id"] for i in last["data"]] == [11, 12, 13, 14, 15]
    assert last["has_more"] is False
    assert last["next_cursor"] == ""
    assert get(sandbox, "/generic/nope").status_code == 404


@pytest.mark.parametrize(
    ("mode", "good", "bad"),
    [
        (
            "api_key",
            {"headers": {"X-API-Key": AuthSpec().api_key}},
            {"headers": {"X-API-Key": "x"}},
        ),
        ("api_key", {"params": {"api_key": AuthSpec().api_key}}, {"params": {"api_key": "x"}}),
        (
            "bearer",
            {"headers": {"Authorization": f"Bearer {AuthSpec().token}"}},
            {"headers": {"Authorization": "Bearer x"}},
        ),
        (
            "basic",
            {"auth": (AuthSpec().username, AuthSpec().password)},
            {"auth": (AuthSpec().username, "x")},
        ),
    ],
)
def test_sandbox_auth_protects_every_endpoint(mode, good, bad) -> None:
    with Sandbox(auth=AuthSpec(mode=mode)) as sb:
        for path in ("/posts/1", "/api/v2/ability/1/", "/generic/offset?total=3"):
            assert requests.get(sb.url + path, timeout=10).status_code == 401
            assert requests.get(sb.url + path, timeout=10, **bad).status_code == 401
            assert requests.get(sb.url + path, timeout=10, **good).status_code == 200
        # the key parameter is no filter
        assert len(requests.get(sb.url + "/posts", timeout=10, **good).json()) == 100


def test_oauth_token_endpoint_issues_expiring_tokens() -> None:
    spec = AuthSpec(mode="oauth2", token_lifetime=0.3)
    with Sandbox(auth=spec) as sb:
        form = {
            "grant_type": "client_credentials",
            "client_id": spec.client_id,
            "client_secret": spec.client_secret,
        }
        answer = requests.post(sb.token_url, data={**form, "scope": "read"}, timeout=10).json()
        assert answer["token_type"] == "Bearer"
        assert answer["expires_in"] == 1
        assert answer["scope"] == "read"
        basic = requests.post(
            sb.token_url,
            data={"grant_type": "client_credentials"},
            auth=(spec.client_id, spec.client_secret),
            timeout=10,
        )
        assert basic.status_code == 200
        bearer = {"Authorization": f"Bearer {answer['access_token']}"}
        assert requests.get(sb.url + "/users/1", headers=bearer, timeout=10).status_code == 200
        time.sleep(0.4)
        expired = requests.get(sb.url + "/users/1", headers=bearer, timeout=10)
        assert expired.status_code == 401
        assert expired.json()["message"] == "access token expired"
        wrong = requests.post(sb.token_url, data={**form, "client_secret": "x"}, timeout=10)
        assert wrong.status_code == 401
        assert wrong.json()["error"] == "invalid_client"
        grant = requests.post(sb.token_url, data={**form, "grant_type": "password"}, timeout=10)
        assert grant.status_code == 400
        assert sb.server.auth.tokens_issued == 2
