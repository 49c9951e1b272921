"""The groups of whole day files, kept in memory: OpenSearch's shard request cache for
the embedded store.

A query over several days covers most of its files whole, and their groups do not
depend on where its range starts or ends; a day file no longer written to gives the
same groups each time. So the merged groups of the files a query covers whole are
kept per (files, query without its times), with each file's version (its newest row
number and event count) when they were read: an entry answers until one of its files
changes; the least recently used go first when the rows kept pass ``max_rows``. Two
checks over the same week (``check_pod_issues`` and ``check_resource_limits`` share an
aggregation), a page refreshed, an investigation that asks again, a window sliding
within the same files: each reads only the files at its range's ends.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

from kubetrail.store.sqlite.merge import GroupRow

#: What a file's contents are at one moment: its newest row number and event count.
Version = tuple[int, int]
#: The files of an entry with their versions, oldest first.
Files = tuple[tuple[str, Version], ...]


class GroupCache:
    """An LRU map of (files, query) → groups, bounded by the number of rows kept."""

    def __init__(self, max_rows: int) -> None:
        self.max_rows = max_rows
        self._entries: OrderedDict[
            tuple[tuple[str, ...], Hashable], tuple[Files, list[GroupRow]]
        ] = OrderedDict()
        self._rows = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, files: Files, query: Hashable) -> list[GroupRow] | None:
        """The groups kept for ``query`` over ``files`` when each is still at its version."""
        key = (tuple(name for name, _ in files), query)
        with self._lock:
            found = self._entries.get(key)
            if found is None or found[0] != files:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return found[1]

    def put(self, files: Files, query: Hashable, rows: list[GroupRow]) -> None:
        if len(rows) > self.max_rows // 2:  # one answer may not crowd out every other
            return
        key = (tuple(name for name, _ in files), query)
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._rows -= len(old[1])
            self._entries[key] = (files, rows)
            self._rows += len(rows)
            while self._rows > self.max_rows and self._entries:
                _, (_, evicted) = self._entries.popitem(last=False)
                self._rows -= len(evicted)

    def drop(self, file: str) -> None:
        """Forget the entries of a file (removed by retention)."""
        with self._lock:
            for key in [k for k in self._entries if file in k[0]]:
                self._rows -= len(self._entries.pop(key)[1])

    @property
    def rows(self) -> int:
        return self._rows
