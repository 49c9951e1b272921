"""The embedded store at the size of issue #20: 14 days of a busy cluster (10M events).

    python bench/embedded_scale.py --store-path /var/tmp/kt-scale/s10m.db --keep     # 10,000,000
    python bench/embedded_scale.py --store-path /var/tmp/kt-scale/s1m.db --quick      # 1,000,000
    python bench/embedded_scale.py --quick --single-schema /var/tmp/ui1m.db \\
        --store-path single:/var/tmp/kt-scale/single.db --store-path /var/tmp/kt-scale/days.db

Each ``--store-path`` (``sqlite:///PATH`` for kubetrail) goes through the phases in turn:

1. **build** (when PATH does not exist): bench/generate.py's cluster (``--pods`` pods,
   50 nodes, 20 namespaces) churning over ``--hours`` (336: 14 days, ending at today's
   UTC midnight, so every day is whole) with the demo incident in its last six hours,
   written in slices of ``--slice`` events to a file that ``kubetrail ingest`` loads (as a
   user runs it) and that is deleted afterwards: the rate of each slice against the
   events already stored. The build is resumable: a state file ``PATH.scale.json`` records
   each slice done, and a new run goes on from there (the generation is deterministic);
2. **reads**: ``kubetrail api`` on the store; bench/foundation.py's typical
   ``GET /api/v1/events`` queries over the newest 48 h and the same kinds of filters over
   all stored days, p50/p95 over ``--reps`` requests; each diagnostic over the newest 1 h
   and 7 days (bench/diagnostics.py's loop, in this process, through ``open_store``);
   a cursor walk (``limit=1000`` pages) over the 2 h around the UTC midnight nearest the
   middle of the stored range: every event once, in (timestamp, id) order, as many as an
   aggregation counts (and as were generated in those hours, when this run built the store);
3. **flat ingest**: ``--flat-events`` (200,000) more events of the same cluster shape (a new
   cluster each round, so their ids are new), ``kubetrail ingest`` into an empty store of
   the same layout and into the full one; the ratio of the rates (issue #20: ≥ 80 %). Per
   placement (``--flat-placements``): *appended* after the newest stored event (a cluster
   going on: what the shipper writes) and *interleaved* among the newest stored hours (a
   backfill: its rows land in files already full). Two rounds each, of their own events,
   in the order empty, full then full, empty, and the mean of their ratios, so that a
   machine getting slower or faster through the phase cancels out;
4. **retention**: ``enforce_retention(store, days=14, now=...)``, in a process of its own,
   with ``now`` chosen so that exactly the oldest stored UTC day expires, while three client
   threads query ``kubetrail api``: its duration, the events deleted, the store's disk use
   (st_blocks, as ``du``) before and after, the API latency before and during it, and the
   longest reader stall (how much longer a request overlapping the retention took than its
   query's median before it; issue #20: ≤ 100 ms).

Disk per event is the footprint after the build. The store's layout is read from disk:
``PATH.days/`` present means a day-partitioned store, else one SQLite file. A store that
already exists is reused as it is only with ``--keep`` (its build resumed when its state
file says it is unfinished): the flat-ingest and retention phases change it (200,000
events more, a day less). Without ``--keep`` the stores this run built are deleted at the
end. The empty store of the flat-ingest check is created the way the full store's layout
needs: a fresh path for a day-partitioned store, a copy of the full file's schema for a
single file (a kubetrail that creates day-partitioned stores still opens an existing
single file as it is). For the same reason ``--store-path single:PATH`` builds PATH as one
file whatever the kubetrail: it starts as an empty copy of ``--single-schema``'s schema,
so one run can compare both layouts, each built from the same events.

Results: ``bench/results/embedded-scale-<N>.json`` (``--json``), written after each phase,
with the command line. Data lives under ``--workdir`` (default: the store's directory);
a build stops when the file system would have less than ``--min-free-gb`` left.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

import diagnostics as diag
from foundation import _machine, _percentile, _time_queries, running_api, typical_queries
from generate import Cluster, write_lines
from kubetrail.demo.incident import generate_incident
from kubetrail.events.timing import format_rfc3339, parse_rfc3339, to_micros
from kubetrail.store import AggregateQuery, EventFilter, Store, open_store

KUBETRAIL = [sys.executable, "-m", "kubetrail"]
DAY = timedelta(days=1)
RESULTS = Path(__file__).resolve().parent / "results"
#: The issue's aims.
FLAT_RATIO = 0.80
QUERY_P95_MS = 50.0
DIAG_MS = {"1h": 200.0, "7d": 2000.0}
RETENTION_S = 1.0
STALL_MS = 100.0
DIAG_RANGES = (("1h", timedelta(hours=1)), ("7d", timedelta(days=7)))
POD_NAME = "svc-0021-7d9f8b6c5-00063"  # a pod of the synthetic cluster (team-03)


# -- the store on disk -------------------------------------------------------------


def url_of(path: Path) -> str:
    return f"sqlite:///{path}"


def layout(path: Path) -> str:
    """``partitioned`` (a catalog file with ``PATH.days/``), ``single`` or ``none``."""
    if Path(f"{path}.days").is_dir():
        return "partitioned"
    return "single" if path.exists() else "none"


def _store_files(path: Path) -> Iterator[Path]:
    for f in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        if f.exists():
            yield f
    days = Path(f"{path}.days")
    if days.is_dir():
        for root, _dirs, files in os.walk(days):
            for name in files:
                yield Path(root) / name


def footprint(path: Path) -> int:
    """Bytes the store occupies on disk (allocated blocks, as ``du``)."""
    return sum(f.stat().st_blocks * 512 for f in _store_files(path))


def remove_store(path: Path) -> None:
    for f in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        f.unlink(missing_ok=True)
    shutil.rmtree(Path(f"{path}.days"), ignore_errors=True)
    state_path(path).unlink(missing_ok=True)


def state_path(path: Path) -> Path:
    return Path(f"{path}.scale.json")


@contextlib.contextmanager
def opened(path: Path, *, read_only: bool = False) -> Iterator[Store]:
    store = open_store(url_of(path), read_only=read_only)
    try:
        yield store
    finally:
        store.close()


def health(path: Path) -> dict[str, Any]:
    with opened(path, read_only=True) as store:
        return dict(store.health().detail)


def clone_empty(src: Path, dst: Path) -> None:
    """An empty single-file store with ``src``'s schema (tables, indexes, full-text
    settings, schema version), as a fresh store of that version would be."""
    remove_store(dst)
    conn = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    try:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        objects = conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL"
            " ORDER BY type != 'table', rowid"
        ).fetchall()
        meta = conn.execute("SELECT key, value FROM meta").fetchall()
        virtual = [name for _t, name, sql in objects if sql.upper().startswith("CREATE VIRTUAL")]
        shadows = {
            f"{v}_{s}" for v in virtual for s in ("data", "idx", "content", "docsize", "config")
        }
        config = {
            v: conn.execute(f"SELECT k, v FROM {v}_config WHERE k != 'version'").fetchall()
            for v in virtual
        }
    finally:
        conn.close()
    out = sqlite3.connect(dst, isolation_level=None)
    try:
        out.execute(f"PRAGMA page_size={int(page_size)}")
        out.execute("PRAGMA journal_mode=WAL")
        out.execute("BEGIN")
        for _type, name, sql in objects:
            if name not in shadows:
                out.execute(sql)
        out.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", meta)
        out.execute("UPDATE meta SET value = '0' WHERE key = 'event_count'")
        for v, rows in config.items():
            out.executemany(f"INSERT INTO {v} ({v}, rank) VALUES (?, ?)", rows)
        out.execute("COMMIT")
    finally:
        out.close()


# -- ingest -------------------------------------------------------------------------


def ingest(path: Path, source: Path, workers: int | None) -> dict[str, Any]:
    """``kubetrail ingest --quiet --store sqlite:///PATH SOURCE``, timed."""
    cmd = [*KUBETRAIL, "ingest", "--quiet", "--store", url_of(path), str(source)]
    if workers:
        cmd += ["--workers", str(workers)]
    with tempfile.TemporaryFile() as err:
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        rc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=err).returncode
        seconds = time.perf_counter() - t0
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        err.seek(0)
        output = err.read().decode(errors="replace").strip()
    if rc != 0:
        raise SystemExit(f"ingest failed (rc {rc}): {' '.join(cmd)}\n{output[-3000:]}")
    summary = output.splitlines()[-1] if output else ""
    counts = {}
    for part in summary.removeprefix("kubetrail: ").split(", "):
        word, _, number = part.partition(" ")
        if number.isdigit():
            counts[word] = int(number)
    # CPU of the ingest and its workers: steadier than the wall time on a shared machine
    return {
        "seconds": round(seconds, 2),
        "cpu_user_s": round(ru1.ru_utime - ru0.ru_utime, 2),
        "cpu_sys_s": round(ru1.ru_stime - ru0.ru_stime, 2),
        "summary": summary,
        **counts,
    }


