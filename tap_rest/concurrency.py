"""How many fetches run at once: as many as the run can use, judged by how busy it keeps the CPU."""

from __future__ import annotations

import threading
import time
import typing as t

T = t.TypeVar("T")

#: how long the gate watches the run before it judges the limit (seconds)
WINDOW = 0.05
#: above this share of one core the run is bound by its own work: fewer threads
BUSY = 0.85
#: below this share it waits on the server: more threads
IDLE = 0.6


class GateClosedError(RuntimeError):
    """A fetch that was still waiting for its turn when the run stopped."""


class CpuShare:
    """The share of one core the process used, judged over windows of ``WINDOW`` seconds."""

    def __init__(
        self,
        clock: t.Callable[[], float] = time.monotonic,
        cpu: t.Callable[[], float] = time.process_time,
    ) -> None:
        self._clock, self._cpu = clock, cpu
        self._since, self._used = clock(), cpu()

    def judged(self) -> float | None:
        """Return the share over the window that just ended, or None while it lasts."""
        now = self._clock()
        elapsed = now - self._since
        if elapsed < WINDOW:
            return None
        used = self._cpu()
        share = (used - self._used) / elapsed
        self._since, self._used = now, used
        return share


class Gate:
    """Lets at most ``limit`` fetches run at once, in the order they were asked for.

    Against a slow server fetches wait on the network, and ten at once make the run ten times
    as fast; against a fast one each response is Python work under the one GIL, and threads
    only take turns with the writer (ten made 102,000 child records 25 % slower than none). So
    the limit halves while the process keeps a core busy and doubles while it waits, between
    0 (``inline``: nothing new is fetched ahead, the writer fetches for itself) and ``most``.
    """

    def __init__(
        self,
        most: int,
        *,
        clock: t.Callable[[], float] = time.monotonic,
        cpu: t.Callable[[], float] = time.process_time,
    ) -> None:
        self.most = self.limit = most
        self._share = CpuShare(clock, cpu)
        self._active = 0
        #: the next ticket to hand out, and the ticket whose turn it is
        self._issued = self._serving = 0
        self._closed = False
        self._turn = threading.Condition()

    def ticket(self) -> int:
        """Return a place in the line (taken when the fetch is asked for, in the writer's order)."""
        with self._turn:
            self._issued += 1
            return self._issued - 1

    def run(self, ticket: int, fetch: t.Callable[..., T], *args: t.Any) -> T:
        """Run a fetch once its turn has come and a slot is free (in a worker thread).

        In turn: the writer waits for the oldest fetch first, which a thread that just freed a
        slot must not overtake with a newer one. What was queued before the limit fell to 0
        still runs, one at a time: the writer may be waiting for it.
        """
        with self._turn:
            while not self._closed and (
                ticket != self._serving or self._active >= max(self.limit, 1)
            ):
                self._turn.wait()
            if self._closed:
                raise GateClosedError("the run stopped before this fetch began")
            self._serving += 1
            self._active += 1
            self._turn.notify_all()
        try:
            return fetch(*args)
        finally:
            with self._turn:
                self._active -= 1
                self._turn.notify_all()

    def pace(self) -> None:
        """Judge the limit by the CPU the run used since the last judgement (the writer calls)."""
        busy = self._share.judged()
        if busy is None:
            return
        with self._turn:
            if busy > BUSY and self.limit > 0:
                self.limit //= 2
            elif busy < IDLE and self.limit < self.most:
                self.limit = min(self.most, max(1, self.limit * 2))
                self._turn.notify_all()

    @property
    def inline(self) -> bool:
        """Tell whether the writer had best fetch for itself: no thread would make it faster."""
        return self.limit == 0

    def close(self) -> None:
        """Turn away the fetches still waiting for their turn."""
        with self._turn:
            self._closed = True
            self._turn.notify_all()
