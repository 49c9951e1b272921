"""Where embedded ingest spends its time: each side of `kubetrail ingest` alone, and
what each part of a write costs.

    python bench/ingest_split.py --events 100000 --json bench/results/ingest-split.json

On the same synthetic events (bench/generate.py, or ``--input`` JSON lines):

1. **whole**: parallel ingest as `kubetrail ingest` runs it (``ingest_files`` with
   ``--workers``, a fresh SQLite store opened for bulk load);
2. **workers alone**: the same, with a store whose ``write_prepared`` stores nothing (reading,
   normalising, redaction, signals, row rendering and the transfer to the main process);
3. **prepare, one process**: µs per event of ``documents_of`` + ``prepare_row``, no workers;
4. **writer alone**: ``write_prepared`` in 10,000-row writes on rows prepared beforehand,
   committed as a bulk load commits them; then the store's statements in 10,000-row
   transactions, whole and with parts left out (the full-text index, the signal rows,
   compression), which says what each part costs, and with the full-text rows written
   to a file of their own by a second thread (how far splitting the writer would lift
   its ceiling on a machine with cores to spare). The ablations run the store's own
   statements; they are measurements, not a way to run the store.

Prints a table; ``--json`` writes the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import queue
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from foundation import _machine
from generate import write_lines
from kubetrail.events.redact import DEFAULT_POLICY
from kubetrail.ingest.documents import documents_of
from kubetrail.ingest.parallel import default_workers
from kubetrail.ingest.pipeline import ingest_files
from kubetrail.ingest.reader import read_records
from kubetrail.store.base import WriteResult
from kubetrail.store.sqlite import BULK_ROWS_PER_COMMIT, SQLiteStore, prepare_row
from kubetrail.store.sqlite.schema import FTS_HASH_BYTES
from kubetrail.store.sqlite.sql import INSERT_EVENTS, INSERT_FTS, INSERT_SIGNALS

BATCH = 10_000
SIDE_TIMEOUT = 120.0


class _NoWrites(SQLiteStore):
    """Takes prepared rows and stores nothing: the workers' side alone."""

    def write_prepared(self, rows: Sequence[Any]) -> WriteResult:
        result = WriteResult()
        result.stored = len(rows)
        return result


def _no_rejections(line: str) -> None:
    raise AssertionError(f"the synthetic input has no bad lines: {line}")


@contextlib.contextmanager
def _store(
    kind: type[SQLiteStore], work: Path, name: str, *, bulk: bool = True
) -> Iterator[SQLiteStore]:
    """Opened as `kubetrail ingest` opens it (``bulk``), or committing every write."""
    store = kind(
        str(work / f"{name}.db"),
        writer_cache_mb=256,
        rows_per_commit=BULK_ROWS_PER_COMMIT if bulk else 0,
    )
    try:
        yield store
    finally:
        store.close()


def _ingest(kind: type[SQLiteStore], path: Path, work: Path, name: str, workers: int) -> float:
    with _store(kind, work, name) as store:
        t0 = time.perf_counter()
        stats = ingest_files(
            [str(path)], store, policy=DEFAULT_POLICY, report=_no_rejections, workers=workers
        )
        seconds = time.perf_counter() - t0
    assert stats.rejected == 0, stats.summary()
    return seconds


