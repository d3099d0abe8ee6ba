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


class Gate:
    """Lets at most ``limit`` fetches run at once; the limit follows what the run is bound by.

    Against a slow server the fetches wait on the network, and ten threads fetching at once
    make the run ten times as fast. Against a fast one (an API on the same network, a cache)
    every response is Python work under the one GIL, and the threads only take turns with
    the thread that writes: ten of them made 102,000 child records 25 % slower than one
    (benchmarks/run.py pages100). So the gate watches the process's CPU time against the
    wall clock: a run near one core's worth halves its limit, a run that mostly waits doubles
    it, up to ``most``. Threads over the limit wait on a condition, not for the GIL. At 0
    nothing new is fetched ahead (``inline``): the writer fetches each partition itself, as
    a plain loop would, until the run waits on the server again; what was queued runs one
    at a time.
    """

    def __init__(
        self,
        most: int,
        *,
        clock: t.Callable[[], float] = time.monotonic,
        cpu: t.Callable[[], float] = time.process_time,
    ) -> None:
        self.most = self.limit = most
        self._clock, self._cpu = clock, cpu
        self._active = 0
        self._closed = False
        self._turn = threading.Condition()
        self._since, self._cpu_since = clock(), cpu()

    def run(self, fetch: t.Callable[..., T], *args: t.Any) -> T:
        """Run a fetch once a slot is free (in a worker thread)."""
        with self._turn:
            while self._active >= max(self.limit, 1) and not self._closed:
                self._turn.wait()
            if self._closed:
                raise GateClosedError("the run stopped before this fetch began")
            self._active += 1
        try:
            return fetch(*args)
        finally:
            with self._turn:
                self._active -= 1
                self._turn.notify()

    def pace(self) -> None:
        """Judge the limit by the CPU the run used since the last judgement (the writer calls)."""
        now = self._clock()
        elapsed = now - self._since
        if elapsed < WINDOW:
            return
        used = self._cpu()
        busy = (used - self._cpu_since) / elapsed
        self._since, self._cpu_since = now, used
        if busy > BUSY and self.limit > 0:
            self.limit //= 2
        elif busy < IDLE and self.limit < self.most:
            with self._turn:
                self.limit = min(self.most, max(1, self.limit * 2))
                self._turn.notify_all()

    @property
    def inline(self) -> bool:
        """Tell whether the writer had best fetch for itself: no thread would make it faster."""
        return self.limit == 0

    def close(self) -> None:
        """Turn away the fetches still waiting for a slot."""
        with self._turn:
            self._closed = True
            self._turn.notify_all()
