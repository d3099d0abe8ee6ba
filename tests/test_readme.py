"""The README's examples work as written: its JSON examples are valid settings, and its shell
walks through run in a fresh shell against a sandbox (on a free port instead of 8080)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess

import pytest

from tap_rest.config import CONFIG_SCHEMA
from tap_rest.streams import STREAM_TYPES
from tap_rest.validate import config_problems
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()
BUILTIN = {cls.name for cls in STREAM_TYPES}
SETTINGS = set(CONFIG_SCHEMA["properties"]) | {"stream_maps"}


def json_examples() -> list[dict]:
    """Every JSON object the README shows in a json block (one per line where several)."""
    found = []
    decoder = json.JSONDecoder()
    for block in re.findall(r"```json\n(.*?)```", README, flags=re.DOTALL):
        at = 0
        while block[at:].strip():
            at += len(block[at:]) - len(block[at:].lstrip())
            example, at = decoder.raw_decode(block, at)
            found.append(example)
    return found


def as_config(example: dict) -> dict | None:
    """Return the config an example shows: settings, a definition, or an auth object."""
    if set(example) <= SETTINGS:
        return example
    if "name" in example and "path" in example:
        apis = {example["api"]: {"base_url": "http://127.0.0.1:8080"}} if "api" in example else {}
        parent = (example.get("parent") or {}).get("stream")
        stub = {
            "name": parent,
            "base_url": "http://127.0.0.1:8080",
            "path": "/",
            "primary_keys": ["id"],
        }
        return {"streams": [stub, example] if parent else [example], "apis": apis}
    if "type" in example:
        return {"auth": example}
    return None


@pytest.mark.parametrize("example", json_examples(), ids=lambda e: json.dumps(e)[:60])
def test_each_json_example_is_a_valid_config(example) -> None:
    config = as_config(example)
    assert config is not None, f"not a setting, a definition nor an auth: {example}"
    apis = {
        d["api"]: {"base_url": "http://127.0.0.1:8080"}
        for d in config.get("streams", [])
        if "api" in d
    }
    config = {**config, "apis": {**apis, **config.get("apis", {})}}
    if not config["apis"]:
        del config["apis"]
    assert config_problems(config, CONFIG_SCHEMA, BUILTIN) == []


def shell_block(after: str) -> str:
    """Return the first bash block after a line of the README."""
    start = README.index(after)
    return re.search(r"```bash\n(.*?)```", README[start:], flags=re.DOTALL).group(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_shell(block: str, cwd, **env: str) -> subprocess.CompletedProcess:
    """Run a README block as a user would, in a fresh bash with the project's tools on PATH."""
    port = str(free_port())
    # The sandbox is up once it answers: wait for it, as a user would, before the next line.
    wait = f"for _ in $(seq 50); do curl -s 127.0.0.1:{port}/ >/dev/null && break; sleep 0.1; done"
    script = "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n"
    script += block.replace("8080", port).replace(" &\n", f" &\n{wait}\n", 1)
    path = f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}"
    return subprocess.run(
        ["bash", "-c", script],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "PATH": path, **env},
    )


def test_the_sandbox_example_runs_as_written(tmp_path) -> None:
    proc = run_shell(shell_block("Against the sandbox:"), tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split()[-1] == "6656"


def test_the_shop_walk_through_runs_as_written(tmp_path) -> None:
    proc = run_shell(shell_block("A walk through, on the sandbox's shop"), tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    counts = [re.sub(r".*}", "", line) for line in proc.stdout.splitlines()[-2:]]
    assert counts == ["0", "2"], proc.stdout
    assert sum(1 for _ in (tmp_path / "run1.jsonl").open()) > 250
