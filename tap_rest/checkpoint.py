"""Resumable checkpoints: what a run has delivered, carried in STATE so that a rerun resumes."""

from __future__ import annotations

import copy
import dataclasses
import json
import typing as t
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from tap_rest.pagination import PageRequest
from tap_rest.redact import without_secrets

#: the STATE key of an unfinished run; a run that ends well removes it
RUN_KEY = "tap_rest_run"


def _under(url: str, base: str) -> str | None:
    """Return the rest of a URL below a base URL (``/ability/?offset=20``), else None."""
    if url.startswith(base) and url[len(base) : len(base) + 1] in ("", "/", "?"):
        return url[len(base) :]
    return None


def token_to_state(token: PageRequest | None, base: str | None = None) -> dict[str, t.Any] | None:
    """Serialise a page token for STATE; a URL below the API's base URL is kept relative.

    A relative page resumes against the API's base URL of the next run, wherever it moved. A
    body cursor and cursor headers are kept too, when present.
    """
    if token is None:
        return None
    params = [list(p) for p in token.params]
    rest = _under(token.url, base) if token.url and base else None
    value: dict[str, t.Any] = {"url": token.url, "params": params}
    if rest is not None:
        value = {"path": rest, "params": params}
    if token.body:
        value["body"] = [[path, v] for path, v in token.body_values().items()]
    if token.headers:
        value["headers"] = [list(h) for h in token.headers]
    return value


def token_from_state(
    value: t.Mapping[str, t.Any] | None, base: str | None = None
) -> PageRequest | None:
    """Read a page token back from STATE, against the API's base URL of this run.

    An absolute URL below the same path as the base URL (a STATE from before relative pages,
    or from another host) is moved onto this run's base URL.
    """
    if not value:
        return None
    params = tuple((k, v) for k, v in value.get("params", []))
    url = value.get("url")
    if value.get("path") is not None and base:
        url = base + value["path"]
    elif url and base and not url.startswith(base):
        parts, base_parts = urlsplit(url), urlsplit(base)
        rest = _under(urlunsplit(("", "", parts.path, parts.query, "")), base_parts.path)
        if rest is not None:
            url = base + rest
    return PageRequest(
        url=url,
        params=params,
        body=tuple((p, json.dumps(v, sort_keys=True)) for p, v in value.get("body", [])),
        headers=tuple((k, str(v)) for k, v in value.get("headers", [])),
    )


@dataclass
class RunProgress:
    """An unfinished run: streams completed, and where the current one stands.

    It rides in STATE under ``tap_rest_run`` while the run goes on, so that a rerun from the last
    STATE of an interrupted or failed run skips what was delivered and resumes the stream it was
    in at its last finished page.
    """

    completed: list[str] = field(default_factory=list)
    current: dict[str, t.Any] | None = None
    #: records the interrupted run had received of the stream it resumes (completeness checks;
    #: absent from a STATE that did not count them, and then the resumed stream is not judged)
    received_before: dict[str, int] = field(default_factory=dict)
    #: the bookmark the interrupted run asked the stream it resumes with: its saved page is a
    #: page of that query, not of one with the bookmark its records have since advanced
    since_before: dict[str, t.Any] = field(default_factory=dict)

    @classmethod
    def from_state(cls, state: t.Mapping[str, t.Any] | None) -> RunProgress:
        """Read the progress an interrupted run left in STATE (empty for a finished run)."""
        run = (state or {}).get(RUN_KEY) or {}
        return cls(completed=list(run.get("completed", [])), current=run.get("current"))

    def to_state(self) -> dict[str, t.Any]:
        """Return the STATE value of this progress."""
        return {"completed": list(self.completed), "current": self.current}

    def take_resume_token(self, stream: str, base: str | None = None) -> PageRequest | None:
        """Return, once, the page a stream resumes at, if the interrupted run was in it."""
        if self.current and self.current.get("stream") == stream:
            if "received" in self.current:
                self.received_before[stream] = int(self.current["received"])
            if "since" in self.current:
                self.since_before[stream] = self.current["since"]
            token, self.current = token_from_state(self.current.get("next"), base), None
            return token
        return None


