"""The practical ceiling in Python: a plain requests loop writing records as JSON lines.

bulk: every page of /photos; fanout: /posts, then each post's comments, one at a time.
"""

from __future__ import annotations

import json
import sys

import requests


def main() -> None:
    """Run one of the two loops against the sandbox at argv[2]."""
    mode, base, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
    session = requests.Session()
    out = sys.stdout
    page = 1
    while True:
        path = "/photos" if mode == "bulk" else "/posts"
        records = session.get(f"{base}{path}", params={"_page": page, "_limit": size}).json()
        if not records:
            break
        for record in records:
            out.write(json.dumps(record) + "\n")
            if mode == "fanout":
                for comment in session.get(f"{base}/posts/{record['id']}/comments").json():
                    out.write(json.dumps(comment) + "\n")
        page += 1
    out.flush()


if __name__ == "__main__":
    main()