def _free_gb(path: Path) -> float:
    return shutil.disk_usage(path).free / 1e9


def _check_disk(where: Path, need_gb: float, floor_gb: float) -> None:
    free = _free_gb(where)
    if free - need_gb < floor_gb:
        raise SystemExit(
            f"stopping: {free:.1f} GB free on {where}, this step needs ~{need_gb:.1f} GB and "
            f"--min-free-gb is {floor_gb} (the build resumes from its state file)"
        )


def plan_of(args: argparse.Namespace) -> dict[str, Any]:
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return {
        "events": args.events,
        "hours": args.hours,
        "pods": args.pods,
        "seed": args.seed,
        "slice": args.slice,
        "start": format_rfc3339(end - timedelta(hours=args.hours)),
        "incident": not args.no_incident,
    }


def _all_events(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The build's watch events, in order: the cluster's churn, then the demo incident
    (anchored a minute before the window's end)."""
    start = parse_rfc3339(plan["start"])
    end = start + timedelta(hours=plan["hours"])
    incident = generate_incident(anchor=end - timedelta(minutes=1)) if plan["incident"] else []
    cluster = Cluster(nodes=50, pods=plan["pods"], namespaces=20, seed=plan["seed"], start=start)
    yield from cluster.churn(plan["events"] - len(incident), plan["hours"])
    yield from incident


def build(path: Path, state: dict[str, Any], args: argparse.Namespace, work: Path) -> None:
    """Generate and ingest slice after slice; ``state`` records each one done."""
    plan = state["plan"]
    done = sum(s["events"] for s in state["slices"])
    events = _all_events(plan)
    if done:
        print(f"  resuming the build after {done:,} events", flush=True)
        for _ in itertools.islice(events, done):
            pass
    hours: dict[str, int] = state.setdefault("hours", {})
    while done < plan["events"]:
        n = min(plan["slice"], plan["events"] - done)
        # the slice's file (~2.2 KB an event) and the store's growth (~2.5 KB)
        _check_disk(work, n * 4.7e-6, args.min_free_gb)
        source = work / f"{path.name}.slice-{len(state['slices']):03d}.jsonl"
        t0 = time.perf_counter()
        counts: dict[str, int] = {}
        size = 0
        with source.open("wb") as out:
            for ev in itertools.islice(events, n):
                hour = ev["timestamp"][:13]
                counts[hour] = counts.get(hour, 0) + 1
                line = orjson.dumps(ev) + b"\n"
                out.write(line)
                size += len(line)
        gen_s = time.perf_counter() - t0
        try:
            result = ingest(path, source, args.workers)
        finally:
            source.unlink(missing_ok=True)
        rate = round(n / result["seconds"])
        record = {
            "slice": len(state["slices"]),
            "stored_before": done,
            "events": n,
            "input_mb": round(size / 1e6),
            "generate_s": round(gen_s, 1),
            **result,
            "events_per_s": rate,
            "footprint_mb": round(footprint(path) / 1e6),
            "loadavg_1m": round(os.getloadavg()[0], 1),
        }
        state["slices"].append(record)
        for hour, c in counts.items():
            hours[hour] = hours.get(hour, 0) + c
        done += n
        state_path(path).write_text(json.dumps(state, indent=1))
        print(
            f"  slice {record['slice']}: {done - n:>11,} stored before, {n:,} events in "
            f"{result['seconds']} s: {rate:,} events/s ({result['summary']})",
            flush=True,
        )
    state["complete"] = True
    state_path(path).write_text(json.dumps(state, indent=1))


# -- reads --------------------------------------------------------------------------


def _day_floor(t: datetime) -> datetime:
    return t.replace(hour=0, minute=0, second=0, microsecond=0)


def long_queries(oldest: datetime, newest: datetime) -> list[tuple[str, str]]:
    """The typical filters over every stored day (the issue: ``verb=delete`` over 14 days
    had no index path)."""
    days = (newest - oldest).total_seconds() / 86400
    rng = f"start={format_rfc3339(oldest)}&end={format_rfc3339(newest)}"
    label = f"{days:.0f} d"
    return [
        (f"all kinds, {label}, limit 100", f"/api/v1/events?{rng}&limit=100"),
        (f"namespace, {label}, limit 100", f"/api/v1/events?{rng}&namespace=team-05&limit=100"),
        (f"verb=delete, {label}, limit 100", f"/api/v1/events?{rng}&verb=delete&limit=100"),
        (
            f"signal CrashLoopBackOff, {label}, limit 100",
            f"/api/v1/events?{rng}&signal=pod.waiting:CrashLoopBackOff&limit=100",
        ),
        (
            f"full text q=OOMKilled, {label}, limit 100",
            f"/api/v1/events?{rng}&q=OOMKilled&limit=100",
        ),
        (
            f"one object by name, {label}",
            f"/api/v1/events?{rng}&namespace=team-03&name={POD_NAME}&limit=100",
        ),
    ]


def cursor_walk(
    base: str, store: Store, boundary: datetime, state: dict[str, Any] | None
) -> dict[str, Any]:
    """Every event of [boundary - 1 h, boundary + 1 h) by ``limit=1000`` pages."""
    start, end = boundary - timedelta(hours=1), boundary + timedelta(hours=1, seconds=-1)
    params: dict[str, Any] = {
        "start": format_rfc3339(start),
        "end": format_rfc3339(end),
        "limit": 1000,
    }
    seen: set[str] = set()
    per_day: dict[str, int] = {}
    prev: tuple[int, str] | None = None
    out_of_order = duplicates = pages = 0
    page_ms: list[float] = []
    with httpx.Client(base_url=base, timeout=120) as client:
        cursor = None
        while True:
            t0 = time.perf_counter()
            resp = client.get(
                "/api/v1/events", params={**params, **({"cursor": cursor} if cursor else {})}
            )
            page_ms.append((time.perf_counter() - t0) * 1000)
            resp.raise_for_status()
            pages += 1
            for doc in resp.json():
                key = (to_micros(parse_rfc3339(doc["timestamp"])), doc["id"])
                if prev is not None and key <= prev:
                    out_of_order += 1
                prev = key
                if doc["id"] in seen:
                    duplicates += 1
                seen.add(doc["id"])
                day = doc["timestamp"][:10]
                per_day[day] = per_day.get(day, 0) + 1
            cursor = resp.headers.get("X-Next-Cursor")
            if not cursor:
                break
    agg = store.aggregate(
        AggregateQuery(
            filter=EventFilter(start=start, end=end), group_by=("kind",), limit=10_000, latest=False
        )
    )
    counted = sum(b.count for b in agg.buckets)
    generated = None
    if state and state.get("complete"):
        hours = state.get("hours") or {}
        keys = {(start + timedelta(hours=i)).strftime("%Y-%m-%dT%H") for i in range(2)}
        generated = sum(hours.get(k, 0) for k in keys)
    returned = len(seen) + duplicates
    ok = out_of_order == 0 and duplicates == 0 and returned == counted
    ok = ok and (generated is None or generated == returned)
    return {
        "start": params["start"],
        "end": params["end"],
        "boundary": format_rfc3339(boundary),
        "pages": pages,
        "returned": returned,
        "distinct": len(seen),
        "per_day": per_day,
        "duplicates": duplicates,
        "out_of_order": out_of_order,
        "aggregate_count": counted,
        "generated": generated,
        "page_p50_ms": round(statistics.median(page_ms), 1),
        "page_max_ms": round(max(page_ms), 1),
        "ok": ok,
    }


def reads(path: Path, args: argparse.Namespace, state: dict[str, Any] | None) -> dict[str, Any]:
    detail = health(path)
    oldest, newest = parse_rfc3339(detail["oldest"]), parse_rfc3339(detail["newest"])
    out: dict[str, Any] = {"health": detail}
    start48 = newest.replace(minute=0, second=0, microsecond=0) - timedelta(hours=48)
    middle = oldest + (newest - oldest) / 2
    boundary = _day_floor(middle + timedelta(hours=12))
    with running_api(url_of(path)) as base:
        queries = typical_queries(base, start48, 48.0) + long_queries(oldest, newest)
        out["queries"] = _time_queries(base, queries, args.reps)
        for q in out["queries"]:
            print(f"  {q['query']}: {q['rows']} rows, p50 {q['p50_ms']} ms, p95 {q['p95_ms']} ms")
        with opened(path, read_only=True) as store:
            out["cursor_walk"] = cursor_walk(base, store, boundary, state)
        cw = out["cursor_walk"]
        print(
            f"  cursor walk {cw['start']} .. {cw['end']}: {cw['returned']:,} events in "
            f"{cw['pages']} pages {cw['per_day']}, aggregate {cw['aggregate_count']:,}, "
            f"generated {cw['generated']}, duplicates {cw['duplicates']}, out of order "
            f"{cw['out_of_order']}: {'ok' if cw['ok'] else 'WRONG'}",
            flush=True,
        )
    with opened(path, read_only=True) as store:
        section = diag.bench_store(
            store,
            label=path.name,
            reps=args.diag_reps,
            budget=args.diag_budget,
            limit=50,
            profile=False,
            timeout=args.diag_timeout,
            old_way=False,
            ranges=DIAG_RANGES,
        )
    out["diagnostics"] = [
        {
            k: r.get(k)
            for k in (
                "check",
                "range",
                "runs",
                "first_ms",
                "p50_ms",
                "max_ms",
                "timed_out",
                "findings",
            )
        }
        for r in section["results"]
    ]
    out["loadavg_1m"] = round(os.getloadavg()[0], 1)
    return out


# -- flat ingest --------------------------------------------------------------------


#: Where the flat check's events fall: after the newest stored event (a cluster going on,
#: what the shipper writes), or among the newest stored hours (a backfill: its rows land
#: in files already full).
PLACEMENTS = ("appended", "interleaved")


def flat_ingest(path: Path, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Per placement two rounds, each of its own new events, in the order empty, full,
    then full, empty: a machine getting slower or faster through the phase moves both
    rounds' ratios in opposite directions, and their mean cancels it."""
    detail = health(path)
    oldest, newest = parse_rfc3339(detail["oldest"]), parse_rfc3339(detail["newest"])
    per_hour = detail["events"] / max(1.0, (newest - oldest).total_seconds() / 3600)
    span_h = args.flat_events / per_hour
    n = args.flat_events
    kind = layout(path)
    out: dict[str, Any] = {
        "events": n,
        "span_hours": round(span_h, 1),
        "stored_before": detail["events"],
        "aim": FLAT_RATIO,
    }
    for placement in args.flat_placements:
        rounds = []
        for number in range(2):
            # a cluster of its own each round and run (its pods' uids depend on its start)
            jitter = timedelta(seconds=int(time.time()) % 3600)
            if placement == "appended":
                start = health(path)["newest"]
                start = parse_rfc3339(start) + timedelta(seconds=1) + jitter
            else:
                start = newest - timedelta(hours=span_h) - jitter
            source = work / f"{path.name}.flat-{n}.jsonl"
            _check_disk(work, n * 7e-6, args.min_free_gb)
            with source.open("wb") as fh:
                write_lines(
                    fh,
                    events=n,
                    nodes=50,
                    pods=args.pods,
                    namespaces=20,
                    hours=span_h,
                    seed=args.seed + 1 + number,
                    start=start,
                )
            empty = work / f"{path.name}.flat-empty.db"
            runs: dict[str, dict[str, Any]] = {}
            try:
                for target in ("empty", "full") if number == 0 else ("full", "empty"):
                    if target == "empty":
                        if kind == "single":
                            clone_empty(path, empty)
                        else:
                            remove_store(empty)
                        runs["empty"] = {
                            **ingest(empty, source, args.workers),
                            "layout": layout(empty),
                        }
                    else:
                        runs["full"] = {**ingest(path, source, args.workers), "layout": kind}
            finally:
                source.unlink(missing_ok=True)
                remove_store(empty)
            for run in runs.values():
                run["events_per_s"] = round(n / run["seconds"])
                run["cpu_us_per_event"] = round((run["cpu_user_s"] + run["cpu_sys_s"]) / n * 1e6, 1)
            e, f = runs["empty"], runs["full"]
            rounds.append(
                {
                    "start": format_rfc3339(start),
                    "order": "empty, full" if number == 0 else "full, empty",
                    **runs,
                    "ratio": round(f["events_per_s"] / e["events_per_s"], 3),
                    # the same from the CPU each used (a shared machine's wall time varies)
                    "cpu_ratio": round(e["cpu_us_per_event"] / f["cpu_us_per_event"], 3),
                    "loadavg_1m": round(os.getloadavg()[0], 1),
                }
            )
            print(
                f"  flat ingest ({placement}, round {number + 1}, {rounds[-1]['order']}) of "
                f"{n:,}: empty store {e['events_per_s']:,} events/s, full store "
                f"{f['events_per_s']:,} events/s: {rounds[-1]['ratio']:.1%}, by CPU "
                f"{rounds[-1]['cpu_ratio']:.1%} (full: {f['summary']})",
                flush=True,
            )
        ratio = round(statistics.mean(r["ratio"] for r in rounds), 3)
        out[placement] = {
            "rounds": rounds,
            "ratio": ratio,
            "cpu_ratio": round(statistics.mean(r["cpu_ratio"] for r in rounds), 3),
            "met": ratio >= FLAT_RATIO and all(r["full"].get("stored") == n for r in rounds),
        }
    return out


# -- retention ------------------------------------------------------------------------


#: Run in a process of its own, so that its Python work does not hold up the client
#: threads' clocks in this one: times are wall-clock (shared by both processes).
_RETAIN = """
import json, sys, time
from kubetrail.events.timing import parse_rfc3339
from kubetrail.store import open_store
from kubetrail.store.retention import enforce_retention
store = open_store(sys.argv[1])
t0 = time.time()
result = enforce_retention(store, days=int(sys.argv[2]), now=parse_rfc3339(sys.argv[3]))
t1 = time.time()
store.close()
print(json.dumps({"t0": t0, "t1": t1, "closed": time.time(),
    "deleted_events": result.deleted_events, "deleted_indices": result.deleted_indices}))
"""
#: Client threads querying the API while retention runs.
_CLIENTS = 3


def retention(path: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Retention of the oldest stored day in a process of its own, while ``_CLIENTS``
    threads query ``kubetrail api``; a reader's stall is how much longer a request
    overlapping the retention took than its route's median before it."""
    detail = health(path)
    oldest, newest = parse_rfc3339(detail["oldest"]), parse_rfc3339(detail["newest"])
    cutoff = _day_floor(oldest) + DAY
    days = 14
    now = cutoff + timedelta(days=days)
    window = {
        "start": format_rfc3339(newest - timedelta(hours=6)),
        "end": format_rfc3339(newest),
    }
    queries: list[tuple[str, dict[str, str | int]]] = [
        ("/api/v1/events", {**window, "namespace": "team-05", "limit": 100}),
        ("/api/v1/events", {**window, "signal": "pod.waiting:CrashLoopBackOff", "limit": 100}),
        ("/api/v1/events", {**window, "q": "OOMKilled", "limit": 100}),
        ("/api/v1/events", {**window, "verb": "delete", "limit": 100}),
        ("/health", {}),
    ]
    # not the object history: its ~1,000 versions take ~0.15 s of the API's CPU each, so
    # three clients asking for it wait for each other far more than for the retention
    samples: list[tuple[float, float, int, int]] = []  # (start, end, status, query)
    errors: list[str] = []
    stop = threading.Event()
    du_before = footprint(path)
    with running_api(url_of(path)) as base:

        def client(offset: int) -> None:
            with httpx.Client(base_url=base, timeout=120) as c:
                for i in itertools.count(offset):
                    if stop.is_set():
                        return
                    which = i % len(queries)
                    route, params = queries[which]
                    t0 = time.time()
                    try:
                        response = c.get(route, params=params)
                        status = response.status_code
                        if status >= 500:
                            errors.append(f"{status} {route}: {response.text[:300]}")
                    except httpx.HTTPError as exc:
                        errors.append(str(exc))
                        status = 0
                    samples.append((t0, time.time(), status, which))

        threads = [
            threading.Thread(target=client, args=(n * 2,), daemon=True) for n in range(_CLIENTS)
        ]
        for thread in threads:
            thread.start()
        time.sleep(args.retention_baseline)
        child = subprocess.run(
            [sys.executable, "-c", _RETAIN, url_of(path), str(days), format_rfc3339(now)],
            capture_output=True,
            text=True,
            check=True,
        )
        ran = json.loads(child.stdout.strip().splitlines()[-1])
        t0, t1 = ran["t0"], ran["t1"]
        du_after = footprint(path)
        time.sleep(1.0)  # readers right after
        stop.set()
        for thread in threads:
            thread.join(120)
    after = health(path)  # opens and closes the store: the last connection checkpoints the WAL
    du_closed = footprint(path)

    before_s = [x for x in samples if x[1] < t0]
    during_s = [x for x in samples if x[1] >= t0 and x[0] <= t1]
    typical = {
        q: statistics.median([(b - a) * 1000 for a, b, _, w in before_s if w == q] or [0.0])
        for q in range(len(queries))
    }

    def stats(sel: list[tuple[float, float, int, int]]) -> dict[str, Any]:
        ms = [(b - a) * 1000 for a, b, _, _w in sel]
        stalls = [(b - a) * 1000 - typical[w] for a, b, _, w in sel]
        return {
            "requests": len(ms),
            "errors": sum(1 for x in sel if x[2] == 0 or x[2] >= 500),
            "p50_ms": round(statistics.median(ms), 1) if ms else None,
            "p95_ms": round(_percentile(ms, 0.95), 1) if ms else None,
            "max_ms": round(max(ms), 1) if ms else None,
            "max_stall_ms": round(max(stalls), 1) if stalls else None,
        }

    out = {
        "cutoff": format_rfc3339(cutoff),
        "now": format_rfc3339(now),
        "days": days,
        "events_before": detail["events"],
        "events_after": after["events"],
        "deleted_events": ran["deleted_events"],
        "deleted_indices": ran["deleted_indices"],
        "seconds": round(t1 - t0, 3),
        "close_seconds": round(ran["closed"] - t1, 3),
        "footprint_before_mb": round(du_before / 1e6, 1),
        "footprint_after_mb": round(du_after / 1e6, 1),
        "footprint_closed_mb": round(du_closed / 1e6, 1),
        "freed_mb": round((du_before - du_after) / 1e6, 1),
        "freed_after_close_mb": round((du_before - du_closed) / 1e6, 1),
        "oldest_after": after.get("oldest"),
        "clients": _CLIENTS,
        "route_median_before_ms": {
            f"{queries[q][0]}?{'&'.join(f'{k}={v}' for k, v in queries[q][1].items())}": round(
                ms, 1
            )
            for q, ms in typical.items()
        },
        "api_before": stats(before_s),
        "api_during": stats(during_s),
        "client_errors": errors[:5],
        "loadavg_1m": round(os.getloadavg()[0], 1),
    }
    during = out["api_during"]
    out["met"] = (
        out["seconds"] <= RETENTION_S
        and during["requests"] > 0
        and (during["max_stall_ms"] or 0) <= STALL_MS
        and out["freed_mb"] > 0
    )
    print(
        f"  retention before {out['cutoff']}: {out['deleted_events']:,} events in "
        f"{out['seconds']} s, disk {out['footprint_before_mb']:,} -> "
        f"{out['footprint_after_mb']:,} MB ({out['footprint_closed_mb']:,} once closed); API "
        f"during it: {during['requests']} requests, p95 {during['p95_ms']} ms, max "
        f"{during['max_ms']} ms, longest stall {during['max_stall_ms']} ms",
        flush=True,
    )
    return out


# -- the run ----------------------------------------------------------------------------


PHASES = ("build", "reads", "flat", "retention")


def run_store(
    path: Path, args: argparse.Namespace, work: Path, save: Any, *, single: bool = False
) -> tuple[dict[str, Any], bool]:
    """One store through the phases; returns its section and whether this run built it.
    ``single``: a store built here starts as an empty single file (:func:`clone_empty` of
    ``--single-schema``)."""
    section: dict[str, Any] = {"store_path": str(path), "url": url_of(path)}
    existing = layout(path)
    sp = state_path(path)
    state: dict[str, Any] | None = json.loads(sp.read_text()) if sp.exists() else None
    built_here = False
    if existing != "none" and not args.keep:
        raise SystemExit(f"{path} exists: --keep reuses it (it is changed), or delete it first")
    if existing == "none" and state is not None:
        sp.unlink()  # a state file without its store
        state = None
    section["layout_found"] = existing
    print(f"\n[{path}] layout: {existing}", flush=True)
    if "build" in args.phases:
        if existing == "none" or (state is not None and not state.get("complete")):
            if state is None:
                state = {"plan": plan_of(args), "slices": []}
            built_here = existing == "none"
            if built_here and single:
                if args.single_schema is None:
                    raise SystemExit("a single: store path needs --single-schema")
                clone_empty(args.single_schema, path)
            t0 = time.perf_counter()
            build(path, state, args, work)
            section["build_seconds"] = round(time.perf_counter() - t0, 1)
        else:
            print("  reusing it as it is (no build)", flush=True)
    if layout(path) == "none":
        raise SystemExit(f"{path}: no store (run the build phase)")
    section["layout"] = layout(path)
    if state is not None:
        section["plan"] = state["plan"]
        section["ingest_slices"] = state["slices"]
        rates = [s for s in state["slices"] if "events_per_s" in s]
        if rates:
            total_s = sum(s["seconds"] for s in rates)
            section["ingest_events_per_s"] = round(sum(s["events"] for s in rates) / total_s)
    detail = health(path)
    fp = footprint(path)
    section["size"] = {
        "events": detail["events"],
        "oldest": detail["oldest"],
        "newest": detail["newest"],
        "footprint_mb": round(fp / 1e6, 1),
        "bytes_per_event": round(fp / max(1, detail["events"])),
    }
    print(
        f"  {detail['events']:,} events, {detail['oldest']} .. {detail['newest']}, "
        f"{fp / 1e9:.2f} GB: {section['size']['bytes_per_event']:,} bytes per event",
        flush=True,
    )
    save(section)
    if "reads" in args.phases:
        section["reads"] = reads(path, args, state)
        save(section)
    if "flat" in args.phases:
        section["flat_ingest"] = flat_ingest(path, args, work)
        save(section)
    if "retention" in args.phases:
        section["retention"] = retention(path, args)
        save(section)
    return section, built_here


def summary_lines(section: dict[str, Any]) -> list[str]:
    lines = [f"{section['store_path']} ({section.get('layout')}):"]
    for s in section.get("ingest_slices", []):
        cpu = ""
        if "cpu_user_s" in s:
            cpu = f", {(s['cpu_user_s'] + s['cpu_sys_s']) / s['events'] * 1e6:,.0f} µs CPU/event"
        lines.append(
            f"  ingest: {s['stored_before']:>11,} stored -> {s['events_per_s']:>6,} events/s{cpu}"
        )
    size = section["size"]
    lines.append(f"  disk: {size['bytes_per_event']:,} bytes per event ({size['events']:,} events)")
    flat = section.get("flat_ingest")
    for placement in PLACEMENTS:
        if flat and placement in flat:
            got = flat[placement]
            lines.append(
                f"  flat ingest ({placement}): mean ratio {got['ratio']:.1%} of two rounds "
                f"(aim ≥ {FLAT_RATIO:.0%}), by CPU {got['cpu_ratio']:.1%}"
            )
    ret = section.get("retention")
    if ret:
        lines.append(
            f"  retention: {ret['deleted_events']:,} events in {ret['seconds']} s, freed "
            f"{ret['freed_mb']:,} MB, API during it: {ret['api_during']['requests']} requests,"
            f" max {ret['api_during']['max_ms']} ms, longest stall "
            f"{ret['api_during'].get('max_stall_ms')} ms"
        )
    rd = section.get("reads")
    if rd:
        worst = max(rd["queries"], key=lambda q: q["p95_ms"])
        lines.append(f"  queries: worst p95 {worst['p95_ms']} ms ({worst['query']})")
        for rng in ("1h", "7d"):
            rows = [r for r in rd["diagnostics"] if r["range"] == rng and r["max_ms"] is not None]
            if rows:
                w = max(rows, key=lambda r: r["max_ms"])
                lines.append(f"  diagnostics {rng}: slowest {w['max_ms']} ms ({w['check']})")
                c = max(rows, key=lambda r: r.get("first_ms") or 0)
                lines.append(
                    f"  diagnostics {rng}, first call (cold process): slowest "
                    f"{c.get('first_ms')} ms ({c['check']})"
                )
        cw = rd["cursor_walk"]
        lines.append(f"  cursor walk: {cw['returned']:,} events, {'ok' if cw['ok'] else 'WRONG'}")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--store-path",
        action="append",
        required=True,
        help="the store file (sqlite:///PATH); repeat to run several stores in one run. "
        "single:PATH builds PATH as one SQLite file (see --single-schema)",
    )
    p.add_argument(
        "--single-schema",
        type=Path,
        help="a single-file store (read only) whose schema an empty single:PATH store gets "
        "before its build, so that a kubetrail creating day-partitioned stores builds the "
        "single-file layout too (it opens an existing single file as it is)",
    )
    p.add_argument("--events", type=int, default=10_000_000)
    p.add_argument("--quick", action="store_true", help="1,000,000 events")
    p.add_argument("--hours", type=float, default=336.0, help="the span, ending at UTC midnight")
    p.add_argument("--pods", type=int, default=5_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--slice", type=int, help="events per ingest slice (default: events / 10)")
    p.add_argument("--no-incident", action="store_true", help="no demo incident at the end")
    p.add_argument("--workers", type=int, help="kubetrail ingest --workers")
    p.add_argument("--flat-events", type=int, default=200_000)
    p.add_argument(
        "--flat-placements",
        default=",".join(PLACEMENTS),
        help=f"where the flat check's events fall, comma-separated, of {','.join(PLACEMENTS)}",
    )
    p.add_argument("--reps", type=int, default=30, help="requests per query")
    p.add_argument("--diag-reps", type=int, default=3)
    p.add_argument("--diag-budget", type=float, default=10.0, help="seconds per check and range")
    p.add_argument("--diag-timeout", type=float, default=120.0)
    p.add_argument(
        "--retention-baseline", type=float, default=5.0, help="seconds of queries before"
    )
    p.add_argument(
        "--phases", default=",".join(PHASES), help=f"comma-separated, of {','.join(PHASES)}"
    )
    p.add_argument("--keep", action="store_true", help="reuse existing stores and keep them")
    p.add_argument("--workdir", type=Path, help="slice files (default: the store's directory)")
    p.add_argument("--min-free-gb", type=float, default=12.0)
    p.add_argument("--json", type=Path, help="default bench/results/embedded-scale-<N>.json")
    args = p.parse_args(argv)
    if args.quick:
        args.events = 1_000_000
    args.slice = args.slice or max(1, args.events // 10)
    args.phases = [x for x in args.phases.split(",") if x]
    args.flat_placements = [x for x in args.flat_placements.split(",") if x]
    if set(args.flat_placements) - set(PLACEMENTS):
        p.error(f"unknown placements: {args.flat_placements}")
    unknown = set(args.phases) - set(PHASES)
    if unknown:
        p.error(f"unknown phases: {', '.join(sorted(unknown))}")
    out_path = args.json or RESULTS / f"embedded-scale-{args.events}.json"
    result: dict[str, Any] = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": _machine(),
        "started": format_rfc3339(datetime.now(UTC)),
        # the machine may be shared: the 1-minute load average at the start and at each
        # slice and phase says how busy it was
        "loadavg_1m": round(os.getloadavg()[0], 1),
        "events": args.events,
        "aims": {
            "flat_ingest_ratio": FLAT_RATIO,
            "query_p95_ms": QUERY_P95_MS,
            "diagnostics_ms": DIAG_MS,
            "retention_s": RETENTION_S,
            "reader_stall_ms": STALL_MS,
        },
        "stores": [],
    }

    def save(section: dict[str, Any]) -> None:
        stores = [s for s in result["stores"] if s["store_path"] != section["store_path"]]
        result["stores"] = [*stores, section]
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(result, indent=2))

    built: list[Path] = []
    try:
        for spec in args.store_path:
            single = spec.startswith("single:")
            path = Path(spec.removeprefix("single:")).resolve()
            work = (args.workdir or path.parent).resolve()
            work.mkdir(parents=True, exist_ok=True)
            path.parent.mkdir(parents=True, exist_ok=True)
            section, built_here = run_store(path, args, work, save, single=single)
            if built_here:
                built.append(path)
    finally:
        if not args.keep:
            for path in built:
                remove_store(path)
    print()
    for section in result["stores"]:
        print("\n".join(summary_lines(section)))
    print(f"\n-> {out_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
