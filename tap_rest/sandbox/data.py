"""Deterministic data for the sandbox, in the shapes and default counts of the real APIs.

Records are computed from their id on demand (nothing is held in memory), so a sandbox at
100x scale starts as fast as one at 1x and serves any page without generating the rest.
"""

from __future__ import annotations

import json
import typing as t
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

Record = dict[str, t.Any]

_MASK = (1 << 64) - 1

_WORDS = (
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt "
    "ut labore et dolore magna aliqua enim ad minim veniam quis nostrud exercitation ullamco "
    "laboris nisi aliquip ex ea commodo consequat duis aute irure in reprehenderit voluptate "
    "velit esse cillum eu fugiat nulla pariatur excepteur sint occaecat cupidatat non proident "
    "sunt culpa qui officia deserunt mollit anim id est laborum quia molestiae rerum nesciunt "
    "architecto beatae vitae dicta explicabo nemo ipsam voluptatem quas voluptas aspernatur aut "
    "odit fugit consequuntur magni dolores eos ratione sequi neque porro quisquam totam"
).split()
_FIRST = "Leanne Ervin Clementine Patricia Chelsey Dennis Kurtis Nicholas Glenna Clementina".split()
_LAST = (
    "Graham Howell Bauch Lebsack Dietrich Schulist Weissnat Runolfsdottir Reichert DuBuque".split()
)
_CITIES = "Gwenborough Wisokyburgh McKenziehaven SouthElvis Roscoeview Aliyaview Howemouth".split()
_TLDS = ("biz", "tv", "net", "org", "info", "io", "com")


def _mix(*parts: int) -> int:
    """Return a well-mixed 64-bit integer from the given integers (splitmix64)."""
    x = 0x9E3779B97F4A7C15
    for p in parts:
        x = (x ^ (p & _MASK)) * 0xBF58476D1CE4E5B9 & _MASK
        x = (x ^ (x >> 31)) * 0x94D049BB133111EB & _MASK
        x ^= x >> 29
    return x


def _words(seed: int, lo: int, hi: int) -> str:
    """Return between lo and hi pseudo-latin words chosen by seed."""
    n = lo + seed % (hi - lo + 1)
    return " ".join(_WORDS[_mix(seed, i) % len(_WORDS)] for i in range(n))


def _paragraphs(seed: int) -> str:
    """Return four lines of pseudo-latin, like jsonplaceholder bodies."""
    return "\n".join(_words(_mix(seed, line), 5, 9) for line in range(4))


def _url_color(seed: int) -> str:
    """Return a six-digit hex colour."""
    return f"{seed & 0xFFFFFF:06x}"


# --- jsonplaceholder ------------------------------------------------------------------


@dataclass(frozen=True)
class Resource:
    """One jsonplaceholder collection: its size, its parent key and how a record is made."""

    name: str
    base_count: int
    make: t.Callable[[int, int], Record]
    parent_key: str | None = None
    per_parent: int = 0

    def count(self, scale: int) -> int:
        """Return how many records the collection holds at this scale."""
        return self.base_count * scale

    def parent_range(self, parent_id: int, scale: int) -> range:
        """Return the ids whose parent key equals parent_id (records are grouped by parent)."""
        first = (parent_id - 1) * self.per_parent + 1
        last = min(parent_id * self.per_parent, self.count(scale))
        return range(max(first, 1), last + 1) if parent_id >= 1 else range(0)


