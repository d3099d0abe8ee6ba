"""A local replica of jsonplaceholder and PokeAPI, on 127.0.0.1 only.

jsonplaceholder is served at the root (``/posts``), PokeAPI under ``/api/v2``
(``/api/v2/ability/``), both with the real paths, shapes, default counts and paging quirks.
"""

from __future__ import annotations

import argparse
import signal
import socket
import struct
import sys
import threading
import typing as t
from collections import Counter
from contextlib import contextmanager
from functools import lru_cache, partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from urllib.parse import parse_qs, urlencode, urlsplit

import msgspec

from tap_rest.sandbox import canned, data, generic, late
from tap_rest.sandbox.auth import MODES, TOKEN_PATH, AuthSpec, AuthState
from tap_rest.sandbox.faults import RETRY_AFTER_FORMATS, Faults, FaultSpec
from tap_rest.sandbox.search import PREFIX as SEARCH_PREFIX
from tap_rest.sandbox.search import BadQueryError, Search
from tap_rest.sandbox.shop import PREFIX as SHOP_PREFIX
from tap_rest.sandbox.shop import Shop

HOST = "127.0.0.1"
POKEAPI_PREFIX = "/api/v2"
#: what the sandbox counted: requests, faults injected, requests inside a wait window (JSON)
STATS_PATH = "/__stats"
_JSON = "application/json; charset=utf-8"
_FILTER_SUFFIXES = ("_ne", "_lte", "_gte", "_like")

Response = tuple[int, list[tuple[str, str]], bytes]


def _json(status: int, body: object, headers: list[tuple[str, str]] | None = None) -> Response:
    return status, [("Content-Type", _JSON), *(headers or [])], msgspec.json.encode(body)


def _get(rec: data.Record, dotted: str) -> t.Any:
    value: t.Any = rec
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _text(value: t.Any) -> str:
    """Return a value as JavaScript's toString() would, which json-server compares against."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _sort_key(value: t.Any) -> tuple[int, t.Any]:
    """Order numbers numerically and everything else as text, as lodash's orderBy does."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value)
    return (1, _text(value))


def _field_sort_key(field: str, rec: data.Record) -> tuple[int, t.Any]:
    return _sort_key(_get(rec, field))


def _matches(rec: data.Record, filters: list[tuple[str, str, list[str]]]) -> bool:
    for field, op, values in filters:
        value = _get(rec, field)
        if value is None:
            return False
        text = _text(value)
        if op == "eq" and text not in values:
            return False
        if op == "_ne" and text in values:
            return False
        if op == "_like" and not any(v.lower() in text.lower() for v in values):
            return False
        if op in ("_lte", "_gte"):
            try:
                left, right = float(value), float(values[0])
            except (TypeError, ValueError):
                return False
            if (op == "_lte" and left > right) or (op == "_gte" and left < right):
                return False
    return True


def _int(value: str | None, default: int | None = None) -> int | None:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


