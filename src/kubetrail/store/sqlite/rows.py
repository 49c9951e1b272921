"""What a document becomes in the embedded store: its rows.

:func:`prepare_row` turns a document into plain values (the ``events`` columns,
its signals, its search text) and is pure, so parallel ingest runs it in worker
processes and sends the results to the one writer. :func:`table_rows` then
numbers prepared rows and spreads them over the three tables a write fills
(``events``, ``signals``, ``events_fts``), with each document in its stored form
(see :mod:`.codec`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from kubetrail.events.model import EventDocument
from kubetrail.events.text import search_text
from kubetrail.events.timing import parse_rfc3339, to_micros
from kubetrail.store.base import WriteError

#: What :func:`prepare_row` makes of a document: id, column values, signals,
#: search text. Plain tuples of str/int/bytes, cheap to send between processes.
PreparedRow = tuple[str, tuple[Any, ...], list[str], str]


def prepare_row(doc: EventDocument) -> PreparedRow | WriteError:
    """The row of one document, or why it cannot be stored. Pure: safe to run in
    a worker process."""
    try:
        ts = to_micros(parse_rfc3339(doc["timestamp"]))
        involved: Mapping[str, Any] = doc.get("involvedObject") or {}
        message = doc.get("message") or ""
        body = f"{message} {search_text(doc['objectChanges'])}"
        row = (
            doc["id"],
            ts,
            doc["verb"],
            doc.get("user") or "",
            doc.get("namespace") or "",
            doc["resourceType"],
            doc["resourceName"],
            doc.get("kind") or "",
            doc.get("apiGroup") or "",
            doc.get("uid") or "",
            doc.get("fieldManager") or "",
            1 if doc.get("snapshot") else 0,
            doc.get("reason"),
            doc.get("eventType"),
            involved.get("kind"),
            involved.get("namespace") if involved else None,
            involved.get("name"),
            involved.get("uid"),
            orjson.dumps(doc),
            body,
        )
        signals = doc.get("signals") or []
        if not isinstance(signals, list):
            raise ValueError("signals must be a list")
        return row[0], row, [str(s) for s in signals], body
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        ident = doc.get("id", "?") if isinstance(doc, dict) else "?"
        return WriteError(id=str(ident), reason=f"bad document: {exc}")


TableRows = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[int, str]]]


def table_rows(fresh: Sequence[PreparedRow], stored: Sequence[bytes], *, seq: int) -> TableRows:
    """The rows of ``events``, ``signals`` and ``events_fts`` for prepared documents
    not stored yet, numbered from ``seq + 1``; ``stored`` is each one's document as
    it is kept (orjson bytes or a zstd frame)."""
    event_rows: list[tuple[Any, ...]] = []
    signal_rows: list[tuple[Any, ...]] = []
    fts_rows: list[tuple[int, str]] = []
    for (ident, row, signals, body), doc in zip(fresh, stored, strict=True):
        seq += 1
        event_rows.append((seq, *row[:-2], doc, body))
        if signals:
            ts, ns, rtype, rname, kind = row[1], row[4], row[5], row[6], row[7]
            signal_rows.extend((sig, ts, seq, ns, rtype, rname, kind, ident) for sig in signals)
        fts_rows.append((seq, body))
    return event_rows, signal_rows, fts_rows
