"""What ``kubetrail ingest`` reads: the files named, and the recordings in a directory named.

A directory stands for the recordings directly in it — files ending in one of
:data:`RECORDING_SUFFIXES` (watch recordings, exports, audit logs), in name order, so
``recording-01.jsonl`` comes before ``recording-02.jsonl`` and rotated logs keep their
order — not its subdirectories and not other files (notes, a README). A name that is
neither a file nor a directory, or a directory without recordings, is an
:class:`InputError` with one line saying which.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

#: the files a directory contributes
RECORDING_SUFFIXES = (".jsonl", ".json", ".ndjson", ".log")
STDIN = "-"


class InputError(Exception):
    """An input cannot be read; the message is one line naming it."""


def expand_inputs(names: Sequence[str]) -> list[str]:
    """``names`` with each directory replaced by its recordings, sorted by name."""
    out: list[str] = []
    for name in names:
        if name == STDIN:
            out.append(name)
            continue
        path = Path(name)
        if path.is_file():
            out.append(name)
        elif path.is_dir():
            found = recordings_in(path)
            if not found:
                raise InputError(
                    f"directory {name} holds no recordings (files ending in "
                    f"{', '.join(RECORDING_SUFFIXES)})"
                )
            out.extend(str(p) for p in found)
        elif path.exists():
            raise InputError(f"{name} is not a regular file")
        else:
            raise InputError(f"no such file: {name}")
    return out


def recordings_in(directory: Path) -> list[Path]:
    """The files directly in ``directory`` ending in :data:`RECORDING_SUFFIXES`, by name."""
    return sorted(
        (p for p in directory.iterdir() if p.suffix in RECORDING_SUFFIXES and p.is_file()),
        key=lambda p: p.name,
    )
