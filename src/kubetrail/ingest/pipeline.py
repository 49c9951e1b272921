"""Ingest: files of watch events → documents → a store, in batches.

Reading (:mod:`.reader`), meaning (:mod:`.records`) and storing are separate
steps joined here. A bad line is reported (``file:line: reason``) and counted,
never fatal; a store failure stops the run with what was stored so far, and
since writes are idempotent the same command can simply be run again.
"""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from kubetrail.events.model import EventDocument
from kubetrail.events.redact import DEFAULT_POLICY, RedactionPolicy
from kubetrail.gc_tuning import few_collections
from kubetrail.ingest.documents import documents_of
from kubetrail.ingest.reader import Record, Rejected, read_records
from kubetrail.store.base import PreparedWrites, Store, WriteResult

DEFAULT_BATCH = 10_000


@dataclass(slots=True)
class IngestStats:
    read: int = 0  # JSON values read
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    skipped: int = 0  # bookmarks: valid, but no change

    def summary(self) -> str:
        text = (
            f"read {self.read}, stored {self.stored}, duplicates {self.duplicates}, "
            f"rejected {self.rejected}"
        )
        return text + (f", skipped {self.skipped} bookmarks" if self.skipped else "")


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

    def flush(batch: list[EventDocument]) -> None:
        if writer is not None:
            writer.submit(batch)
        else:
            _count_write(store.write(batch), stats, report)

    for rec in records:
        stats.read += 1
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
    if batch:
        flush(batch)
    return stats


def _count_write(result: WriteResult, stats: IngestStats, report: Reporter) -> None:
    stats.stored += result.stored
    stats.duplicates += result.duplicates
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
    writer = None if isinstance(store, PreparedWrites) else _BackgroundWriter(store.write, report)
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
    if isinstance(store, PreparedWrites):
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
    writer = _BackgroundWriter(store.write_prepared, report)
    batch: list[object] = []

    def sink(result: SegmentResult) -> None:
        nonlocal batch
        stats.read += result.read
        stats.rejected += result.rejected
        stats.skipped += result.skipped
        for line in result.rejections:
            report(line)
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
    return stats


class _BackgroundWriter:
    """Writes batches with ``write`` in a thread of its own, so the main thread keeps
    reading (or the workers fed) meanwhile: SQLite releases the GIL while it works,
    an OpenSearch request while it waits for the node. At most one batch waits; a
    failed write is raised in the main thread at the next submit."""

    def __init__(self, write: Callable[[Any], WriteResult], report: Reporter) -> None:
        self.write = write
        self.report = report
        self.counts = IngestStats()
        self.error: BaseException | None = None
        self.queue: queue.Queue[list[object] | None] = queue.Queue(maxsize=1)
        self.thread = threading.Thread(target=self._run, name="kubetrail-writer", daemon=True)
        self.thread.start()

    def submit(self, rows: list[Any]) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(rows)

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
                result = self.write(rows)
            except BaseException as exc:  # handed to the main thread
                self.error = exc
                continue
            _count_write(result, self.counts, self.report)
