"""What every benchmark script shares: a sandbox started on a free port for the time of a case."""

from __future__ import annotations

import re
import subprocess
import sys
import typing as t
from contextlib import contextmanager


@contextmanager
def sandbox(*flags: str) -> t.Iterator[str]:
    """Start tap-rest-sandbox on a free port with these flags; yield its origin."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tap_rest.sandbox", "--port", "0", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        match = re.search(r"http://127\.0\.0\.1:\d+", line)
        if not match:
            raise RuntimeError(f"the sandbox did not start: {line!r}")
        yield match.group(0)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
