"""Ending the process: within seconds of SIGTERM or SIGINT, never waiting for worker threads.

A signal handler must take no lock (the main thread may hold it when the signal arrives), so
it only raises at the next safe point (``writer.SignalGuard``) and wakes the watchdog through a
pipe. The process then ends with ``os._exit`` once the final STATE and summary are written:
worker threads only fetch, and a worker blocked on a lock or a slow request must not hold the
exit. Should that shutdown stall (a target that stopped reading), the watchdog ends the process
with the signal's exit code after ``grace`` seconds.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
import typing as t

#: seconds a clean shutdown may take after a signal before the watchdog ends the process
GRACE = 8.0


class Watchdog:
    """A daemon thread that ends the process if the shutdown a signal started has stalled."""

    def __init__(self, grace: float = GRACE) -> None:
        self.grace = grace
        self._read, self._write = os.pipe()
        self.armed = False

    def arm(self) -> None:
        """Start watching (once), from the main thread, before any signal can arrive."""
        if not self.armed:
            self.armed = True
            threading.Thread(target=self._watch, name="tap-rest-watchdog", daemon=True).start()

    def trigger(self, signum: int) -> None:
        """Wake the watchdog (safe in a signal handler: one write to a pipe, no lock)."""
        with contextlib.suppress(OSError):
            os.write(self._write, bytes([signum & 0xFF]))

    def _watch(self) -> None:
        signum = os.read(self._read, 1)[0]
        time.sleep(self.grace)
        with contextlib.suppress(OSError):
            os.write(2, b"tap-rest: error: the shutdown stalled; exiting now\n")
        os._exit(128 + signum)


WATCHDOG = Watchdog()


def hard_exit(code: int, flush: t.Callable[[], None] | None = None) -> t.NoReturn:
    """Flush what was written, then end the process now, not waiting for worker threads."""
    for step in (flush, sys.stdout.flush, sys.stderr.flush):
        if step is not None:
            with contextlib.suppress(Exception):
                step()
    os._exit(code)
