"""The writer: the per-record fast path writes exactly what the SDK would, and only when that is
safe; a signal never cuts a message."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time

import pytest
from singer_sdk.helpers._util import utc_now

from tap_rest.sandbox.data import Generated
from tap_rest.tap import TapRest

DATA = Generated()


@pytest.fixture
def tap() -> TapRest:
    return TapRest(config={"jsonplaceholder_url": "http://127.0.0.1:9"}, validate_config=False)


def written(stream, record: dict, monkeypatch) -> dict:
    """Write one record through the stream and return the RECORD message as a target reads it."""
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    stream._extracted_at = utc_now()
    stream._write_record_message(dict(record))
    stream._tap.message_writer.flush()
    return json.loads(out.getvalue())


@pytest.mark.parametrize(
    ("stream", "collection"),
    [
        ("posts", "posts"),
        ("post_comments", "comments"),
        ("todos", "todos"),
        ("album_photos", "photos"),
    ],
)
def test_flat_records_take_the_fast_path_and_match_the_sdk(
    tap, monkeypatch, stream, collection
) -> None:
    target = tap.streams[stream]
    record = DATA.get(collection, 1)
    assert target._fast_check is not None
    assert target._fast_check(record)
    fast = written(target, record, monkeypatch)
    sdk = next(target._generate_record_messages(dict(record))).to_dict()
    assert fast["record"] == sdk["record"] == record
    assert fast["type"] == "RECORD"
    assert fast["stream"] == stream
    assert "time_extracted" in fast


def test_nested_streams_use_the_sdk_path(tap) -> None:
    assert tap.streams["users"]._fast_check is None
    assert tap.streams["ability_details"]._fast_check is None


@pytest.mark.parametrize(
    "changed",
    [{"completed": 1}, {"id": "7"}, {"id": True}, {"extra": "not in the schema"}, {"title": 3}],
)
def test_a_record_off_its_types_is_conformed_by_the_sdk(tap, monkeypatch, changed) -> None:
    todos = tap.streams["todos"]
    record = {**DATA.get("todos", 1), **changed}
    assert not todos._fast_check(record)
    message = written(todos, record, monkeypatch)
    assert "extra" not in message["record"]


def test_a_stream_map_turns_the_fast_path_off(monkeypatch) -> None:
    config = {"stream_maps": {"posts": {"title_upper": "title.upper()"}}}
    tap = TapRest(
        config={"jsonplaceholder_url": "http://127.0.0.1:9", **config}, validate_config=False
    )
    posts = tap.streams["posts"]
    assert posts._fast_check is None
    message = written(posts, DATA.get("posts", 1), monkeypatch)
    assert message["record"]["title_upper"] == DATA.get("posts", 1)["title"].upper()


WRITER_SCRIPT = """
import signal, sys
from singer_sdk.singerlib import RecordMessage, StateMessage
from tap_rest.errors import Interrupted
from tap_rest.writer import GuardedWriter
writer = GuardedWriter()
signal.signal(signal.SIGTERM, lambda s, f: writer.guard.handle(s))
print("ready", file=sys.stderr, flush=True)
try:
    while True:
        writer.write_message(RecordMessage(stream="s", record={"x": "y" * 5000}))
except Interrupted:
    writer.write_message(StateMessage(value={"done": True}))
"""


def test_a_signal_never_cuts_a_message_even_on_a_full_pipe() -> None:
    # Nobody reads the pipe until after the signal: the writer is blocked mid-write.
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER_SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stderr is not None
    assert proc.stderr.readline().strip() == b"ready"
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    lines = out.decode().splitlines()
    assert len(lines) > 5
    messages = [json.loads(line) for line in lines]
    assert all(m["record"] == {"x": "y" * 5000} for m in messages[:-1])
    assert messages[-1] == {"type": "STATE", "value": {"done": True}}
