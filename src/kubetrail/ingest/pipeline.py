"""Ingest: files of watch events → documents → a store, in batches.

Reading (:mod:`.reader`), meaning (:mod:`.documents`, and :mod:`.audit` for the API
server's audit events, which the same files may hold) and storing are separate
steps joined here. A bad line is reported (``file:line: reason``) and counted,
never fatal; a store failure stops the run with what was stored so far, and
since writes are idempotent the same command can simply be run again. Audit records
go to the store's :meth:`~kubetrail.store.base.AuditJoin.write_audit`, in input order
with the documents (through the same writer), and are joined to the versions stored.
"""

from __future__ import annotations

import os
import queue
import stat
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from kubetrail.events.audit import AuditRecord
from kubetrail.events.model import EventDocument
from kubetrail.events.redact import DEFAULT_POLICY, RedactionPolicy
from kubetrail.events.timing import from_micros
from kubetrail.gc_tuning import few_collections
from kubetrail.ingest.audit import audit_records_of, is_audit_value
from kubetrail.ingest.documents import documents_of
from kubetrail.ingest.reader import Record, Rejected, read_records
from kubetrail.store.base import AuditJoin, AuditResult, PreparedWrites, Store, WriteResult

DEFAULT_BATCH = 10_000


@dataclass(slots=True)
class IngestStats:
    read: int = 0  # JSON values read
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    skipped: int = 0  # bookmarks: valid, but no change
    audit_events: int = 0  # audit events read (an EventList's items each)
    audit_unchanged: int = 0  # audit events that recorded no change (reads, failures)
    audit: AuditResult = field(default_factory=AuditResult)

    def summary(self) -> str:
        text = (
            f"read {self.read}, stored {self.stored}, duplicates {self.duplicates}, "
            f"rejected {self.rejected}"
        )
        text += f", skipped {self.skipped} bookmarks" if self.skipped else ""
        if self.audit_events:
            a = self.audit
            text += (
                f"; audit events {self.audit_events}: {a.stored} writes kept, {a.duplicates} "
                f"kept before, {self.audit_unchanged} without a change; versions joined "
                f"{a.exact} exactly, {a.nearest} by time; {self.waiting} writes wait for "
                "their version"
            )
        return text

    @property
    def waiting(self) -> int:
        """Writes kept in this run and not joined (yet): about, since a version may also
        have joined a write kept by an earlier run."""
        return max(0, self.audit.stored - self.audit.exact - self.audit.nearest)


Reporter = Callable[[str], None]


def ingest_values(
    records: Iterable[Record | Rejected],
    store: Store,
    *,
    policy: RedactionPolicy = DEFAULT_POLICY,
    batch_size: int = DEFAULT_BATCH,
    report: Reporter,
    stats: IngestStats | None = None,
    writer: _BackgroundWriter | None = None,
) -> IngestStats:
    """Normalise and store records; ``report`` gets one line per rejection. With a
    ``writer``, batches are handed to it (and counted when it finishes)."""
    stats = stats or IngestStats()
    batch: list[EventDocument] = []
    audit: list[AuditRecord] = []

    def flush(batch: list[EventDocument]) -> None:
        if writer is not None:
            writer.submit(batch)
        else:
            _count_write(store.write(batch), stats, report)

    def flush_audit() -> None:
        nonlocal batch, audit
        if batch:  # documents read before these records are written before them
            flush(batch)
            batch = []
        if writer is not None:
            writer.submit_audit(audit)
        else:
            stats.audit.merge(write_audit(store, audit))
        audit = []

    for rec in records:
        stats.read += 1
        if isinstance(rec, Record) and is_audit_value(rec.value):
            got = audit_records_of(rec)
            if isinstance(got, str):
                stats.rejected += 1
                report(got)
                continue
            found, events = got
            stats.audit_events += events
            stats.audit_unchanged += events - len(found)
            audit.extend(found)
            if len(audit) >= batch_size:
                flush_audit()
            continue
        docs = documents_of(rec, policy=policy)
        if isinstance(docs, str):
            stats.rejected += 1
            report(docs)
            continue
        if not docs:
            stats.skipped += 1
        batch.extend(docs)
        if len(batch) >= batch_size:
            flush(batch)
            batch = []
    if audit:
        flush_audit()
    if batch:
        flush(batch)
    return stats


