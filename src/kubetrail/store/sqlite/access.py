"""How the embedded store's file is opened: for writing, read-only, or immutable.

A command that writes (ingest, prune, demo, ship) opens the file read-write and
fails at once, in one line saying "read-only", when it cannot write there: the
file, its directory (WAL mode creates ``-wal`` and ``-shm`` files beside the
database) or the whole file system.

A command that only reads (api, export, mcp --store) opens the store read-only.
It never creates one: a file that does not exist is refused in one line. Where the
file and its directory can be written, it is opened as usual (a file
from an older kubetrail is migrated, the write-ahead log works as for any reader)
and only the store refuses writes. Otherwise:

- when the ``-wal`` and ``-shm`` files exist (a writer has the file open, or left
  its log), SQLite opens it with ``mode=ro`` and reads through them, following
  that writer's commits;
- when they do not, the file is opened ``immutable=1``: no locks, no log, read
  as a file that does not change. Every committed event is then in the file
  itself, and no process is writing it (a writer always has its ``-wal``). On a
  read-only file system nobody can start one through this mount either; where
  only this user cannot write, that is logged as a warning: the owner could
  start writing, and this process would not see it.

``mode=ro`` is not used without the log files even where the directory is
writable: SQLite would create them, owned by this user, and the file's owner
could not write its own store any more ("attempt to write a readonly database").
"""

from __future__ import annotations

import enum
import logging
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from kubetrail.store.base import StoreUnavailable

log = logging.getLogger("kubetrail.store")


class Mode(enum.Enum):
    READ_WRITE = "read-write"
    READ_ONLY = "read-only"  # SQLite's mode=ro
    IMMUTABLE = "immutable"  # mode=ro&immutable=1


@dataclass(frozen=True, slots=True)
class Access:
    """How to connect: ``target`` is what :func:`sqlite3.connect` gets."""

    mode: Mode
    target: str
    #: why the file cannot be written ("" when it can)
    reason: str = ""

    @property
    def uri(self) -> bool:
        return self.mode is not Mode.READ_WRITE

    @property
    def writable(self) -> bool:
        return self.mode is Mode.READ_WRITE


def choose(path: Path, *, read_only: bool) -> Access:
    """How to open the store at ``path``: raises :class:`StoreUnavailable` when a
    writing open cannot write there, or a read-only one has nothing it can read."""
    if read_only and not path.exists():
        # a command that only reads never creates a store: a typo in the path would
        # otherwise answer with an empty one, and leave it behind
        raise StoreUnavailable(
            f"SQLite store {path} does not exist: check the path (--store or "
            "$KUBETRAIL_STORE); kubetrail ingest, demo or ship create a store"
        )
    if read_only and path.is_file() and path.stat().st_size == 0:
        raise StoreUnavailable(f"{path} is an empty file, not a kubetrail store")
    reason = why_not_writable(path)
    if reason is None:
        return Access(Mode.READ_WRITE, str(path))
    if not read_only:
        raise StoreUnavailable(f"cannot write SQLite store {path}: {reason}")
    uri = path.absolute().as_uri() + "?mode=ro"
    wal, shm = _sibling(path, "-wal"), _sibling(path, "-shm")
    if wal.exists() and shm.exists():
        return Access(Mode.READ_ONLY, uri, reason)
    if wal.exists() and wal.stat().st_size > 0:
        raise StoreUnavailable(
            f"cannot read SQLite store {path}: its write-ahead log {wal.name} holds changes "
            f"that cannot be read without {shm.name} ({reason}); open it once where it can "
            "be written"
        )
    if _read_only_file_system(path.parent):
        log.info("SQLite store %s is on a read-only file system: opened immutable", path)
    else:
        log.warning(
            "SQLite store %s opened immutable (%s): if another process starts writing it, "
            "restart this one",
            path,
            reason,
        )
    return Access(Mode.IMMUTABLE, uri + "&immutable=1", reason)


def why_not_writable(path: Path) -> str | None:
    """Why this process cannot write the store at ``path``, or None when it can."""
    directory = path.parent
    if _read_only_file_system(directory):
        return "the file system is read-only"
    if path.exists() and not _writable(path):
        return "the file is read-only"
    if not _writable(directory):
        return f"its directory {directory} is read-only (the store writes its -wal and -shm there)"
    return None


def open_error(path: Path, exc: sqlite3.Error, *, read_only: bool) -> str:
    """The one line for a file SQLite could not open (``access.choose`` said it could)."""
    if not read_only and (getattr(exc, "sqlite_errorname", "") or "").startswith("SQLITE_READONLY"):
        return f"cannot write SQLite store {path}: the file or its file system is read-only ({exc})"
    return f"cannot open SQLite store {path}{' read-only' if read_only else ''}: {exc}"


def _writable(path: Path) -> bool:
    # access(2) answers for root too: EROFS on a read-only mount, EPERM on an
    # immutable (chattr +i) file
    return os.access(path, os.W_OK)


def _read_only_file_system(directory: Path) -> bool:
    try:
        return bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _sibling(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)