class _Replica:
    """Answers requests for both APIs from a dataset; every answer is a pure function of the URL."""

    def __init__(self, dataset: data.Dataset, total_offset: int = 0) -> None:
        self.data = dataset
        #: how many more records than it serves every list reports (a lying total)
        self.total_offset = total_offset
        self.shop = Shop(total_offset)
        self.search = Search(total_offset)
        self.cached = lru_cache(maxsize=4096)(self._respond)

    def respond(self, host: str, target: str) -> Response:
        """Answer a GET; the shop's records change, so its answers are never cached."""
        if target.startswith(SHOP_PREFIX + "/"):
            split = urlsplit(target)
            answer = self.shop.respond(split.path, parse_qs(split.query, keep_blank_values=True))
            return _json(*answer) if answer else _json(404, {"error": "not found"})
        return self.cached(host, target)

    def _respond(self, host: str, target: str) -> Response:
        split = urlsplit(target)
        query = parse_qs(split.query, keep_blank_values=True)
        if split.path == POKEAPI_PREFIX or split.path.startswith(POKEAPI_PREFIX + "/"):
            return self._pokeapi(f"http://{host}", split.path[len(POKEAPI_PREFIX) :], query)
        if split.path.startswith("/status/"):
            code = _int(split.path.split("/")[2]) or 500
            return _json(code, {"error": f"status {code} on purpose", "path": split.path})
        if split.path.startswith("/html/"):
            page = b"<!doctype html><html><body><h1>Sign in</h1><form></form></body></html>"
            return 200, [("Content-Type", "text/html; charset=utf-8")], page
        if split.path.startswith(late.PREFIX + "/"):
            found = late.respond(split.path, query)
            return _json(*found) if found else _json(404, {"error": "not found"})
        if split.path.startswith(generic.PREFIX + "/"):
            answer = generic.respond(split.path, query, self.total_offset)
            if answer is None:
                return _json(404, {"error": f"unknown paging style in {split.path}"})
            return _json(answer[0], answer[1], answer[2])
        return self._jsonplaceholder(f"http://{host}{target}", split.path, query)

    # --- jsonplaceholder (json-server 0.17 semantics) ----------------------------------

    def _jsonplaceholder(self, full_url: str, path: str, query: dict[str, list[str]]) -> Response:
        parts = [p for p in path.split("/") if p]
        resource = data.RESOURCES.get(parts[0]) if parts else None
        if resource is None or len(parts) > 3:
            return (
                404,
                [("Content-Type", "text/html; charset=utf-8")],
                f"Cannot GET {path}".encode(),
            )
        if len(parts) == 1:
            return self._list(resource, full_url, query)
        key = _int(parts[1])
        if len(parts) == 2:
            found = self.data.get(resource.name, key) if key is not None else None
            return _json(200, found) if found is not None else _json(404, {})
        nested_key = data.NESTED.get((resource.name, parts[2]))
        if nested_key is None:
            return _json(404, {})
        query = {**query, nested_key: [parts[1]]}
        return self._list(data.RESOURCES[parts[2]], full_url, query)

    def _list(
        self, resource: data.Resource, full_url: str, query: dict[str, list[str]]
    ) -> Response:
        filters: list[tuple[str, str, list[str]]] = []
        for key, values in query.items():
            if key.startswith("_") or key == "q":
                continue
            op = next((s for s in _FILTER_SUFFIXES if key.endswith(s)), "eq")
            filters.append((key[: -len(op)] if op != "eq" else key, op, values))

        # Narrow the candidates by an id or parent-key filter; all filters still apply below.
        ids: t.Sequence[int] = self.data.ids(resource.name)
        for field, op, values in filters:
            value = _int(values[0]) if op == "eq" and len(values) == 1 else None
            if value is None:
                continue
            if field == "id":
                ids = [value] if self.data.get(resource.name, value) is not None else []
            elif field == resource.parent_key:
                ids = self.data.ids(resource.name, field, value)

        def rec(i: int) -> data.Record:
            return t.cast("data.Record", self.data.get(resource.name, i))

        sort = query.get("_sort", [""])[0]
        rows: list[data.Record] | None = None
        if filters or sort:
            rows = [r for r in map(rec, ids) if _matches(r, filters)]
            if sort:
                orders = query.get("_order", ["asc"])[0].split(",")
                for n, field in reversed(list(enumerate(sort.split(",")))):
                    desc = (orders[n] if n < len(orders) else orders[-1]) == "desc"
                    rows.sort(key=partial(_field_sort_key, field), reverse=desc)
        total = len(rows) if rows is not None else len(ids)

        def window(start: int, end: int) -> list[data.Record]:
            if rows is not None:
                return rows[start:end]
            return [rec(i) for i in ids[max(start, 0) : max(end, 0)]]

        page, limit = _int(query.get("_page", [None])[0]), _int(query.get("_limit", [None])[0])
        start, end = _int(query.get("_start", [None])[0], 0), _int(query.get("_end", [None])[0])
        headers: list[tuple[str, str]] = []
        if end is not None or limit is not None or page is not None:
            headers.append(("X-Total-Count", str(total + self.total_offset)))
            exposed = "X-Total-Count, Link" if page is not None else "X-Total-Count"
            headers.append(("Access-Control-Expose-Headers", exposed))
        if page is not None:
            page = max(page, 1)
            limit = limit or 10
            items = window((page - 1) * limit, page * limit)
            headers.append(("Link", _links(full_url, page, limit, len(items), total)))
        elif end is not None:
            items = window(start or 0, end)
        elif limit is not None:
            items = window(start or 0, (start or 0) + limit)
        else:
            items = window(0, total)
        return _json(200, items, headers)

    # --- PokeAPI -------------------------------------------------------------------------

    def _pokeapi(self, origin: str, path: str, query: dict[str, list[str]]) -> Response:
        api = origin + POKEAPI_PREFIX
        parts = [p for p in path.split("/") if p]
        if not parts:
            return _json(200, {"ability": f"{api}/ability/"})
        if parts[0] != "ability" or len(parts) > 2:
            return 404, [("Content-Type", "text/plain")], b"Not Found"
        if len(parts) == 2:
            found = self.data.ability_lookup(parts[1].lower())
            if found is None:
                return 404, [("Content-Type", "text/plain")], b"Not Found"
            return _json(200, self.data.ability_detail(found, api))
        count = len(self.data.ability_ids)
        offset = max(_int(query.get("offset", [None])[0], 0) or 0, 0)
        limit = _int(query.get("limit", [None])[0], 20)
        limit = 20 if limit is None or limit < 0 else limit
        page_ids = self.data.ability_ids[offset : offset + limit]
        nxt = f"{api}/ability/?offset={offset + limit}&limit={limit}"
        prev = f"{api}/ability/?offset={max(offset - limit, 0)}&limit={limit}"
        return _json(
            200,
            {
                "count": count + self.total_offset,
                "next": nxt if limit and offset + limit < count else None,
                "previous": prev if offset > 0 else None,
                "results": [
                    {"name": self.data.ability_name(i), "url": f"{api}/ability/{i}/"}
                    for i in page_ids
                ],
            },
        )


