"""What the full-text index's term buffer (FTS5 ``hashsize``) does to inserts.

    python bench/fts_buffer.py --rows 300000 --json bench/results/fts-buffer.json

Takes the search texts of the synthetic cluster (bench/generate.py, ``--events``
distinct events, reused with new row ids up to ``--rows``) and inserts them into a
bare FTS5 table the way the embedded store writes (10,000-row savepoints, 20,000
rows per commit, 16 KB pages, WAL), once with SQLite's default buffer (1 MB) and
once with the store's :data:`~kubetrail.store.sqlite.schema.FTS_HASH_BYTES`, ``--reps`` times
each (which one goes first alternates). Prints CPU µs per row (less disturbed by a
noisy VM than wall time), wall µs per row, bytes per row on disk and a few text
queries' mean time.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from foundation import _machine
from ingest_split import prepare_rows, write_cluster
from kubetrail.store.sqlite.schema import FTS_HASH_BYTES

SAVEPOINT_ROWS = 10_000
COMMIT_ROWS = 20_000
QUERIES = ("payments", '"crash loop"', "oomkilled", '"team 07"', "nginx")


def _texts(events: int, work: Path) -> list[str]:
    rows, _ = prepare_rows(write_cluster(work / "cluster.jsonl", events))
    return [row[3] for row in rows]


def _insert(texts: list[str], rows: int, hash_bytes: int | None, db: Path) -> dict[str, Any]:
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("PRAGMA page_size=16384")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA cache_size=-262144")
        conn.execute("CREATE VIRTUAL TABLE f USING fts5(body, content='')")
        if hash_bytes:
            conn.execute("INSERT INTO f (f, rank) VALUES ('hashsize', ?)", (hash_bytes,))
        wall, cpu = time.perf_counter(), time.process_time()
        conn.execute("BEGIN")
        done = 0
        while done < rows:
            size = min(SAVEPOINT_ROWS, rows - done)
            conn.execute("SAVEPOINT w")
            conn.executemany(
                "INSERT INTO f (rowid, body) VALUES (?, ?)",
                [(done + i + 1, texts[(done + i) % len(texts)]) for i in range(size)],
            )
            conn.execute("RELEASE w")
            done += size
            if done % COMMIT_ROWS == 0:
                conn.execute("COMMIT")
                conn.execute("BEGIN")
        conn.execute("COMMIT")
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        t0 = time.perf_counter()
        for query in QUERIES:
            for _ in range(20):
                conn.execute("SELECT COUNT(*) FROM f WHERE f MATCH ?", (query,)).fetchone()
        query_ms = (time.perf_counter() - t0) / (20 * len(QUERIES)) * 1e3
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return {
        "cpu_us_per_row": round(cpu / rows * 1e6, 1),
        "wall_us_per_row": round(wall / rows * 1e6, 1),
        "bytes_per_row": round(db.stat().st_size / rows),
        "query_ms": round(query_ms, 2),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--events", type=int, default=100_000, help="distinct events to render")
    p.add_argument("--rows", type=int, default=300_000, help="rows to insert per run")
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--json", help="write the figures to this file")
    args = p.parse_args(argv)

    runs: dict[str, list[dict[str, Any]]] = {"default (1 MB)": [], "store": []}
    with tempfile.TemporaryDirectory(prefix="kubetrail-fts-") as tmp:
        work = Path(tmp)
        texts = _texts(args.events, work)
        mean = sum(map(len, texts)) / len(texts)
        print(f"{len(texts):,} search texts, {mean:.0f} characters on average", flush=True)
        for rep in range(args.reps):
            settings = [("default (1 MB)", None), ("store", FTS_HASH_BYTES)]
            for label, hash_bytes in settings if rep % 2 == 0 else settings[::-1]:
                figures = _insert(
                    texts, args.rows, hash_bytes, work / f"{rep}-{len(runs[label])}-{hash_bytes}.db"
                )
                runs[label].append(figures)
                print(f"  {label}: {figures}", flush=True)

    print(f"\n{args.rows:,} rows per run\n")
    print("| buffer | CPU µs per row | wall µs per row | bytes per row | text query ms |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for label, figures in runs.items():

        def col(key: str, figures: list[dict[str, Any]] = figures) -> str:
            return " / ".join(str(f[key]) for f in figures)

        print(
            f"| {label} | {col('cpu_us_per_row')} | {col('wall_us_per_row')} "
            f"| {col('bytes_per_row')} | {col('query_ms')} |"
        )
    results = {
        "machine": _machine(),
        "rows": args.rows,
        "store_hash_bytes": FTS_HASH_BYTES,
        "runs": runs,
    }
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
