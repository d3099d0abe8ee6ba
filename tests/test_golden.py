"""The same Singer output, byte for byte, as the recorded run (tests/golden/full_sync.txt).

The picture was taken from a full default sync of the sandbox before the code was restructured
(``tests/golden.py`` says how); a change that alters the output on purpose updates it with
``python -m tests.test_golden`` and says why in its commit.
"""

from __future__ import annotations

import difflib
import sys

from tests.conftest import ROOT, TapRun
from tests.golden import normalised_lines, skeleton

GOLDEN = ROOT / "tests" / "golden" / "full_sync.txt"


def picture(run: TapRun, origin: str) -> list[str]:
    return skeleton(normalised_lines(run.stdout, origin))


def test_a_full_sync_writes_exactly_the_recorded_output(full_run: TapRun, sandbox) -> None:
    expected = GOLDEN.read_text().splitlines()
    actual = picture(full_run, sandbox.url)
    if actual != expected:
        diff = "\n".join(list(difflib.unified_diff(expected, actual, lineterm="", n=1))[:40])
        raise AssertionError(f"the output differs from {GOLDEN.name}:\n{diff}")


if __name__ == "__main__":  # rewrite the picture from a run of the current code
    import tempfile
    from pathlib import Path

    from tap_rest.sandbox import Sandbox
    from tests.conftest import run_tap

    with Sandbox() as sb, tempfile.TemporaryDirectory() as tmp:
        run = run_tap(Path(tmp), {"jsonplaceholder_url": sb.url, "pokeapi_url": sb.pokeapi_url})
        if run.returncode:
            sys.exit(run.stderr)
        GOLDEN.write_text("\n".join(picture(run, sb.url)) + "\n")
