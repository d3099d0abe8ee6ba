"""Fetching ahead: worker threads fetch independent partitions while the main thread writes."""

from __future__ import annotations

import threading
import typing as t
from concurrent.futures import Future, ThreadPoolExecutor

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class Fetchable(t.Protocol):
    """A stream whose partitions can be fetched whole in a worker thread."""

    name: str

    def fetch_partition(self, context: Context | None) -> list[list[dict]]:
        """Fetch every page of a partition."""
        ...


class Prefetcher:
    """Fetches partitions that do not depend on one another in worker threads, ahead of use.

    The main thread still writes every record, in order; a partition's pages are held from the
    moment they are fetched until they are written, so memory is bounded by the window of
    partitions in flight (the children of one parent page, or ``window`` entities by id).
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.window = workers * 2
        self.enabled = workers > 1
        self._executor = (
            ThreadPoolExecutor(workers, thread_name_prefix="tap-rest") if self.enabled else None
        )
        self._futures: dict[tuple[str, tuple], Future] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(stream: Fetchable, context: t.Mapping[str, t.Any] | None) -> tuple[str, tuple]:
        return stream.name, tuple(sorted((context or {}).items()))

    def submit(self, stream: Fetchable, context: t.Mapping[str, t.Any]) -> None:
        """Start fetching a partition, unless it is already on its way."""
        if self._executor is None:
            return
        key = self._key(stream, context)
        with self._lock:
            if key not in self._futures:
                self._futures[key] = self._executor.submit(stream.fetch_partition, dict(context))

    def take(self, stream: Fetchable, context: t.Mapping[str, t.Any] | None) -> Future | None:
        """Return (and forget) the fetch of a partition, if one was started."""
        with self._lock:
            return self._futures.pop(self._key(stream, context), None)

    def shutdown(self) -> None:
        """Cancel what has not started; let running fetches end with their requests."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)


def children_ahead(
    prefetcher: Prefetcher, stream: t.Any, page: list[dict], context: Context | None
) -> None:
    """Start fetching the child partitions of a page's records, in the worker threads.

    Each child is keyed by the context it will ask for: the parent's child context as the
    child's ``preprocess_context`` prepares it, after the parent's post-processing and filter.
    """
    if not prefetcher.enabled or not stream.syncs_children:
        return
    children = [c for c in stream.child_streams if c.selected or c.has_selected_descendents]
    for record in page:
        processed = stream.post_process(dict(record), context)
        if processed is None or not stream.stream_maps[0].get_filter_result(processed):
            continue
        child_context = stream.get_child_context(processed, context)
        for child in children:
            prefetcher.submit(child, child.preprocess_context(dict(child_context)))


def entities_ahead(prefetcher: Prefetcher, stream: t.Any, context: Context) -> None:
    """Start fetching the entities by id from this one on, a window of them."""
    if not prefetcher.enabled:
        return
    partitions = stream.partitions or []
    start = next((n for n, p in enumerate(partitions) if p == dict(context)), len(partitions))
    for partition in partitions[start : start + prefetcher.window]:
        prefetcher.submit(stream, partition)
