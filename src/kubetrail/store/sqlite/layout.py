"""Where a store of day files keeps what: the catalog, the day files, their names.

``kubetrail.db`` (the path of the store URL) is the *catalog*: a small SQLite file
with a ``meta`` table holding the layout's version (:data:`CATALOG_VERSION`, 9: a
kubetrail that only knows single files refuses it with its "newer than this
kubetrail understands" line) and the retention floor. The events are in
``kubetrail.db.days/YYYY-MM-DD.db``, one ordinary store file (:mod:`.schema`) per UTC
day of their timestamps, and beside each its id filter (``.ids``, :mod:`.idfilter`).

A file at an older version (≤ 8: a single-file store) is opened as it is.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from kubetrail.events.timing import to_micros
from kubetrail.store.base import StoreUnavailable
from kubetrail.store.sqlite import access, schema

#: The catalog's schema version: one past the single file's last.
CATALOG_VERSION = 9
FLOOR_KEY = "retention_floor"

_META = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
_DAY_FILE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.db$")
DAY_MICROS = 86_400_000_000
_EPOCH = date(1970, 1, 1)


def days_dir(catalog: Path) -> Path:
    return catalog.with_name(catalog.name + ".days")


def day_of(ts: int) -> str:
    """The UTC day (``YYYY-MM-DD``) of a time in microseconds."""
    return (_EPOCH + timedelta(days=ts // DAY_MICROS)).isoformat()


def day_start(day: str) -> int:
    """The first microsecond of a day."""
    return to_micros(datetime.fromisoformat(day).replace(tzinfo=UTC))


def day_end(day: str) -> int:
    """The last microsecond of a day."""
    return day_start(day) + DAY_MICROS - 1


def day_file(directory: Path, day: str) -> Path:
    return directory / f"{day}.db"


def filter_file(directory: Path, day: str) -> Path:
    return directory / f"{day}.ids"


def list_days(directory: Path) -> list[str]:
    """The days with a file, oldest first."""
    try:
        names = [m.group(1) for e in directory.iterdir() if (m := _DAY_FILE.match(e.name))]
    except FileNotFoundError:
        return []
    return sorted(names)


def remove_day(directory: Path, day: str) -> None:
    """A day's files gone: the write-ahead log before the database (a log left beside a
    new file of the same name would be replayed into it), the database last."""
    base = day_file(directory, day)
    for path in (
        filter_file(directory, day),
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
    for day in list_days(directory):
        remove_day(directory, day)
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
                day = entry.name[: -len(suffix)]
                if not day_file(directory, day).exists():
                    with contextlib.suppress(FileNotFoundError):
                        entry.unlink()


def file_version(path: Path) -> int | None:
    """The schema version of an existing store file (0: an SQLite file without one);
    ``None`` when there is no file. Read as :mod:`.access` opens a file read-only (on a
    read-only file system too)."""
    if not path.exists():
        return None
    if path.is_file() and path.stat().st_size == 0:
        return 0
    how = access.choose(path, read_only=True)
    try:
        conn = sqlite3.connect(how.target, uri=how.uri)
    except sqlite3.Error as exc:
        raise StoreUnavailable(f"cannot open {path}: {exc}") from None
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.DatabaseError as exc:
        if "no such table" in str(exc):
            return 0
        raise StoreUnavailable(access.open_error(path, exc, read_only=True)) from None
    finally:
        conn.close()
    return int(row[0]) if row else 0


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
                        "INSERT OR IGNORE INTO meta (key, value) VALUES ('layout', 'daily')"
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
            raise StoreUnavailable(
                f"{path} has schema version {version}, not a store of day files "
                f"(v{CATALOG_VERSION}) this kubetrail understands: upgrade kubetrail"
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
