"""The practical ceiling in Python: a plain requests loop writing records as JSON lines.

bulk: every page of /photos; fanout: /posts, then each post's comments, one at a time;
child: /albums, then each album's photos, page after page until a short page, one at a time.
"""

from __future__ import annotations

import json
import sys

import requests


def pages(session: requests.Session, url: str, size: int) -> list[dict]:
    """Return every record of a list, paged by ``_page``/``_limit`` until a short page."""
    records: list[dict] = []
    page = 1
    while True:
        got = session.get(url, params={"_page": page, "_limit": size}).json()
        records += got
        if len(got) < size:
            return records
        page += 1


def main() -> None:
    """Run one of the loops against the sandbox at argv[2]."""
    mode, base, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
    session = requests.Session()
    out = sys.stdout
    if mode == "child":
        for album in pages(session, f"{base}/albums", size):
            out.write(json.dumps(album) + "\n")
            for photo in pages(session, f"{base}/albums/{album['id']}/photos", size):
                out.write(json.dumps(photo) + "\n")
        out.flush()
        return
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
