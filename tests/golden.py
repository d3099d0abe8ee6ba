"""A compact, exact picture of a run's Singer output, for before/after comparisons.

SCHEMA and STATE messages are kept whole; each run of RECORD messages of one stream becomes one
line with their count and the SHA-256 of their exact text. ``time_extracted`` (the clock) is
dropped and the sandbox's origin (its port) replaced by ``ORIGIN``; nothing else is touched.
"""

from __future__ import annotations

import hashlib
import json


def normalised_lines(stdout: str, origin: str) -> list[str]:
    """Return the output's messages, one canonical JSON line each, without clock or port."""
    lines = []
    for line in stdout.splitlines():
        if not line.startswith("{"):
            continue
        message = json.loads(line)
        message.pop("time_extracted", None)
        lines.append(json.dumps(message, sort_keys=True).replace(origin, "ORIGIN"))
    return lines


def skeleton(lines: list[str]) -> list[str]:
    """Collapse each run of one stream's RECORDs into ``RECORDS <stream> <n> <sha256>``."""
    out: list[str] = []
    run: list[str] = []
    stream = None

    def close() -> None:
        if run:
            digest = hashlib.sha256("\n".join(run).encode()).hexdigest()
            out.append(f"RECORDS {stream} {len(run)} {digest}")
            run.clear()

    for line in lines:
        message = json.loads(line)
        if message["type"] == "RECORD":
            if message["stream"] != stream:
                close()
                stream = message["stream"]
            run.append(line)
            continue
        close()
        stream = None
        out.append(line)
    close()
    return out
