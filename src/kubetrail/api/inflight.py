"""How many bytes of event pages the API holds at once: a budget large pages wait for.

A page is read whole from the store before its first byte is sent (the next page's
cursor travels in a header), and it is held until the client has read it all. A
``limit=5000`` page of the demo's 4 KB documents is 5.6 MB; 200 such requests at
once held ~1.8 GB, most of it never returned to the system (bench/README.md, "API
memory under a burst of large pages"). So every page reserves its expected size
from one :class:`ByteBudget` before it is read, corrects it to its real size once
read, and gives it back when the answer has been sent or the client has gone.

A reservation that does not fit waits, in arrival order, and never fails: a large
request is slower under a burst, not refused. Small ones (up to ``never_wait``
bytes) are granted at once and only counted, so a ``limit=10`` query does not queue
behind a burst of large ones. A reservation larger than the whole budget is
granted when nothing else is held, so it runs alone.

The budget lives on one event loop: reserve and release from coroutines (or
callbacks) of that loop, never from worker threads.
"""

from __future__ import annotations

from collections import deque

import anyio

#: What a page is expected to hold per event before it is read: the demo's documents
#: are ~4 KB of JSON, a synthetic cluster's ~2 KB. Corrected once the page is read.
ROW_BYTES_ESTIMATE = 4096
#: Bytes of pages held at once (measured: bench/api_memory.py).
PAGE_BUDGET_BYTES = 32 * 1024 * 1024
#: A page expected to hold up to this never waits (``limit`` up to 256 at the estimate).
SMALL_PAGE_BYTES = 1024 * 1024


class Reservation:
    """Bytes held from a :class:`ByteBudget` until :meth:`release`."""

    __slots__ = ("_budget", "nbytes")

    def __init__(self, budget: ByteBudget, nbytes: int) -> None:
        self._budget: ByteBudget | None = budget
        self.nbytes = nbytes

    def resize(self, nbytes: int) -> None:
        """Hold ``nbytes`` instead (the page's real size once read). Growing is
        always granted; whoever waits then waits longer."""
        if self._budget is not None:
            self._budget._change(nbytes - self.nbytes)
            self.nbytes = nbytes

    def release(self) -> None:
        """Give the bytes back; a second call does nothing."""
        budget, self._budget = self._budget, None
        if budget is not None:
            budget._change(-self.nbytes)


class _Waiter:
    __slots__ = ("event", "granted", "nbytes")

    def __init__(self, nbytes: int) -> None:
        self.nbytes = nbytes
        self.event = anyio.Event()
        self.granted = False


class ByteBudget:
    """At most ``capacity`` bytes reserved at once, except that a reservation of up to
    ``never_wait`` bytes is granted at once (and counted), and a larger one than
    ``capacity`` is granted when nothing else is held."""

    def __init__(self, capacity: int, *, never_wait: int = 0) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1 byte")
        self.capacity = capacity
        self.never_wait = never_wait
        self.in_use = 0
        self._waiters: deque[_Waiter] = deque()

    @property
    def waiting(self) -> int:
        """How many reservations wait."""
        return len(self._waiters)

    def _fits(self, nbytes: int) -> bool:
        return self.in_use == 0 or self.in_use + nbytes <= self.capacity

    async def reserve(self, nbytes: int) -> Reservation:
        """``nbytes`` from the budget, once they fit (see the class)."""
        nbytes = max(nbytes, 0)
        if nbytes <= self.never_wait or (not self._waiters and self._fits(nbytes)):
            self.in_use += nbytes
            return Reservation(self, nbytes)
        waiter = _Waiter(nbytes)
        self._waiters.append(waiter)
        try:
            await waiter.event.wait()
        except BaseException:  # cancelled (the client went away): leave no trace
            if waiter.granted:
                self._change(-nbytes)
            else:
                self._waiters.remove(waiter)
                self._grant()  # a large waiter gone may let the next ones in
            raise
        return Reservation(self, nbytes)

    def _change(self, delta: int) -> None:
        self.in_use += delta
        if delta < 0:
            self._grant()

    def _grant(self) -> None:
        """Let waiters in, oldest first, while the oldest fits."""
        while self._waiters and self._fits(self._waiters[0].nbytes):
            waiter = self._waiters.popleft()
            self.in_use += waiter.nbytes
            waiter.granted = True
            waiter.event.set()


def page_budget() -> ByteBudget:
    """The budget of the API's event pages."""
    return ByteBudget(PAGE_BUDGET_BYTES, never_wait=SMALL_PAGE_BYTES)