def write_cluster(path: Path, events: int) -> Path:
    """The synthetic cluster's watch events (50 nodes, 5,000 pods, 48 h) as JSON lines."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=49)
    with path.open("wb") as out:
        write_lines(
            out, events=events, nodes=50, pods=5000, namespaces=20, hours=48.0, seed=7, start=start
        )
    return path


def prepare_rows(path: Path) -> tuple[list[Any], float]:
    rows: list[Any] = []
    t0 = time.perf_counter()
    with path.open("rb") as fh:
        for rec in read_records(fh, source=str(path)):
            docs = documents_of(rec, policy=DEFAULT_POLICY)
            assert isinstance(docs, list), docs
            rows.extend(prepare_row(doc) for doc in docs)
    return rows, time.perf_counter() - t0


def _write(
    rows: list[Any],
    work: Path,
    name: str,
    *,
    fts: bool = True,
    signals: bool = True,
    compress: bool = True,
    fts_apart: bool = False,
) -> float:
    """``write_prepared``'s statements, optionally without some parts; ``fts_apart``:
    the full-text rows go to an FTS5 table in a file of its own, written by a second
    thread while this one goes on (an experiment: a design the store does not have)."""
    with _store(SQLiteStore, work, name, bulk=False) as store:
        batches: queue.Queue[list[tuple[int, str]] | None] = queue.Queue(maxsize=2)
        failed: list[BaseException] = []
        side = threading.Thread(
            target=_fts_file, args=(work / f"{name}-fts.db", batches, failed), daemon=True
        )
        if fts_apart:
            side.start()
        t0 = time.perf_counter()
        with _side_ends(side, batches, failed, fts_apart):
            _statements(
                store,
                rows,
                fts=fts,
                signals=signals,
                compress=compress,
                to_side=batches if fts_apart else None,
            )
        return time.perf_counter() - t0


def _statements(
    store: SQLiteStore,
    rows: list[Any],
    *,
    fts: bool,
    signals: bool,
    compress: bool,
    to_side: queue.Queue[list[tuple[int, str]] | None] | None,
) -> None:
    conn = store._writer
    seq = 0
    for i in range(0, len(rows), BATCH):
        batch = rows[i : i + BATCH]
        conn.execute("BEGIN IMMEDIATE")
        store._existing_ids(conn, [r[0] for r in batch])
        raw = [r[1][-2] for r in batch]
        docs = store._codec.encode_batch(conn, raw) if compress else raw
        event_rows, signal_rows, fts_rows = [], [], []
        for (ident, row, sigs, body), doc in zip(batch, docs, strict=True):
            seq += 1
            event_rows.append((seq, *row[:-2], doc, body))
            signal_rows.extend(
                (s, row[1], seq, row[4], row[5], row[6], row[7], ident) for s in sigs
            )
            fts_rows.append((seq, body))
        conn.executemany(INSERT_EVENTS, event_rows)
        if signals:
            conn.executemany(INSERT_SIGNALS, signal_rows)
        if to_side is not None:
            to_side.put(fts_rows, timeout=SIDE_TIMEOUT)  # queue.Full: the side is stuck
        elif fts:
            conn.executemany(INSERT_FTS, fts_rows)
        conn.execute("COMMIT")


@contextlib.contextmanager
def _side_ends(
    side: threading.Thread,
    batches: queue.Queue[list[tuple[int, str]] | None],
    failed: list[BaseException],
    started: bool,
) -> Iterator[None]:
    """The side thread is told to finish and waited for, whatever happens here; its
    own failure is raised here."""
    try:
        yield
    finally:
        if started:
            with contextlib.suppress(queue.Full):
                batches.put(None, timeout=SIDE_TIMEOUT)
            side.join(SIDE_TIMEOUT)
    if failed:
        raise RuntimeError("the full-text thread failed") from failed[0]


def _fts_file(
    path: Path, batches: queue.Queue[list[tuple[int, str]] | None], failed: list[BaseException]
) -> None:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        for pragma in ("page_size=16384", "journal_mode=WAL", "synchronous=NORMAL"):
            conn.execute(f"PRAGMA {pragma}")
        conn.execute("CREATE VIRTUAL TABLE events_fts USING fts5(body, content='')")
        conn.execute(
            "INSERT INTO events_fts (events_fts, rank) VALUES ('hashsize', ?)", (FTS_HASH_BYTES,)
        )
        while (fts_rows := batches.get()) is not None:
            conn.execute("BEGIN")
            conn.executemany(INSERT_FTS, fts_rows)
            conn.execute("COMMIT")
    except BaseException as exc:  # reported by the writing thread (_side_ends)
        failed.append(exc)
    finally:
        conn.close()


def _write_prepared(rows: list[Any], work: Path) -> float:
    with _store(SQLiteStore, work, "writer") as store:
        t0 = time.perf_counter()
        for i in range(0, len(rows), BATCH):
            store.write_prepared(rows[i : i + BATCH])
        store.flush()
        return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--input", help="JSON lines to use instead of generating --events")
    p.add_argument("--workers", type=int, default=default_workers())
    p.add_argument("--json", help="write the figures to this file")
    args = p.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="kubetrail-split-") as tmp:
        work = Path(tmp)
        if args.input:
            path = Path(args.input)
        else:
            path = write_cluster(work / "cluster.jsonl", args.events)
        print(f"input: {path} ({path.stat().st_size / 1e6:.0f} MB)", flush=True)
        whole = _ingest(SQLiteStore, path, work, "whole", args.workers)
        workers_alone = _ingest(_NoWrites, path, work, "no-writes", args.workers)
        rows, prepare = prepare_rows(path)
        n = len(rows)
        # the 100,000 prepared rows are the bench's own scaffolding (ingest holds at
        # most two batches): keep the collector from rescanning them in the timings
        gc.freeze()
        writer = _write_prepared(rows, work)
        ablations = {
            "all (the store's statements)": _write(rows, work, "all"),
            "without the full-text index": _write(rows, work, "no-fts", fts=False),
            "without the signal rows": _write(rows, work, "no-signals", signals=False),
            "without compression": _write(rows, work, "no-zstd", compress=False),
            "with the full-text index in its own file, second thread (experiment)": _write(
                rows, work, "fts-apart", fts_apart=True
            ),
        }

    def rate(seconds: float) -> int:
        return round(n / seconds)

    def per_event(seconds: float) -> float:
        return round(seconds / n * 1e6, 1)

    results: dict[str, Any] = {
        "machine": _machine(),
        "events": n,
        "workers": args.workers,
        "whole_events_per_s": rate(whole),
        "workers_alone_events_per_s": rate(workers_alone),
        "prepare_one_process_us_per_event": per_event(prepare),
        "writer_alone_events_per_s": rate(writer),
        "writer_alone_us_per_event": per_event(writer),
        "writer_ablations_us_per_event": {k: per_event(v) for k, v in ablations.items()},
    }
    print(f"\n{n:,} events, {args.workers} workers\n")
    print("| measure | value |")
    print("| --- | ---: |")
    print(f"| whole ingest | {rate(whole):,} events/s |")
    print(f"| workers alone (writes stored nothing) | {rate(workers_alone):,} events/s |")
    print(f"| prepare in one process | {per_event(prepare)} µs/event |")
    print(
        f"| writer alone (`write_prepared`) | {rate(writer):,} events/s, {per_event(writer)} µs/event |"
    )
    for name, seconds in ablations.items():
        print(f"| writer, {name} | {per_event(seconds)} µs/event |")
    print(f"\nmachine: {results['machine']}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