def write_audit(store: Store, records: list[AuditRecord]) -> AuditResult:
    """Keep audit records in a store that joins them (every store kubetrail has does)."""
    if not isinstance(store, AuditJoin):
        raise TypeError(f"the {store.kind} store cannot keep audit events")
    return store.write_audit(records)


def _count_write(result: WriteResult, stats: IngestStats, report: Reporter) -> None:
    stats.stored += result.stored
    stats.duplicates += result.duplicates
    stats.audit.exact += result.joined_exact  # pending audit records the documents joined
    stats.audit.nearest += result.joined_nearest
    for err in result.errors:
        stats.rejected += 1
        report(f"document {err.id}: not stored: {err.reason}")


@contextmanager
def open_input(name: str) -> Iterator[BinaryIO]:
    """``-`` is standard input; anything else a file path."""
    if name == "-":
        yield sys.stdin.buffer
        return
    with Path(name).open("rb") as fh:
        yield fh


def is_regular_file(name: str) -> bool:
    """A regular file (``-`` counts when stdin is redirected from one), not a pipe."""
    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode if name == "-" else os.stat(name).st_mode
    except (OSError, ValueError):
        return False  # not there: the sequential path reports it as it reads
    return stat.S_ISREG(mode)


def ingest_files(
    names: list[str],
    store: Store,
    *,
    policy: RedactionPolicy = DEFAULT_POLICY,
    batch_size: int = DEFAULT_BATCH,
    report: Reporter,
    on_bytes: Callable[[int], None] | None = None,
    workers: int = 1,
) -> IngestStats:
    """Ingest every file in order (see :func:`ingest_values`).

    With ``workers`` > 1 and a store that takes prepared rows, reading and
    normalising run in that many worker processes (:mod:`.parallel`), with the
    same results, reports and locations as the sequential path."""
    if workers > 1 and isinstance(store, PreparedWrites):
        return _ingest_parallel(
            names,
            store,
            policy=policy,
            batch_size=batch_size,
            report=report,
            on_bytes=on_bytes,
            workers=workers,
        )
    stats = IngestStats()
    # A store over the network (OpenSearch) indexes a batch while the next one is read:
    # written from a thread of its own, the time on the wire overlaps the reading.
    # The embedded store writes in this thread (its bulk load holds one transaction).
    local = isinstance(store, PreparedWrites) and store.kind == "sqlite"
    writer = (
        None
        if local
        else _BackgroundWriter(store.write, report, audit=lambda r: write_audit(store, r))
    )
    try:
        for name in names:
            with open_input(name) as fh:
                ingest_values(
                    read_records(fh, source=name, on_bytes=on_bytes),
                    store,
                    policy=policy,
                    batch_size=batch_size,
                    report=report,
                    stats=stats,
                    writer=writer,
                )
    except BaseException:
        if writer is not None:
            writer.finish(raise_error=False)
        raise
    if writer is not None:
        written = writer.finish()
        stats.stored += written.stored
        stats.duplicates += written.duplicates
        stats.rejected += written.rejected
        stats.audit.merge(written.audit)
    if local and isinstance(store, PreparedWrites):
        store.flush()  # a bulk load's last rows: a failed commit is an error, not a summary
    return stats


