"""Everything an embedded store holds, as bytes a secret canary can be looked for in:
the files as they are on disk, plus every document decoded (documents may be
zstd-compressed, where a plain byte search would miss a leaked value)."""

from __future__ import annotations

from pathlib import Path

import orjson

from kubetrail.store.base import EventFilter, EventQuery
from kubetrail.store.sqlite import open_embedded


def stored_bytes(db: Path) -> bytes:
    # the single file or catalog with its logs, and every day file (with its id filter)
    found = sorted(db.parent.glob(db.name + "*"))
    files = b"".join(
        p.read_bytes()
        for f in found
        for p in ([f] if f.is_file() else sorted(f.rglob("*")))
        if p.is_file()
    )
    store = open_embedded(db)
    try:
        docs = store.search(EventQuery(filter=EventFilter(), limit=1_000_000)).items
    finally:
        store.close()
    return files + b"\n".join(orjson.dumps(d) for d in docs)
