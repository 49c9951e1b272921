"""Which ids a day file may hold, answered in memory: a bitmap of id hashes.

A store of day files must keep every id once across all of them (a watch event
replayed days later falls in another day than its first copy), so each write asks
the other days whether they hold its ids. Asking SQLite costs ~1.4 µs per id and
day (an index probe): at 14 days a fifth of a bulk load's time, growing with the
store. The bitmap answers "certainly not" for almost every new id at a few tenths of
a µs; only the few it cannot rule out (a true duplicate, or ~5 % false positives at
the 200,000 ids of a full file) are asked of SQLite, so the answer stays exact.

One bit per CRC-32 bucket (512 KiB for 2^22 buckets: 25 MB for the ~50 files of two
busy weeks). It is kept beside its day file
(``YYYY-MM-DD.ids``) with the row number it was complete up to, so a process opening
the store catches up from there instead of reading the whole day's ids again.
"""

from __future__ import annotations

import contextlib
import operator
import os
import re
import struct
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path

BUCKETS = 1 << 22
_MASK = BUCKETS - 1
_MAGIC = b"ktids002"
_HEADER = struct.Struct("<8sq")


_SET = re.compile(rb"[^\x00]")


class Probe:
    """A batch of ids ready to be looked up in many filters (hashed once per write,
    used for every day): the bytes holding their bits, read in one C call, and their
    bit masks as one integer, so each filter is three C operations over the batch
    (~25 ns an id instead of ~70 for a Python loop)."""

    __slots__ = ("_fetch", "_ids", "_masks")

    def __init__(self, ids: Sequence[str]) -> None:
        hashed = [zlib.crc32(i.encode()) & _MASK for i in ids]
        self._ids = list(ids)
        # a placeholder at index 0 keeps itemgetter's answer a tuple for a single id
        self._fetch = operator.itemgetter(0, *(h >> 3 for h in hashed))
        self._masks = int.from_bytes(bytes(1 << (h & 7) for h in hashed), "little") << 8

    def hits(self, bits: bytearray) -> list[str]:
        """The ids whose bit is set in ``bits``."""
        fetched = bytes(self._fetch(bits))
        found = int.from_bytes(fetched, "little") & self._masks
        if not found:
            return []
        flags = found.to_bytes(len(fetched), "little")
        return [self._ids[m.start() - 1] for m in _SET.finditer(flags)]


class IdFilter:
    """The ids of one day file, as a bitmap; ``seq``: the row number it is complete up to
    (rows added by this process since may be in it too: it only ever over-answers)."""

    __slots__ = ("bits", "changed", "seq")

    def __init__(self, bits: bytearray | None = None, seq: int = 0) -> None:
        self.bits = bits if bits is not None else bytearray(BUCKETS // 8)
        self.seq = seq
        self.changed = bits is None

    def add(self, ids: Iterable[str]) -> None:
        bits = self.bits
        for ident in ids:
            h = zlib.crc32(ident.encode()) & _MASK
            bits[h >> 3] |= 1 << (h & 7)
        self.changed = True

    def maybe(self, probe: Probe) -> list[str]:
        """The ids of ``probe`` this day may hold."""
        return probe.hits(self.bits)

    def save(self, path: Path) -> None:
        """Written whole to a temporary file and renamed: a crash leaves the old one."""
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as fh:
            fh.write(_HEADER.pack(_MAGIC, self.seq))
            fh.write(self.bits)
        os.replace(tmp, path)
        self.changed = False

    @classmethod
    def load(cls, path: Path) -> IdFilter | None:
        """The saved filter, or ``None`` (missing, or not one: it is then rebuilt)."""
        try:
            data = path.read_bytes()
        except OSError:
            return None
        if len(data) != _HEADER.size + BUCKETS // 8:
            return None
        magic, seq = _HEADER.unpack_from(data)
        if magic != _MAGIC:
            return None
        found = cls(bytearray(data[_HEADER.size :]), seq)
        found.changed = False
        return found


def remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
