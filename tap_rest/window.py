"""Windows: a run that reads one time window [start, end) of its incremental streams.

A stream definition with ``window_end_param`` can be read a window at a time: the ``window``
setting's ``start`` goes out as the stream's ``bookmark_param`` and its ``end`` as
``window_end_param``, so that a backfill splits into disjoint windows that run anywhere, in any
order, at once. The tap also keeps only the records whose replication key lies in [start, end),
so an API whose end parameter includes its bound does not put a record into two windows.

A window run reads only those streams (and their children): a stream that cannot be read by
window would be read whole by every window. A window is read whole, whatever the STATE's
bookmark, and a window run leaves every bookmark as its input STATE had it: it never moves a
stream's bookmark past data it did not read (the records before the window). Its STATE still
resumes an interrupted window at its last page.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import typing as t
from dataclasses import dataclass, field

logger = logging.getLogger("tap-rest")

#: a window bound as the config gives it: an ISO 8601 date or time, or epoch seconds
Bound = str | int | float | None


def instant(value: t.Any) -> float | None:
    """Return a bound or replication key value as seconds since the epoch, else None.

    ISO 8601 dates and times (a naive one is UTC) and numbers (epoch seconds) compare; anything
    else cannot be placed in a window.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.timezone.utc)
        return moment.timestamp()
    return None


@dataclass
class Window:
    """The ``window`` setting: the bounds this run reads, each optional."""

    start: Bound = None
    end: Bound = None
    #: set aside while discovery samples records: a schema is the whole list's, not a window's
    aside: bool = field(default=False, compare=False)
    _outside: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_config(cls, config: t.Mapping[str, t.Any]) -> Window:
        """Read the ``window`` setting (validation has checked it)."""
        setting = config.get("window") or {}
        return cls(setting.get("start"), setting.get("end"))

    @property
    def active(self) -> bool:
        """Tell whether this run reads a window."""
        return not self.aside and (self.start is not None or self.end is not None)

    @contextlib.contextmanager
    def set_aside(self) -> t.Iterator[None]:
        """Read whole lists inside this block (schema inference samples the whole list)."""
        self.aside = True
        try:
            yield
        finally:
            self.aside = False

    def __str__(self) -> str:
        start = "..." if self.start is None else self.start
        return f"[{start}, {'...' if self.end is None else self.end})"

    def applies_to(self, stream: t.Any) -> bool:
        """Tell whether a stream is read by window in this run (it has ``window_end_param``)."""
        definition = getattr(stream, "definition", None) or {}
        return self.active and bool(definition.get("window_end_param"))

    def params(self, definition: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
        """Return the query parameters that ask the API for this window."""
        params: dict[str, t.Any] = {}
        if self.start is not None:
            params[definition["bookmark_param"]] = self.start
        if self.end is not None:
            params[definition["window_end_param"]] = self.end
        return params

    def contains(self, value: t.Any) -> bool:
        """Tell whether a replication key value lies in [start, end); one not comparable stays."""
        point = instant(value)
        if point is None:
            return True
        start, end = instant(self.start), instant(self.end)
        return (start is None or point >= start) and (end is None or point < end)

    def keep(self, stream: t.Any, page: list[dict]) -> list[dict]:
        """Return the records of a page that lie in the window."""
        if not self.applies_to(stream):
            return page
        key = stream.replication_key
        kept = [r for r in page if self.contains(r.get(key))]
        if len(kept) < len(page):
            if stream.name not in self._outside:
                logger.info(
                    "Stream '%s': records outside the window %s are left to the windows that "
                    "hold them (the API's window parameters include a bound)",
                    stream.name,
                    self,
                )
            self._outside[stream.name] = self._outside.get(stream.name, 0) + len(page) - len(kept)
        return kept
