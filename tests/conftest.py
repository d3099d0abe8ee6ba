"""Shared fixtures: the sandbox on a free port, and a helper that runs the tap as users do."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import typing as t
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tap_rest.sandbox import Sandbox

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT.parent / "shared" / "fixtures"

DEFAULT_COUNTS = {
    "posts": 100,
    "post_comments": 500,
    "albums": 100,
    "album_photos": 5000,
    "todos": 200,
    "users": 10,
    "abilities": 373,
    "ability_details": 373,
}


@dataclass
class TapRun:
    """What one run of the tap printed, parsed."""

    returncode: int
    stderr: str
    messages: list[dict] = field(default_factory=list)
    stdout: str = ""

    def of_type(self, kind: str) -> list[dict]:
        return [m for m in self.messages if m["type"] == kind]

    @property
    def records(self) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = defaultdict(list)
        for m in self.of_type("RECORD"):
            out[m["stream"]].append(m["record"])
        return out

    @property
    def counts(self) -> Counter[str]:
        return Counter(m["stream"] for m in self.of_type("RECORD"))


def run_tap(tmp_path: Path, config: dict, *args: str, catalog: dict | None = None) -> TapRun:
    """Run ``python -m tap_rest`` with this config (and catalog) and parse its stdout."""
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    cmd = [sys.executable, "-m", "tap_rest", "--config", str(config_file), *args]
    if catalog is not None:
        catalog_file = tmp_path / "catalog.json"
        catalog_file.write_text(json.dumps(catalog))
        cmd += ["--catalog", str(catalog_file)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    messages = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return TapRun(proc.returncode, proc.stderr, messages, proc.stdout)


@pytest.fixture(scope="session")
def sandbox() -> t.Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


@pytest.fixture
def config(sandbox: Sandbox) -> dict:
    """Config pointing both APIs at the sandbox (never at the public APIs)."""
    return {"jsonplaceholder_url": sandbox.url, "pokeapi_url": sandbox.pokeapi_url}


@pytest.fixture(scope="session")
def full_run(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> TapRun:
    """One full sync of every stream at default settings, shared by the tests that read it."""
    config = {"jsonplaceholder_url": sandbox.url, "pokeapi_url": sandbox.pokeapi_url}
    run = run_tap(tmp_path_factory.mktemp("full"), config)
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def interrupt(
    config: dict,
    tmp_path: Path,
    *,
    after_lines: int,
    after_seconds: float = 60,
    sig: int = signal.SIGTERM,
) -> dict:
    """Run the tap, reading its output as a target would, and signal it after some lines.

    Say how it ended: exit code, seconds from the signal to the exit, messages, stderr.
    """
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tap_rest", "--config", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    errors: list[str] = []
    drain = threading.Thread(target=lambda: errors.append(proc.stderr.read()), daemon=True)
    drain.start()
    lines: list[str] = []
    sent: list[float] = []

    def kill_later() -> None:
        time.sleep(after_seconds)
        if not sent and proc.poll() is None:
            sent.append(time.monotonic())
            proc.send_signal(sig)

    threading.Thread(target=kill_later, daemon=True).start()
    for line in proc.stdout:
        lines.append(line)
        if len(lines) == after_lines and not sent:
            sent.append(time.monotonic())
            proc.send_signal(sig)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    took = time.monotonic() - sent[0] if sent else 0.0
    drain.join(timeout=10)
    messages = [json.loads(line) for line in lines]
    return {
        "code": proc.returncode,
        "seconds": took,
        "messages": messages,
        "last": messages[-1] if messages else None,
        "stderr": errors[0] if errors else "",
    }
