"""Why the embedded store's ingest slows down as it grows: the writer alone, on the same
prepared rows, into an empty store and into a copy of a large one, with parts changed.

    python bench/embedded_growth.py --base /var/tmp/ui1m.db --work /var/tmp/kt-scale/growth \\
        --json bench/results/embedded-growth.json

The batch is ``--events`` events of bench/generate.py's cluster (another seed) whose 48 h
start after the newest event of ``--base``, so time-ordered indexes append as they do in
a real ingest (``--input``: a file instead). Its rows are prepared once (``documents_of`` + ``prepare_row``, in this process),
then each variant writes them in 10,000-row writes, committed every 25,000 rows with a
256 MB page cache (as ``kubetrail ingest`` opens the store), once into an empty store and
once into a fresh copy of ``--base`` (never written to; copied with its -wal). Each
variant reports wall time, the writer's user/system CPU and the bytes it wrote and read
through system calls (``/proc/self/io``: WAL frames, checkpoints, page reads). Variants
run the store's own statements (``write_prepared``, or the same statements with one part
left out); they are measurements, not a way to run the store.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import resource
import shutil
import sqlite3
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from foundation import _machine
from generate import write_lines
from kubetrail.events.redact import DEFAULT_POLICY
from kubetrail.ingest.documents import documents_of
from kubetrail.ingest.reader import read_records
from kubetrail.store.sqlite import BULK_ROWS_PER_COMMIT, SQLiteStore, prepare_row
from kubetrail.store.sqlite.rows import table_rows
from kubetrail.store.sqlite.sql import (
    ADD_TO_COUNT,
    INSERT_EVENTS,
    INSERT_FTS,
    INSERT_SIGNAL_NAME,
    INSERT_SIGNALS,
)

BATCH = 10_000
EVENT_INDEXES = (
    "events_ts",
    "events_namespace",
    "events_type",
    "events_object",
    "events_uid",
    "events_involved",
    "events_reason",
    "events_name",
    "events_user",
)


@dataclasses.dataclass(frozen=True)
class Variant:
    name: str
    what: str
    drop: tuple[str, ...] = ()  # indexes dropped before the write (not timed)
    fts: bool = True
    signals: bool = True
    store_writer: bool = False  # SQLiteStore.write_prepared itself
    cache_mb: int = 256
    rows_per_commit: int = BULK_ROWS_PER_COMMIT
    rows: Callable[[list[Any]], list[Any]] | None = None  # rewrites the prepared rows
    small_docs: bool = False


def _sequential_ids(rows: list[Any]) -> list[Any]:
    """Ids that sort after every stored one, in write order (the id index appends)."""
    out = []
    for n, (_ident, row, signals, body) in enumerate(rows):
        ident = f"~{n:012d}"
        out.append((ident, (ident, *row[1:]), signals, body))
    return out


def _local_keys(rows: list[Any]) -> list[Any]:
    """Every key of the batch new and sorting after the stored ones (``~`` > any
    letter): namespace, name, uid, id, involved object. What a copy of a cluster with
    names distinct per copy looks like to the indexes."""
    out = []
    for ident, row, signals, body in rows:
        r = list(row)
        r[0] = "~" + ident
        for i in (4, 6, 9, 15, 16, 17):  # namespace, name, uid, inv_namespace/name/uid
            if r[i]:
                r[i] = "~" + r[i]
        out.append(("~" + ident, tuple(r), signals, body))
    return out


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("store", "SQLiteStore.write_prepared, as kubetrail ingest", store_writer=True),
        Variant("replica", "the same statements, this script's loop"),
        Variant("no_fts", "without the full-text rows", fts=False),
        Variant("no_signals", "without the signal rows (signals + signals_group)", signals=False),
        Variant("no_signals_group", "without the signals_group index", drop=("signals_group",)),
        Variant("no_event_indexes", "without the 9 secondary event indexes", drop=EVENT_INDEXES),
        *(
            Variant(f"no_{ix}", f"without {ix}", drop=(ix,))
            for ix in ("events_object", "events_uid", "events_name", "events_involved")
        ),
        Variant(
            "only_id",
            "only the id index: no FTS, no signals, no secondary event index",
            drop=EVENT_INDEXES,
            fts=False,
            signals=False,
        ),
        Variant("sequential_ids", "ids that sort after every stored id", rows=_sequential_ids),
        Variant("local_keys", "every key new and sorting after the stored ones", rows=_local_keys),
        Variant("cache_1g", "a 1 GB page cache (256 MB)", cache_mb=1024),
        Variant("commit_100k", "one commit per 100,000 rows (25,000)", rows_per_commit=100_000),
        Variant(
            "cache_2g_commit_100k",
            "a 2 GB page cache and one commit per 100,000 rows",
            cache_mb=2048,
            rows_per_commit=100_000,
        ),
        Variant("small_docs", "the stored document replaced by 100 bytes", small_docs=True),
    )
}


def prepare(path: Path) -> list[Any]:
    rows: list[Any] = []
    with path.open("rb") as fh:
        for rec in read_records(fh, source=str(path)):
            docs = documents_of(rec, policy=DEFAULT_POLICY)
            assert isinstance(docs, list), docs
            rows.extend(prepare_row(doc) for doc in docs)
    return rows


def _generate(path: Path, base: Path, events: int) -> Path:
    conn = sqlite3.connect(f"file:{base}?mode=ro", uri=True)
    try:
        newest = conn.execute("SELECT MAX(ts) FROM events").fetchone()[0]
    finally:
        conn.close()
    start = datetime.fromtimestamp(newest // 1_000_000 + 60, UTC)
    with path.open("wb") as out:
        write_lines(
            out, events=events, nodes=50, pods=5000, namespaces=20, hours=48.0, seed=11, start=start
        )
    return path


def _io() -> tuple[int, int]:
    with open("/proc/self/io") as fh:
        fields = dict(line.split(": ") for line in fh.read().splitlines())
    return int(fields["wchar"]), int(fields["rchar"])


def _replica_write(
    store: SQLiteStore, batch: Sequence[Any], v: Variant, pending: list[int]
) -> None:
    """write_prepared's statements (no audit join), with the variant's parts left out."""
    conn = store._writer
    if not conn.in_transaction:
        conn.execute("BEGIN IMMEDIATE")
    prepared = {item[0]: item for item in batch}
    existing = store._existing_ids(conn, list(prepared))
    fresh = [item for ident, item in prepared.items() if ident not in existing]
    if v.small_docs:
        stored = [b"x" * 100 for _ in fresh]
    else:
        stored = store._codec.encode_batch(conn, [item[1][-2] for item in fresh])
    seq = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]
    event_rows, signal_rows, fts_rows = table_rows(fresh, stored, seq=seq)
    conn.executemany(INSERT_EVENTS, event_rows)
    if v.signals:
        conn.executemany(INSERT_SIGNALS, signal_rows)
        conn.executemany(INSERT_SIGNAL_NAME, [(n,) for n in {row[0] for row in signal_rows}])
    if v.fts:
        conn.executemany(INSERT_FTS, fts_rows)
    conn.execute(ADD_TO_COUNT, (len(event_rows),))
    pending[0] += len(event_rows)
    if pending[0] >= v.rows_per_commit:
        conn.execute("COMMIT")
        pending[0] = 0


def _fresh_db(target: Path, base: Path | None) -> None:
    for f in (target, Path(f"{target}-wal"), Path(f"{target}-shm")):
        f.unlink(missing_ok=True)
    if base is not None:
        shutil.copyfile(base, target)
        if Path(f"{base}-wal").exists():
            shutil.copyfile(f"{base}-wal", f"{target}-wal")


def run_variant(v: Variant, rows: list[Any], db: Path, base: Path | None) -> dict[str, Any]:
    _fresh_db(db, base)
    if base is None:  # an empty store gets the schema first (not timed)
        SQLiteStore(db).close()
    store = SQLiteStore(db, writer_cache_mb=v.cache_mb, rows_per_commit=v.rows_per_commit)
    for ix in v.drop:
        store._writer.execute(f"DROP INDEX IF EXISTS {ix}")
    store._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = v.rows(rows) if v.rows else rows
    before = store._writer.execute("SELECT value FROM meta WHERE key = 'event_count'").fetchone()
    gc.collect()
    gc.freeze()
    w0, r0 = _io()
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    pending = [0]
    for i in range(0, len(data), BATCH):
        batch = data[i : i + BATCH]
        if v.store_writer:
            store.write_prepared(batch)
        else:
            _replica_write(store, batch, v, pending)
    if store._writer.in_transaction:
        store._writer.execute("COMMIT")
    store.close()  # the last connection: SQLite checkpoints the WAL into the file
    seconds = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    w1, r1 = _io()
    gc.unfreeze()
    return {
        "stored_before": int(before[0]) if before else 0,
        "seconds": round(seconds, 2),
        "rows_per_s": round(len(data) / seconds),
        "us_per_row": round(seconds / len(data) * 1e6, 1),
        "user_s": round(ru1.ru_utime - ru0.ru_utime, 2),
        "sys_s": round(ru1.ru_stime - ru0.ru_stime, 2),
        "written_mb": round((w1 - w0) / 1e6),
        "read_mb": round((r1 - r0) / 1e6),
        "db_mb": round(sum(f.stat().st_size for f in db.parent.glob(db.name + "*")) / 1e6),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--events", type=int, default=100_000, help="the batch (generated)")
    p.add_argument("--input", help="JSON lines to write instead of generating them")
    p.add_argument("--base", required=True, help="a large store to copy (not modified)")
    p.add_argument("--work", required=True, help="scratch directory (a copy of --base is made)")
    p.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated")
    p.add_argument("--json", help="write the figures here")
    args = p.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    base = Path(args.base)
    source = Path(args.input) if args.input else _generate(work / "batch.jsonl", base, args.events)
    t0 = time.perf_counter()
    rows = prepare(source)
    if not args.input:
        source.unlink()
    print(f"prepared {len(rows):,} rows in {time.perf_counter() - t0:.1f} s", flush=True)
    out: dict[str, Any] = {
        "command": " ".join(sys.argv),
        "machine": _machine(),
        "rows": len(rows),
        "base": str(base),
        "variants": [],
    }
    print("| variant | empty µs/row | large µs/row | ratio | large: user/sys s, MB written |")
    print("| --- | ---: | ---: | ---: | --- |")
    try:
        for name in args.variants.split(","):
            v = VARIANTS[name]
            empty = run_variant(v, rows, work / "empty.db", None)
            large = run_variant(v, rows, work / "large.db", base)
            ratio = large["us_per_row"] / empty["us_per_row"]
            out["variants"].append(
                {"variant": name, "what": v.what, "empty": empty, "large": large}
            )
            print(
                f"| {name} | {empty['us_per_row']} | {large['us_per_row']} | {ratio:.2f} | "
                f"{large['user_s']}/{large['sys_s']}, {large['written_mb']} "
                f"(empty: {empty['user_s']}/{empty['sys_s']}, {empty['written_mb']}) |",
                flush=True,
            )
            if args.json:
                Path(args.json).write_text(json.dumps(out, indent=2))
    finally:
        for f in work.glob("*.db*"):
            f.unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
