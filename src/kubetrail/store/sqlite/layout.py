"""Where a store of day files keeps what: the catalog, the day files, their names.

``kubetrail.db`` (the path of the store URL) is the *catalog*: a small SQLite file
with a ``meta`` table holding the layout's version (:data:`CATALOG_VERSION`, 9: a
kubetrail that only knows single files refuses it with its "newer than this
kubetrail understands" line) and the retention floor. The events are in
``kubetrail.db.days/``, ordinary store files (:mod:`.schema`) named by the first
microsecond they cover (``2026-12-03T000000.000000Z.db``): each covers from its start
to the next file's start or the end of its UTC day, whichever comes first (no file
spans midnight; a busy day has several), and beside each is its id filter (``.ids``,
:mod:`.idfilter`).

A file at an older version (≤ 8: a single-file store) is opened as it is.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kubetrail.events.timing import to_micros
from kubetrail.store.base import StoreUnavailable
from kubetrail.store.sqlite import access, schema

#: The catalog's schema version (its ``layout`` key says ``daily``): a kubetrail from
#: before day files (schema 8) refuses it as newer than it understands.
CATALOG_VERSION = 9
LAYOUT_KEY = "layout"
FLOOR_KEY = "retention_floor"

_META = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
_PART_FILE = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{6}\.\d{6}Z)\.db$")
DAY_MICROS = 86_400_000_000
_EPOCH_DT = datetime(1970, 1, 1, tzinfo=UTC)


def days_dir(catalog: Path) -> Path:
    return catalog.with_name(catalog.name + ".days")


def midnight(ts: int) -> int:
    """The first microsecond of the UTC day of ``ts``."""
    return ts - ts % DAY_MICROS


def part_name(start: int) -> str:
    """A file's name from the first microsecond it covers: ``2026-12-03T142705.123456Z``
    (names sort in time order)."""
    moment = _EPOCH_DT + timedelta(microseconds=start)
    return moment.strftime("%Y-%m-%dT%H%M%S.%fZ")


def part_start(name: str) -> int:
    moment = datetime.strptime(name, "%Y-%m-%dT%H%M%S.%fZ").replace(tzinfo=UTC)
    return to_micros(moment)


def part_file(directory: Path, name: str) -> Path:
    return directory / f"{name}.db"


def filter_file(directory: Path, name: str) -> Path:
    return directory / f"{name}.ids"


def list_parts(directory: Path) -> list[str]:
    """The files of the store, oldest first."""
    try:
        names = [m.group(1) for e in directory.iterdir() if (m := _PART_FILE.match(e.name))]
    except FileNotFoundError:
        return []
    return sorted(names)


def list_days(directory: Path) -> list[str]:
    """The UTC days with events (a file or several each), oldest first."""
    return sorted({name[:10] for name in list_parts(directory)})


def remove_part(directory: Path, name: str) -> None:
    """A file's files gone: the write-ahead log before the database (a log left beside a
    new file of the same name would be replayed into it), the database last."""
    base = part_file(directory, name)
    for path in (
        filter_file(directory, name),
        base.with_name(base.name + "-wal"),
        base.with_name(base.name + "-shm"),
        base,
    ):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def remove_store(catalog: Path) -> None:
    """A whole embedded store gone (its catalog or single file, logs, and days): what
    ``kubetrail demo`` does before loading a fresh incident. Raises :class:`OSError`."""
    directory = days_dir(catalog)
    for name in list_parts(directory):
        remove_part(directory, name)
    remove_orphans(directory)
    with contextlib.suppress(FileNotFoundError):
        directory.rmdir()
    for suffix in ("-wal", "-shm", ""):
        with contextlib.suppress(FileNotFoundError):
            catalog.with_name(catalog.name + suffix).unlink()


def remove_orphans(directory: Path) -> None:
    """Logs and filters left by a removal that was interrupted (their day file is gone)."""
    try:
        entries = list(directory.iterdir())
    except FileNotFoundError:
        return
    for entry in entries:
        for suffix in (".db-wal", ".db-shm", ".ids", ".ids.tmp"):
            if entry.name.endswith(suffix):
                name = entry.name[: -len(suffix)]
                if not part_file(directory, name).exists():
                    with contextlib.suppress(FileNotFoundError):
                        entry.unlink()


def is_catalog(path: Path) -> bool | None:
    """Whether an existing file is the catalog of a store of day files (``False``: a
    single-file store, or not a store); ``None`` when there is no file. Read as
    :mod:`.access` opens a file read-only (on a read-only file system too)."""
    if not path.is_file():
        return None
    if path.stat().st_size == 0:
        return False
    how = access.choose(path, read_only=True)
    try:
        conn = sqlite3.connect(how.target, uri=how.uri)
    except sqlite3.Error as exc:
        raise StoreUnavailable(f"cannot open {path}: {exc}") from None
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (LAYOUT_KEY,)).fetchone()
    except sqlite3.DatabaseError as exc:
        if "no such table" in str(exc):
            return False
        raise StoreUnavailable(access.open_error(path, exc, read_only=True)) from None
    finally:
        conn.close()
    return row is not None and row[0] == "daily"


class Catalog:
    """The catalog file: its version and the retention floor."""

    def __init__(self, path: Path, *, read_only: bool) -> None:
        self.path = path
        self._lock = threading.Lock()  # one connection, shared by the store's threads
        how = access.choose(path, read_only=read_only)  # refuses what it cannot open
        read_only = not how.writable
        try:
            self._conn = sqlite3.connect(
                how.target, uri=how.uri, isolation_level=None, check_same_thread=False
            )
            if how.writable:
                self._conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open {path}: {exc}") from None
        try:
            if not read_only:
                with schema.transaction(self._conn):
                    self._conn.execute(_META)
                    self._conn.execute(
                        "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                        (str(CATALOG_VERSION),),
                    )
                    self._conn.execute(
                        "INSERT OR IGNORE INTO meta (key, value) VALUES (?, 'daily')", (LAYOUT_KEY,)
                    )
            version = self._get("schema_version")
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise StoreUnavailable(access.open_error(path, exc, read_only=read_only)) from None
        if version is None:
            self._conn.close()
            raise StoreUnavailable(f"{path} is not a kubetrail store (no schema version)")
        if int(version) != CATALOG_VERSION:
            self._conn.close()
            newer = int(version) > CATALOG_VERSION
            raise StoreUnavailable(
                f"{path} is a store of day files at catalog version {version}, "
                + (
                    f"newer than this kubetrail understands ({CATALOG_VERSION}): upgrade kubetrail"
                    if newer
                    else f"which this kubetrail ({CATALOG_VERSION}) cannot read"
                )
            )

    def _get(self, key: str) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def floor(self) -> int | None:
        """Events before this time (µs) are past the retention: never answered."""
        try:
            value = self._get(FLOOR_KEY)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot read {self.path}: {exc}") from None
        return int(value) if value is not None else None

    def set_floor(self, ts: int) -> None:
        """Raise the floor (never lower it)."""
        try:
            with schema.transaction(self._conn):
                current = self._get(FLOOR_KEY)
                if current is None or int(current) < ts:
                    self._conn.execute(
                        "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                        (FLOOR_KEY, str(ts)),
                    )
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot write {self.path}: {exc}") from None

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._conn.close()
