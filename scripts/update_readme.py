"""Rewrite the settings table in README.md from ``tap-rest --about --format=markdown``.

Run ``python scripts/update_readme.py`` after changing a setting; ``--check`` only compares
(a test runs it that way, so a stale README fails the suite).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- settings:start -->", "<!-- settings:end -->"


def settings_table() -> str:
    """Return the settings table that the tap itself prints."""
    about = subprocess.run(
        [sys.executable, "-m", "tap_rest", "--about", "--format=markdown"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"^## Settings\n\n(.*?)\n\n", about, flags=re.S | re.M)
    if not match:
        msg = "no '## Settings' table in `tap-rest --about --format=markdown`"
        raise SystemExit(msg)
    return match.group(1).strip()


def rendered(readme: str) -> str:
    """Return the README with its settings block replaced by the current table."""
    before, rest = readme.split(START, 1)
    _, after = rest.split(END, 1)
    return f"{before}{START}\n{settings_table()}\n{END}{after}"


def main() -> int:
    """Update the README, or with --check report whether it is current."""
    current = README.read_text()
    wanted = rendered(current)
    if "--check" in sys.argv[1:]:
        if current != wanted:
            print("README.md settings table is stale: run python scripts/update_readme.py")
            return 1
        return 0
    README.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
