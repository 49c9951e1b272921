"""Fewer garbage collections for the hot loops: ingest, the shipper and the API.

Both allocate a few hundred containers per event (the parsed object, its
normalised copy, the row) and hold thousands of events at once (a batch of rows;
the shipper's queue of up to ``queueSize`` documents). JSON data has no cycles,
so reference counting frees all of it; the cyclic collector only rescans it.
With CPython's default thresholds (700, 10, 10) it ran a young collection every
couple of events and a full one over everything held every few thousand: in the
shipper end to end into SQLite that was about a third of its CPU, showing up as
``orjson.loads`` taking 79 µs instead of 29 (``bench/shipper.py``).

Raised thresholds count allocations, and a quiet cluster allocates slowly: the
cyclic garbage a long-running shipper does make (a watch restart's exception
and its frames, an HTTP error) would then wait hours for a full collection. A
long-running process therefore also asks for one on a clock (``full_every``).

The API (``kubetrail api``) is the same case: an object history of 200 versions
allocates ~70,000 containers, and the process holds the stores' cache of merged
groups. With the default thresholds a full collection over all of it landed
inside one request in six (p50 10.5 ms, p95 25 ms in process on a 5M store; with
:data:`THRESHOLDS` p95 9.8 ms).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

THRESHOLDS = (50_000, 20, 20)
"""A young collection every 50,000 new containers, a full one ~40 times rarer
than by default. Cycles (rare: exceptions holding frames) are still collected,
later: the shipper tracking 100,000 objects holds 224 MB instead of 216 (with
(100,000, 50, 100), as fast, 250 MB)."""


FULL_EVERY = 60.0
"""Seconds between the full collections a long-running process asks for."""


@contextmanager
def few_collections(*, full_every: float | None = None) -> Iterator[None]:
    """:data:`THRESHOLDS` while the block runs, the previous ones after it; with
    ``full_every``, also a full collection every that many seconds."""
    old = gc.get_threshold()
    gc.set_threshold(*THRESHOLDS)
    stop = threading.Event()
    if full_every is not None:
        threading.Thread(
            target=_collect_every, args=(full_every, stop), name="gc", daemon=True
        ).start()
    try:
        yield
    finally:
        stop.set()
        gc.set_threshold(*old)


def _collect_every(seconds: float, stop: threading.Event) -> None:
    while not stop.wait(seconds):
        gc.collect()