def _links(full_url: str, page: int, limit: int, n_items: int, total: int) -> str:
    """Build json-server's Link header, quirks included.

    json-server rewrites the first ``page=<current>`` in the URL it was called with, sends no
    links for a page that is empty or holds everything, and an empty header in those cases.
    """
    if n_items in (0, total):
        return ""
    rels = {"first": 1}
    if page > 1:
        rels["prev"] = page - 1
    if page * limit < total:
        rels["next"] = page + 1
    rels["last"] = -(-total // limit)
    current = f"page={page}"
    return ", ".join(
        f'<{full_url.replace(current, f"page={n}", 1)}>; rel="{rel}"' for rel, n in rels.items()
    )


def _failure(status: int, headers: list[tuple[str, str]], body: t.Any = None) -> Response:
    """Return a server error or 429 as real servers send them (a proxy's 502 is HTML)."""
    reason = HTTPStatus(status).phrase
    if status == HTTPStatus.BAD_GATEWAY:
        page = f"<html><head><title>{status} {reason}</title></head><h1>{reason}</h1></html>"
        return status, [("Content-Type", "text/html"), *headers], page.encode()
    return _json(status, body if body is not None else {"error": reason}, headers)


class _Handler(BaseHTTPRequestHandler):
    server: SandboxServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # TCP_NODELAY: small responses go out at once

    def do_GET(self) -> None:
        """Answer a GET, counted among the requests being answered at once."""
        with self.server.answering():
            self._get()

    def do_POST(self) -> None:
        """Answer a POST, counted among the requests being answered at once."""
        with self.server.answering():
            self._post()

    def _get(self) -> None:
        """Answer a GET from the replica, once its credential is good."""
        host = self.headers.get("Host") or f"{HOST}:{self.server.server_port}"
        split = urlsplit(self.path)
        query = parse_qs(split.query, keep_blank_values=True)
        refused = self.server.auth.check(self.headers, query)
        target = self.path
        if self.server.auth.spec.mode == "api_key":
            kept = self.server.auth.strip_query(query)
            target = split.path + (f"?{urlencode(kept, doseq=True)}" if kept else "")
        if split.path == STATS_PATH:
            self._send(*_json(200, self.server.stats()))
            return
        self.server.count(target, dict(self.headers), self.path)
        if split.path.startswith(canned.CANNED):
            self._send(*canned.canned(self.server.canned, split.path))
            return
        if split.path.startswith(canned.SLEEP):
            self._send(*canned.sleep(split.path))
            return
        if split.path.startswith(canned.ECHO):
            self._send(*canned.echo(self.path, dict(self.headers)))
            return
        if split.path.startswith(generic.PREFIX + "/") and self.headers.get("X-Cursor"):
            # The header-cursor style takes its cursor from a request header as well.
            cursor = urlencode({"cursor": self.headers["X-Cursor"]})
            target += ("&" if "?" in target else "?") + cursor
        if refused:
            challenge = "Basic" if self.server.auth.spec.mode == "basic" else "Bearer"
            body = {"error": "unauthorized", "message": refused}
            self._send(*_json(401, body, [("WWW-Authenticate", f'{challenge} realm="sandbox"')]))
            return
        if not self.server.faults.spec.active:
            self._send(*self.server.replica.respond(host, target))
            return
        fate = self.server.faults.decide(target)
        if fate.status:
            self._send(*_failure(fate.status, fate.headers, fate.body))
            if fate.first_limit:
                self.server.faults.answered()
            return
        status, headers, payload = self.server.replica.respond(host, target)
        headers = [*headers, *fate.headers]
        if fate.truncate_at is not None:
            self._send(status, headers, payload[: int(len(payload) * fate.truncate_at)])
        elif fate.reset:
            self._reset(status, headers, payload)
        else:
            self._send(status, headers, payload)

    def _reset(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        """Send half the body, then drop the connection (RST) as a crashing proxy would."""
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True

    def _post(self) -> None:
        """Answer the OAuth token endpoint, the search and the touches of the shop and search."""
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        if split.path.startswith(SEARCH_PREFIX + "/"):
            self._search(split.path, parse_qs(split.query), body)
            return
        if split.path == SHOP_PREFIX + "/touch":
            params = parse_qs(split.query)
            customer = _int(params.get("customer", [""])[0])
            if customer is None:
                self._send(*_json(400, {"error": "touch needs ?customer=N"}))
                return
            self.server.replica.shop.touch(customer, params.get("at", [None])[0])
            self._send(*_json(200, {"touched": customer}))
            return
        if split.path != TOKEN_PATH:
            self._send(*_json(405, {"error": "method not allowed"}))
            return
        status, answer = self.server.auth.issue(self.headers, body)
        self._send(*_json(status, answer, [("Cache-Control", "no-store")]))

    def _search(self, path: str, query: dict[str, list[str]], body: bytes) -> None:
        """Answer ``POST /search/events`` (a search) and ``/search/events/touch?id=N``."""
        refused = self.server.auth.check(self.headers, query)
        self.server.count(f"POST {self.path}", dict(self.headers), self.path)
        search = self.server.replica.search
        if refused:
            self._send(*_json(401, {"error": "unauthorized", "message": refused}))
        elif path == SEARCH_PREFIX + "/events/touch":
            event = _int(query.get("id", [""])[0])
            if event is None:
                self._send(*_json(400, {"error": "touch needs ?id=N"}))
                return
            search.touch(event)
            self._send(*_json(200, {"touched": event}))
        elif path == SEARCH_PREFIX + "/events":
            try:
                answer = search.search(msgspec.json.decode(body) if body else {})
            except (msgspec.DecodeError, BadQueryError) as exc:
                self._send(
                    *_json(400, {"error": {"type": "parsing_exception", "reason": str(exc)}})
                )
                return
            self._send(*_json(200, answer))
        else:
            self._send(*_json(404, {"error": f"no index at {path}"}))

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: t.Any) -> None:
        """Log requests only when asked to."""
        if self.server.verbose:
            super().log_message(format, *args)


class SandboxServer(ThreadingHTTPServer):
    """A threaded HTTP server for the replica."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(
        self,
        port: int = 0,
        *,
        dataset: data.Dataset | None = None,
        auth: AuthSpec | None = None,
        faults: FaultSpec | None = None,
        total_offset: int = 0,
        verbose: bool = False,
    ) -> None:
        super().__init__((HOST, port), _Handler)
        self.replica = _Replica(dataset or data.Generated(), total_offset)
        self.auth = AuthState(auth or AuthSpec())
        self.faults = Faults(faults or FaultSpec())
        self.verbose = verbose
        self.requests: Counter[str] = Counter()
        #: each request's path and headers, in order (for tests of what a client sends)
        self.seen: list[tuple[str, dict[str, str]]] = []
        #: what ``/canned/<name>`` answers (tap_rest.sandbox.canned)
        self.canned: dict[str, canned.Canned] = {}
        self._lock = threading.Lock()
        #: requests being answered now, and the most ever answered at once
        self.in_flight = self.most_in_flight = 0

    def stats(self) -> dict[str, t.Any]:
        """Return what ``/__stats`` says: requests answered (the most at once), faults, early."""
        with self._lock:
            requests = sum(self.requests.values())
            most = self.most_in_flight
        return {"requests": requests, "most_in_flight": most, **self.faults.stats()}

    @contextmanager
    def answering(self) -> t.Iterator[None]:
        """Count a request among those being answered while it is."""
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            yield
        finally:
            with self._lock:
                self.in_flight -= 1

    def count(
        self, target: str, headers: t.Mapping[str, str] | None = None, raw: str | None = None
    ) -> None:
        """Count a request by its path and query, for tests that check what the tap asked."""
        with self._lock:
            self.requests[target] += 1
            self.seen.append((raw or target, dict(headers or {})))
            del self.seen[:-10_000]


class Sandbox:
    """The sandbox running in a background thread: ``with Sandbox() as sb: sb.url``."""

    def __init__(self, port: int = 0, **options: t.Any) -> None:
        """Make the server; ``options`` are SandboxServer's (dataset, auth, faults, ...)."""
        self.server = SandboxServer(port, **options)
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Return the server's origin, which is also jsonplaceholder's base URL."""
        return f"http://{HOST}:{self.server.server_port}"

    @property
    def pokeapi_url(self) -> str:
        """Return PokeAPI's base URL on this server."""
        return self.url + POKEAPI_PREFIX

    @property
    def token_url(self) -> str:
        """Return the OAuth token endpoint's URL."""
        return self.url + TOKEN_PATH

    def start(self) -> Sandbox:
        """Start serving in the background."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tap-rest-sandbox", description=__doc__)
    parser.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument(
        "--scale", type=int, default=1, help="multiply every collection's size (100: 10,000 posts)"
    )
    parser.add_argument(
        "--fixtures",
        type=Path,
        help="serve the real public data in this folder (shared/fixtures), not generated data",
    )
    defaults = AuthSpec()
    group = parser.add_argument_group("authentication (every endpoint but /oauth/token)")
    group.add_argument("--auth", choices=MODES, default="none", help="credential to demand")
    group.add_argument("--api-key", default=defaults.api_key, help="key for --auth api_key")
    group.add_argument(
        "--api-key-header", default=defaults.api_key_header, help="header that may carry the key"
    )
    group.add_argument(
        "--api-key-param", default=defaults.api_key_param, help="query parameter that may carry it"
    )
    group.add_argument("--token", default=defaults.token, help="token for --auth bearer")
    group.add_argument("--username", default=defaults.username, help="user for --auth basic")
    group.add_argument("--password", default=defaults.password, help="password for --auth basic")
    group.add_argument("--client-id", default=defaults.client_id, help="client for --auth oauth2")
    group.add_argument("--client-secret", default=defaults.client_secret, help="its secret")
    group.add_argument(
        "--token-lifetime",
        type=float,
        default=defaults.token_lifetime,
        help="seconds an OAuth token stays valid (e.g. 2, shorter than a run)",
    )
    group.add_argument(
        "--refresh-token", default=defaults.refresh_token, help="refresh token for --auth oauth2"
    )
    group.add_argument(
        "--no-refresh-rotation",
        action="store_true",
        help="keep the refresh token valid when it is used (default: a new one on every use)",
    )
    chaos = parser.add_argument_group("faults (deterministic under --seed)")
    chaos.add_argument("--seed", type=int, default=0, help="seed of every fault decision")
    chaos.add_argument("--fail-rate", type=float, default=0.0, help="share of 500/502/503/504")
    chaos.add_argument(
        "--reset-rate", type=float, default=0.0, help="share of connections dropped mid-response"
    )
    chaos.add_argument(
        "--truncate-rate", type=float, default=0.0, help="share of JSON bodies cut short"
    )
    chaos.add_argument("--latency-ms", type=float, default=0.0, help="delay before each answer")
    chaos.add_argument(
        "--rate-limit", type=float, default=None, help="requests per second; beyond it 429"
    )
    chaos.add_argument(
        "--retry-after-format",
        choices=RETRY_AFTER_FORMATS,
        default="both",
        help="Retry-After as delta-seconds, an HTTP-date, or each in turn",
    )
    chaos.add_argument(
        "--quota",
        type=int,
        default=None,
        help="GitHub-style quota: N requests per --quota-window, then 403 until the reset",
    )
    chaos.add_argument(
        "--quota-window", type=float, default=2.0, help="seconds of each quota window"
    )
    chaos.add_argument(
        "--no-rate-limit-headers",
        action="store_true",
        help="do not send RateLimit-Limit/Remaining/Reset",
    )
    parser.add_argument(
        "--total-offset",
        type=int,
        default=0,
        help="report every list's total this many records above what it serves (a lying API)",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser


def main(argv: list[str] | None = None) -> None:
    """Run the sandbox until SIGINT or SIGTERM."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        faults = FaultSpec(
            seed=args.seed,
            fail_rate=args.fail_rate,
            reset_rate=args.reset_rate,
            truncate_rate=args.truncate_rate,
            latency_ms=args.latency_ms,
            rate_limit=args.rate_limit,
            retry_after_format=args.retry_after_format,
            rate_limit_headers=not args.no_rate_limit_headers,
            quota=args.quota,
            quota_window=args.quota_window,
        )
    except ValueError as exc:
        parser.error(str(exc))
    auth = AuthSpec(
        mode=args.auth,
        api_key=args.api_key,
        api_key_header=args.api_key_header,
        api_key_param=args.api_key_param,
        token=args.token,
        username=args.username,
        password=args.password,
        client_id=args.client_id,
        client_secret=args.client_secret,
        token_lifetime=args.token_lifetime,
        refresh_token=args.refresh_token,
        rotate_refresh_tokens=not args.no_refresh_rotation,
    )
    if args.scale < 1:
        parser.error("--scale must be at least 1")
    try:
        dataset = data.Fixtures(args.fixtures) if args.fixtures else data.Generated(args.scale)
    except (OSError, ValueError, KeyError) as exc:
        parser.error(f"--fixtures {args.fixtures}: cannot read the real data: {exc}")
    try:
        server = SandboxServer(
            args.port,
            dataset=dataset,
            auth=auth,
            faults=faults,
            total_offset=args.total_offset,
            verbose=args.verbose,
        )
    except OSError as exc:
        parser.exit(1, f"tap-rest-sandbox: cannot listen on {HOST}:{args.port}: {exc}\n")

    def stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    origin = f"http://{HOST}:{server.server_port}"
    print(
        f"tap-rest-sandbox listening on {origin} "
        f"({'real data' if args.fixtures else f'scale {args.scale}'}): "
        f"jsonplaceholder at {origin}, PokeAPI at {origin}{POKEAPI_PREFIX}, "
        f"auth {args.auth}",
        flush=True,
    )
    server.serve_forever()
    server.server_close()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
