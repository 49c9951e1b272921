"""Which embedded store a path holds: a store of day files, or a single file.

A new store is a store of day files (:mod:`.daily`). A path holding a single-file
store (written before day files existed, or any other SQLite file) is opened as it is
(and upgraded as one file), so an
upgrade loses nothing and needs no step; ``kubetrail export | kubetrail ingest`` copies
it into day files when its owner chooses (the README says how).
"""

from __future__ import annotations

from pathlib import Path

from kubetrail.store.sqlite import layout
from kubetrail.store.sqlite.daily import DailyStore
from kubetrail.store.sqlite.store import SQLiteStore

#: a bulk load's write cache and commit size (see :data:`.store.BULK_ROWS_PER_COMMIT`)
BULK_WRITER_CACHE_MB = 256


def open_embedded(
    path: str | Path, *, bulk: bool = False, read_only: bool = False, rows_per_commit: int = 0
) -> SQLiteStore | DailyStore:
    """The store at ``path``: a catalog of day files, or one file (see module docstring)."""
    path = Path(path)
    cache = BULK_WRITER_CACHE_MB if bulk else 64
    commit = rows_per_commit if bulk else 0
    if layout.is_catalog(path) is False:
        return SQLiteStore(path, writer_cache_mb=cache, rows_per_commit=commit, read_only=read_only)
    return DailyStore(path, writer_cache_mb=cache, rows_per_commit=commit, read_only=read_only)
