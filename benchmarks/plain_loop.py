"""The practical ceiling in Python: a plain requests loop writing records as JSON lines.

bulk: every page of /photos; fanout: /posts, then each post's comments, one at a time;
child: /albums, then each album's photos, page after page until a short page, one at a time;
limited: fanout against a rate limit, each 429 retried after its Retry-After (seconds or date).
"""

from __future__ import annotations

import json
import sys
import time
from email.utils import parsedate_to_datetime

import requests


def get(session: requests.Session, url: str, **params: object) -> requests.Response:
    """GET a URL; a 429 waits for its Retry-After, then tries again."""
    while True:
        response = session.get(url, params=params)
        if response.status_code != 429:
            response.raise_for_status()
            return response
        after = response.headers["Retry-After"]
        if after.isdigit():
            time.sleep(int(after))
        else:
            time.sleep(max(parsedate_to_datetime(after).timestamp() - time.time(), 0))


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
        records = get(session, f"{base}{path}", _page=page, _limit=size).json()
        if not records:
            break
        for record in records:
            out.write(json.dumps(record) + "\n")
            if mode != "bulk":
                for comment in get(session, f"{base}/posts/{record['id']}/comments").json():
                    out.write(json.dumps(comment) + "\n")
        page += 1
    out.flush()


if __name__ == "__main__":
    main()
