"""Fewer garbage collections for the two hot loops: ingest and the shipper.

Both allocate a few hundred containers per event (the parsed object, its
normalised copy, the row) and hold thousands of events at once (a batch of rows;
the shipper's queue of up to ``queueSize`` documents). JSON data has no cycles,
so reference counting frees all of it; the cyclic collector only rescans it.
With CPython's default thresholds (700, 10, 10) it ran a young collection every
couple of events and a full one over everything held every few thousand: in the
shipper end to end into SQLite that was about a third of its CPU, showing up as
``orjson.loads`` taking 79 µs instead of 29 (``bench/shipper.py``).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

THRESHOLDS = (50_000, 20, 20)
"""A young collection every 50,000 new containers, a full one ~40 times rarer
than by default. Cycles (rare: exceptions holding frames) are still collected,
later: the shipper tracking 100,000 objects holds 224 MB instead of 216 (with
(100,000, 50, 100), as fast, 250 MB)."""


@contextmanager
def few_collections() -> Iterator[None]:
    """:data:`THRESHOLDS` while the block runs, the previous ones after it."""
    old = gc.get_threshold()
    gc.set_threshold(*THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*old)