def _ingest_parallel(
    names: list[str],
    store: PreparedWrites,
    *,
    policy: RedactionPolicy,
    batch_size: int,
    report: Reporter,
    on_bytes: Callable[[int], None] | None,
    workers: int,
) -> IngestStats:
    from kubetrail.ingest.parallel import ParallelIngest, SegmentResult

    stats = IngestStats()
    writer = _BackgroundWriter(
        store.write_prepared,
        report,
        audit=lambda r: write_audit(store, r),  # type: ignore[arg-type]
    )
    batch: list[object] = []
    span: list[int] = []  # first and last document time (µs)

    def sink(result: SegmentResult) -> None:
        nonlocal batch
        stats.read += result.read
        stats.rejected += result.rejected
        stats.skipped += result.skipped
        stats.audit_events += result.audit_events
        stats.audit_unchanged += result.audit_unchanged
        if result.span is not None:
            lo, hi = result.span
            span[:] = [min(lo, span[0]), max(hi, span[1])] if span else [lo, hi]
        for line in result.rejections:
            report(line)
        if result.audit:  # after the documents read before them
            if batch:
                writer.submit(batch)
                batch = []
            writer.submit_audit(result.audit)
        batch.extend(result.rows)
        if len(batch) >= batch_size:
            writer.submit(batch)
            batch = []

    runner = ParallelIngest(store, policy=policy, workers=workers, sink=sink)
    with few_collections():
        try:
            for name in names:
                with open_input(name) as fh:
                    runner.run(fh, source=name, on_bytes=on_bytes)
            if batch:
                writer.submit(batch)
        except BaseException:
            runner.terminate()
            writer.finish(raise_error=False)
            raise
        runner.close()
        written = writer.finish()
        store.flush()  # a bulk load's last rows: a failed commit is an error, not a summary
    stats.stored += written.stored
    stats.duplicates += written.duplicates
    stats.rejected += written.rejected
    stats.audit.merge(written.audit)
    if span and isinstance(store, AuditJoin) and (stats.stored or stats.duplicates):
        # prepared rows may have been written without joining (their documents encoded)
        joined = store.join_pending(start=from_micros(span[0]), end=from_micros(span[1]))
        stats.audit.exact += joined.exact
        stats.audit.nearest += joined.nearest
    return stats


class _BackgroundWriter:
    """Writes batches with ``write`` in a thread of its own, so the main thread keeps
    reading (or the workers fed) meanwhile: SQLite releases the GIL while it works,
    an OpenSearch request while it waits for the node. At most one batch waits; a
    failed write is raised in the main thread at the next submit."""

    def __init__(
        self,
        write: Callable[[Any], WriteResult],
        report: Reporter,
        *,
        audit: Callable[[list[AuditRecord]], AuditResult] | None = None,
    ) -> None:
        self.write = write
        self.write_audit = audit
        self.report = report
        self.counts = IngestStats()
        self.error: BaseException | None = None
        self.queue: queue.Queue[list[object] | _AuditBatch | None] = queue.Queue(maxsize=1)
        self.thread = threading.Thread(target=self._run, name="kubetrail-writer", daemon=True)
        self.thread.start()

    def submit(self, rows: list[Any]) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(rows)

    def submit_audit(self, records: list[AuditRecord]) -> None:
        """Audit records, written after the batches submitted before them."""
        if self.error is not None:
            raise self.error
        self.queue.put(_AuditBatch(records))

    def finish(self, *, raise_error: bool = True) -> IngestStats:
        self.queue.put(None)
        self.thread.join()
        if self.error is not None and raise_error:
            raise self.error
        return self.counts

    def _run(self) -> None:
        while (rows := self.queue.get()) is not None:
            if self.error is not None:
                continue  # keep draining so the main thread never blocks on put
            try:
                if isinstance(rows, _AuditBatch):
                    if self.write_audit is None:
                        raise TypeError("this writer was given no way to keep audit records")
                    self.counts.audit.merge(self.write_audit(rows.records))
                    continue
                result = self.write(rows)
            except BaseException as exc:  # handed to the main thread
                self.error = exc
                continue
            _count_write(result, self.counts, self.report)


@dataclass(frozen=True, slots=True)
class _AuditBatch:
    records: list[AuditRecord]
