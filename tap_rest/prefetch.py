"""Fetching ahead: worker threads fetch pages and partitions while the main thread writes."""

from __future__ import annotations

import collections
import queue
import threading
import typing as t
from concurrent.futures import Future, ThreadPoolExecutor

from tap_rest.concurrency import IDLE, CpuShare, Gate

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

T = t.TypeVar("T")
U = t.TypeVar("U")
#: how many pages of a list a worker holds fetched ahead of the page being written
PAGES_AHEAD = 2
_END = object()


def _close(source: t.Iterator[t.Any]) -> None:
    """Close a list's page generator (its paginator's request loop), if it is one."""
    close = getattr(source, "close", None)
    if close is not None:
        close()


class _Failed:
    """What the worker hands on in place of the page it could not fetch."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


class PagesAhead(t.Generic[T]):
    """A list's pages, fetched one after the other in a worker thread, a few ahead of the writer.

    The worker follows the paginator as the main thread would have, page after page: no page
    is asked for that the paginator did not choose, so none past the end. Pages come out in
    order; an error comes out where its page would have, after every page before it. When the
    reader stops (an error, a signal, a closed generator), the worker stops at its next page.
    """

    def __init__(self, source: t.Iterator[T], depth: int) -> None:
        self._source = source
        self._queue: queue.Queue[t.Any] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        # Its own thread, not a worker's: the partitions keep every one of ``max_concurrency``.
        threading.Thread(target=self._produce, name="tap-rest-pages", daemon=True).start()

    def _put(self, item: t.Any) -> bool:
        """Hand an item on, unless the reader has stopped; tell whether it was handed on."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
            except queue.Full:
                continue
            return True
        return False

    def _produce(self) -> None:
        try:
            for item in self._source:
                if not self._put(item):
                    return
            self._put(_END)
        except BaseException as exc:  # handed to the reader, raised in its page's place
            self._put(_Failed(exc))
        finally:
            _close(self._source)

    def ready(self) -> bool:
        """Tell whether the next page is fetched already (not the end, nor an error)."""
        with self._queue.mutex:
            head = self._queue.queue[0] if self._queue.queue else _END
        return head is not _END and not isinstance(head, _Failed)

    def __iter__(self) -> t.Iterator[T]:
        """Yield each page in order; raise a fetch's error in its page's place."""
        try:
            while True:
                item = self._queue.get()
                if item is _END:
                    return
                if isinstance(item, _Failed):
                    raise item.error
                yield item
        finally:
            self._stop.set()


class ListPages(t.Generic[T]):
    """A list's pages, read by the writer while the run keeps a core busy, else fetched ahead.

    Fetching ahead pays once the run waits on the server; against a fast one its thread only
    takes turns with the writer under the GIL (100,000 records 5 to 20 % slower than read
    inline). So the writer reads the pages until a window of the run says it waits, then
    hands the rest of the list to a ``PagesAhead``.
    """

    def __init__(self, source: t.Iterator[T], depth: int, share: CpuShare | None = None) -> None:
        self._source, self._depth = source, depth
        self._share = share or CpuShare()
        self._ahead: PagesAhead[T] | None = None

    def ready(self) -> bool:
        """Tell whether the next page is fetched already (never, while read inline)."""
        return self._ahead is not None and self._ahead.ready()

    def __iter__(self) -> t.Iterator[T]:
        """Yield each page in order, the rest fetched ahead once the run waits on the server."""
        handed = False
        try:
            for page in self._source:
                yield page
                busy = self._share.judged()
                if busy is not None and busy < IDLE:
                    handed = True
                    break
        finally:
            if not handed:
                _close(self._source)
        if handed:
            self._ahead = PagesAhead(self._source, self._depth)
            yield from self._ahead


def started(pages: t.Iterable[T], start: t.Callable[[T], U]) -> t.Iterator[tuple[T, U]]:
    """Yield each page with what ``start`` made of it, the next page started first if fetched.

    ``start`` asks for a page's children, so the next page's queue behind this page's and the
    workers do not run dry at each page's end (20 ms a page at 20 ms a request). A page never
    waits for the next, and one whose start fails goes out before that failure is raised.
    """
    held: collections.deque[tuple[T, U]] = collections.deque()
    ahead = pages if isinstance(pages, (PagesAhead, ListPages)) else None
    for page in pages:
        try:
            made = start(page)
        except Exception:
            yield from held
            raise
        held.append((page, made))
        while held and not (len(held) == 1 and ahead is not None and ahead.ready()):
            yield held.popleft()
    yield from held


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
    partitions in flight (the children of two parent pages, or ``window`` entities by id).
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.window = workers * 2
        self.enabled = workers > 1
        self._executor = (
            ThreadPoolExecutor(workers, thread_name_prefix="tap-rest") if self.enabled else None
        )
        #: how many partitions are fetched at once, of ``workers`` (concurrency.py)
        self.gate = Gate(workers)
        self._futures: dict[tuple[str, tuple], Future] = {}
        #: partitions asked for while the writer fetched for itself, in order: started when
        #: the gate opens again, else taken by the writer one by one
        self._deferred: dict[tuple[str, tuple], tuple[Fetchable, dict]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(stream: Fetchable, context: t.Mapping[str, t.Any] | None) -> tuple[str, tuple]:
        return stream.name, tuple(sorted((context or {}).items()))

    def submit(self, stream: Fetchable, context: t.Mapping[str, t.Any]) -> None:
        """Start fetching a partition, unless it is on its way (or, inline, kept for later)."""
        if self._executor is None:
            return
        key = self._key(stream, context)
        with self._lock:
            if key in self._futures or key in self._deferred:
                return
            if self.gate.inline:
                self._deferred[key] = (stream, dict(context))
            else:
                self._start(key, stream, dict(context))

    def _start(self, key: tuple[str, tuple], stream: Fetchable, context: dict) -> None:
        """Hand a partition to the workers, in its turn at the gate (under the lock)."""
        assert self._executor is not None
        self._futures[key] = self._executor.submit(
            self.gate.run, self.gate.ticket(), stream.fetch_partition, context
        )

    def take(self, stream: Fetchable, context: t.Mapping[str, t.Any] | None) -> Future | None:
        """Return (and forget) the fetch of a partition, if one was started.

        When the gate has opened since partitions were kept for later, they start now: else a
        page of children asked for while inline would be read one by one to its end, however
        slow the server had become.
        """
        self.gate.pace()
        key = self._key(stream, context)
        with self._lock:
            self._deferred.pop(key, None)
            if self._deferred and not self.gate.inline:
                for later, (child, child_context) in self._deferred.items():
                    self._start(later, child, child_context)
                self._deferred.clear()
            return self._futures.pop(key, None)

    def ahead(self, source: t.Iterator[T], depth: int = PAGES_AHEAD) -> t.Iterable[T]:
        """Return a list's pages, fetched ahead once the run waits (no workers: as they come)."""
        if self._executor is None:
            return source
        return ListPages(source, depth)

    def shutdown(self) -> None:
        """Cancel what has not started; let running fetches end with their requests."""
        if self._executor is not None:
            self.gate.close()
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