class Checkpoints:
    """This run's progress in the STATE dict, and what the input STATE said.

    ``state`` is the tap's STATE dict (the SDK keeps the bookmarks in it); ``write_state``
    sends it as a STATE message. A page kept in STATE never carries a credential: the query
    parameters named ``sensitive`` are left out (the authenticator adds them back).
    """

    def __init__(
        self,
        state: dict[str, t.Any],
        write_state: t.Callable[[t.Any], None],
        sensitive: t.Iterable[str] = (),
    ) -> None:
        self.state = state
        self._write_state = write_state
        self._sensitive = tuple(sensitive)
        #: what the interrupted run that the input STATE comes from had done (read once)
        self.resume_from = RunProgress()
        #: what this run has done, carried over from the interrupted one
        self.progress = RunProgress()
        self._input_bookmarks: dict[str, t.Any] = {}
        self.state[RUN_KEY] = self.progress.to_state()

    def load(self, state: t.Mapping[str, t.Any]) -> None:
        """Read the input STATE: its bookmarks, and the progress of the run it comes from."""
        self.resume_from = RunProgress.from_state(state)
        self.progress = RunProgress(completed=list(self.resume_from.completed))
        self._input_bookmarks = copy.deepcopy(dict(state.get("bookmarks", {})))
        self.state[RUN_KEY] = self.progress.to_state()

    @property
    def resuming(self) -> bool:
        """Tell whether the input STATE comes from an interrupted run."""
        return bool(self.resume_from.completed or self.resume_from.current)

    def input_entry(self, stream: str, context: t.Mapping[str, t.Any] | None) -> dict[str, t.Any]:
        """Return the input STATE's entry for a stream or partition (empty when it has none).

        Read-only and the same for the whole run, so worker threads may ask it before the
        partition's own sync has started.
        """
        entry = self._input_bookmarks.get(stream) or {}
        if context:
            partitions = entry.get("partitions") or []
            entry = next((p for p in partitions if p.get("context") == dict(context)), {})
        return dict(entry)

    def bookmark(self, stream: str, context: t.Mapping[str, t.Any] | None) -> t.Any:
        """Return the bookmark to ask a stream or partition's records from.

        That is the replication key value the input STATE holds, or, for a top-level stream that
        resumes mid-way, the one the interrupted run asked its pages with.
        """
        if not context and stream in self.resume_from.since_before:
            return self.resume_from.since_before[stream]
        return self.input_entry(stream, context).get("replication_key_value")

    def snapshot(self) -> dict[str, t.Any]:
        """Return the STATE dict with this run's progress in it."""
        self.state[RUN_KEY] = self.progress.to_state()
        return self.state

    def write(self) -> None:
        """Write the STATE with this run's progress (when it changed since the last one)."""
        self._write_state(self.snapshot())

    def page_done(
        self,
        stream: str,
        next_page: PageRequest | None,
        base: str | None = None,
        received: int | None = None,
        *,
        incremental: bool = False,
    ) -> None:
        """Record that every page of a top-level stream before ``next_page`` was written.

        ``received`` (records received so far, for a stream whose API reports a total) rides
        along, so that a resumed stream is checked against the total as a whole.
        """
        if next_page is not None and next_page.url:
            url = without_secrets(next_page.url, self._sensitive)
            next_page = dataclasses.replace(next_page, url=url)
        page = token_to_state(next_page, base)
        current: dict[str, t.Any] | None = {"stream": stream, "next": page} if page else None
        if current is not None and received is not None:
            current["received"] = received
        if current is not None and incremental:
            current["since"] = self.bookmark(stream, None)
        self.progress.current = current
        self.write()

    def stream_done(self, stream: str) -> None:
        """Record that a top-level stream (and its children) was delivered whole."""
        if stream not in self.progress.completed:
            self.progress.completed.append(stream)
        self.progress.current = None
        self.write()

    def finish(self) -> None:
        """Drop the run's progress: a run that ends well leaves no resume marker."""
        self.state.pop(RUN_KEY, None)
        self._write_state(self.state)