def _post(i: int, scale: int) -> Record:
    s = _mix(1, i)
    return {"userId": (i - 1) // 10 + 1, "id": i, "title": _words(s, 3, 10), "body": _paragraphs(s)}


def _comment(i: int, scale: int) -> Record:
    s = _mix(2, i)
    first = _WORDS[s % len(_WORDS)].capitalize()
    return {
        "postId": (i - 1) // 5 + 1,
        "id": i,
        "name": _words(s >> 3, 3, 8),
        "email": f"{first}@{_WORDS[(s >> 9) % len(_WORDS)]}.{_TLDS[(s >> 17) % len(_TLDS)]}",
        "body": _paragraphs(s >> 1),
    }


def _album(i: int, scale: int) -> Record:
    return {"userId": (i - 1) // 10 + 1, "id": i, "title": _words(_mix(3, i), 2, 7)}


def _photo(i: int, scale: int) -> Record:
    s = _mix(4, i)
    color = _url_color(s)
    return {
        "albumId": (i - 1) // 50 + 1,
        "id": i,
        "title": _words(s, 3, 9),
        "url": f"https://via.placeholder.com/600/{color}",
        "thumbnailUrl": f"https://via.placeholder.com/150/{color}",
    }


def _todo(i: int, scale: int) -> Record:
    s = _mix(5, i)
    return {
        "userId": (i - 1) // 20 + 1,
        "id": i,
        "title": _words(s, 2, 8),
        "completed": bool(s & 1),
    }


def _user(i: int, scale: int) -> Record:
    s = _mix(6, i)
    first, last = _FIRST[(i - 1) % len(_FIRST)], _LAST[(s >> 4) % len(_LAST)]
    word = _WORDS[(s >> 12) % len(_WORDS)]
    tld = _TLDS[(s >> 20) % len(_TLDS)]
    lat = ((s >> 24) % 1_800_000) / 1e4 - 90
    lng = ((s >> 40) % 3_600_000) / 1e4 - 180
    return {
        "id": i,
        "name": f"{first} {last}",
        "username": f"{first}.{last}{i}" if i > len(_FIRST) else f"{first}.{last}",
        "email": f"{first}@{word}.{tld}",
        "address": {
            "street": f"{_WORDS[(s >> 28) % len(_WORDS)].capitalize()} Light",
            "suite": f"Apt. {s % 1000}",
            "city": _CITIES[(s >> 33) % len(_CITIES)],
            "zipcode": f"{s % 100000:05d}-{(s >> 8) % 10000:04d}",
            "geo": {"lat": f"{lat:.4f}", "lng": f"{lng:.4f}"},
        },
        "phone": f"1-{s % 900 + 100}-{(s >> 10) % 900 + 100}-{(s >> 20) % 9000 + 1000}",
        "website": f"{word}.{tld}",
        "company": {
            "name": f"{last}-{_LAST[(s >> 44) % len(_LAST)]}",
            "catchPhrase": _words(s >> 5, 3, 4),
            "bs": _words(s >> 7, 3, 3),
        },
    }


RESOURCES: dict[str, Resource] = {
    r.name: r
    for r in (
        Resource("posts", 100, _post, "userId", 10),
        Resource("comments", 500, _comment, "postId", 5),
        Resource("albums", 100, _album, "userId", 10),
        Resource("photos", 5000, _photo, "albumId", 50),
        Resource("todos", 200, _todo, "userId", 20),
        Resource("users", 10, _user),
    )
}

#: nested routes the real API serves: /posts/1/comments is /comments?postId=1
NESTED: dict[tuple[str, str], str] = {
    ("posts", "comments"): "postId",
    ("albums", "photos"): "albumId",
    ("users", "posts"): "userId",
    ("users", "albums"): "userId",
    ("users", "todos"): "userId",
}


@lru_cache(maxsize=200_000)
def record(resource: str, i: int, scale: int) -> Record:
    """Return record i of a jsonplaceholder collection (callers must not mutate it)."""
    return RESOURCES[resource].make(i, scale)


# --- PokeAPI --------------------------------------------------------------------------

_LANGS = (
    ("ja-hrkt", 1),
    ("ko", 3),
    ("zh-hant", 4),
    ("fr", 5),
    ("de", 6),
    ("es", 7),
    ("it", 8),
    ("en", 9),
    ("ja", 11),
    ("zh-hans", 12),
)
_VERSION_GROUPS = (
    ("ruby-sapphire", 5),
    ("emerald", 6),
    ("firered-leafgreen", 7),
    ("diamond-pearl", 8),
    ("platinum", 9),
    ("black-white", 11),
    ("x-y", 15),
    ("sun-moon", 17),
    ("sword-shield", 20),
    ("scarlet-violet", 25),
)
_GENERATIONS = ("i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix")
_SYLLABLES = ("bl", "st", "dr", "sp", "ch", "gr", "tr", "sh", "cl", "fl", "m", "n", "r", "v")
_VOWELS = ("a", "e", "i", "o", "u", "ee", "oo", "ai")
_MAIN_ABILITIES = 313
_OTHER_ABILITIES = 60


def _ability_word(seed: int) -> str:
    n = 2 + seed % 2
    return "".join(
        _SYLLABLES[_mix(seed, k) % len(_SYLLABLES)] + _VOWELS[_mix(seed, k, 7) % len(_VOWELS)]
        for k in range(n)
    )


@dataclass(frozen=True)
class Abilities:
    """The ability collection at a scale: ids 1..N in the main series, then a block at 10001."""

    scale: int

    @property
    def main_count(self) -> int:
        """Return how many main-series abilities there are."""
        return _MAIN_ABILITIES * self.scale

    @property
    def other_base(self) -> int:
        """Return the id before the first non-main-series ability (10000 at 1x, as the real API)."""
        base = 10_000
        while base <= self.main_count:
            base *= 10
        return base

    @property
    def ids(self) -> list[int]:
        """Return every ability id in list order."""
        others = range(self.other_base + 1, self.other_base + _OTHER_ABILITIES * self.scale + 1)
        return [*range(1, self.main_count + 1), *others]

    def name(self, i: int) -> str:
        """Return the unique, url-safe name of ability i."""
        s = _mix(7, i)
        return f"{_ability_word(s)}-{_ability_word(s >> 5)}-{i}"

    def exists(self, i: int) -> bool:
        """Tell whether ability i exists."""
        return 1 <= i <= self.main_count or (
            self.other_base < i <= self.other_base + _OTHER_ABILITIES * self.scale
        )

    def lookup(self, key: str) -> int | None:
        """Return the id of the ability named or numbered key, if any."""
        if key.isdigit():
            return int(key) if self.exists(int(key)) else None
        number = key.rsplit("-", 1)[-1]
        if number.isdigit() and self.exists(int(number)) and self.name(int(number)) == key:
            return int(number)
        return None

    def detail(self, i: int, api: str) -> Record:
        """Return the detail record of ability i, with absolute URLs under api."""
        s = _mix(8, i)

        def res(kind: str, name: str, rid: int) -> Record:
            return {"name": name, "url": f"{api}/{kind}/{rid}/"}

        def lang(k: int) -> Record:
            name, lid = _LANGS[k % len(_LANGS)]
            return res("language", name, lid)

        def vgroup(k: int) -> Record:
            name, vid = _VERSION_GROUPS[k % len(_VERSION_GROUPS)]
            return res("version-group", name, vid)

        gen = s % len(_GENERATIONS)
        return {
            "effect_changes": [
                {
                    "effect_entries": [
                        {"effect": _words(_mix(s, c, k), 4, 12), "language": lang(k * 4 + 3)}
                        for k in range(2)
                    ],
                    "version_group": vgroup(s + c),
                }
                for c in range((s >> 3) % 3)
            ],
            "effect_entries": [
                {
                    "effect": _paragraphs(_mix(s, 20, k)),
                    "language": lang(k * 4 + 3),
                    "short_effect": _words(_mix(s, 21, k), 5, 10),
                }
                for k in range(2)
            ],
            "flavor_text_entries": [
                {
                    "flavor_text": _words(_mix(s, 30, k), 4, 9),
                    "language": lang(k),
                    "version_group": vgroup(k // len(_LANGS) + (s >> 7)),
                }
                for k in range(3 + (s >> 11) % 12)
            ],
            "generation": res("generation", f"generation-{_GENERATIONS[gen]}", gen + 1),
            "id": i,
            "is_main_series": i <= self.main_count,
            "name": self.name(i),
            "names": [
                {"language": lang(k), "name": _ability_word(_mix(s, 40, k))}
                for k in range(len(_LANGS))
            ],
            "pokemon": [
                {
                    "is_hidden": bool(_mix(s, 50, k) & 1),
                    "pokemon": res(
                        "pokemon", _ability_word(_mix(s, 51, k)), _mix(s, 52, k) % 1025 + 1
                    ),
                    "slot": 1 + _mix(s, 53, k) % 3,
                }
                for k in range((s >> 13) % 6)
            ],
        }


# --- datasets: generated, or the real public data for fidelity runs -----------------


class Generated:
    """The project's own deterministic data, at a scale."""

    def __init__(self, scale: int = 1) -> None:
        self.scale = scale
        self.abilities = Abilities(scale)
        self.ability_ids = self.abilities.ids

    def count(self, resource: str) -> int:
        """Return the size of a collection."""
        return RESOURCES[resource].count(self.scale)

    def get(self, resource: str, i: int) -> Record | None:
        """Return record i, or None when there is none."""
        return record(resource, i, self.scale) if 1 <= i <= self.count(resource) else None

    def ids(
        self, resource: str, parent_key: str | None = None, parent: int | None = None
    ) -> t.Sequence[int]:
        """Return the ids of a collection, or a superset of those whose parent key is parent."""
        spec = RESOURCES[resource]
        if parent is not None and parent_key == spec.parent_key:
            return spec.parent_range(parent, self.scale)
        return range(1, self.count(resource) + 1)

    def ability_name(self, i: int) -> str:
        """Return the name of ability i."""
        return self.abilities.name(i)

    def ability_lookup(self, key: str) -> int | None:
        """Return the id of the ability with this id or name."""
        return self.abilities.lookup(key)

    def ability_detail(self, i: int, api: str) -> Record:
        """Return ability i's detail record with URLs under api."""
        return self.abilities.detail(i, api)


class Fixtures:
    """The real public data (``shared/fixtures``), served as the live APIs serve it."""

    def __init__(self, folder: Path) -> None:
        raw = json.loads((folder / "jsonplaceholder" / "data.json").read_text())
        self.records: dict[str, dict[int, Record]] = {
            name: {r["id"]: r for r in raw[name]} for name in RESOURCES
        }
        ability_dir = folder / "pokeapi" / "ability"
        index = json.loads((ability_dir / "index.json").read_text())
        self.ability_ids = [int(r["url"].rstrip("/").rsplit("/", 1)[-1]) for r in index["results"]]
        self._names = {
            i: r["name"] for i, r in zip(self.ability_ids, index["results"], strict=True)
        }
        self._by_name = {n: i for i, n in self._names.items()}
        self._detail_text = {
            i: (ability_dir / str(i) / "index.json").read_text() for i in self.ability_ids
        }

    def count(self, resource: str) -> int:
        """Return the size of a collection."""
        return len(self.records[resource])

    def get(self, resource: str, i: int) -> Record | None:
        """Return record i, or None when there is none."""
        return self.records[resource].get(i)

    def ids(
        self, resource: str, parent_key: str | None = None, parent: int | None = None
    ) -> t.Sequence[int]:
        """Return every id of a collection, in the API's order."""
        return list(self.records[resource])

    def ability_name(self, i: int) -> str:
        """Return the name of ability i."""
        return self._names[i]

    def ability_lookup(self, key: str) -> int | None:
        """Return the id of the ability with this id or name."""
        if key.isdigit():
            return int(key) if int(key) in self._names else None
        return self._by_name.get(key)

    def ability_detail(self, i: int, api: str) -> Record:
        """Return ability i's detail record with absolute URLs, as the live API sends them."""
        text = self._detail_text[i].replace('"/api/v2/', f'"{api}/')
        return t.cast("Record", json.loads(text))


Dataset = Generated | Fixtures
