"""Store benchmark: `kubetrail ingest` rate and REST API query latency.

    python bench/foundation.py --events 100000                    # embedded SQLite
    python bench/foundation.py --events 100000 --store osmem      # osmem-server (PyPI)
    python bench/foundation.py --store opensearch+http://host:9200  # a real cluster (disposable!)

1. generates ``--events`` watch events of a synthetic cluster (bench/generate.py);
2. times ``kubetrail ingest --store sqlite:///…`` on them, as a user runs it
   (a subprocess; includes reading, parsing, normalising, redaction, signals,
   SQLite writes and FTS indexing);
3. starts ``kubetrail api`` on that store and measures p50/p95 of typical
   ``GET /api/v1/events`` filters and object history over a real socket
   (sequential requests, one client, after a warm-up).

Prints a table and writes the figures as JSON (``--json``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import write_lines


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _machine() -> dict[str, object]:
    mem = 0
    try:
        with open("/proc/meminfo") as fh:
            mem = int(fh.readline().split()[1]) // 1024 // 1024
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "memory_gib": mem,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    k = (len(ordered) - 1) * pct
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _time_queries(base: str, queries: list[tuple[str, str]], reps: int) -> list[dict[str, object]]:
    results = []
    with httpx.Client(base_url=base, timeout=60) as client:
        for label, path in queries:
            for _ in range(3):
                client.get(path).raise_for_status()
            samples = []
            rows = 0
            for _ in range(reps):
                t0 = time.perf_counter()
                resp = client.get(path)
                samples.append((time.perf_counter() - t0) * 1000)
                resp.raise_for_status()
                body = resp.json()
                if isinstance(body, list):
                    rows = len(body)
                elif "history" in body:
                    rows = len(body["history"])
                else:  # /health: the events it counts
                    rows = int((body.get("detail") or {}).get("events") or 0)
            results.append(
                {
                    "query": label,
                    "path": path,
                    "rows": rows,
                    "p50_ms": round(statistics.median(samples), 2),
                    "p95_ms": round(_percentile(samples, 0.95), 2),
                }
            )
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--pods", type=int, default=5_000)
    p.add_argument("--reps", type=int, default=50)
    p.add_argument("--workdir", help="keep files here (default: a temporary directory)")
    p.add_argument(
        "--db",
        help="embedded store file: reused as it is when it exists (no generation, no "
        "ingest; the query window is taken from its oldest event), else built there",
    )
    p.add_argument("--workers", type=int, help="passed to kubetrail ingest --workers")
    p.add_argument("--json", help="write the figures to this file")
    p.add_argument(
        "--store",
        default="sqlite",
        help="sqlite (default), osmem (starts osmem-server), or an opensearch+http(s):// URL",
    )
    args = p.parse_args(argv)
    with contextlib.ExitStack() as stack:
        return _run(args, stack)


def _opensearch_url(kind: str, stack: contextlib.ExitStack) -> str:
    if kind.startswith("opensearch+"):
        return kind
    import osmem_server

    proc = subprocess.Popen(
        [str(osmem_server.resolve_binary()), "--addr", "127.0.0.1:0", "--no-ja"],
        stdin=subprocess.PIPE,  # osmem-server exits when its stdin closes
        stdout=subprocess.PIPE,
        text=True,
    )
    stack.callback(proc.wait)
    stack.callback(proc.stdin.close)  # type: ignore[union-attr]
    return "opensearch+" + json.loads(proc.stdout.readline())["url"]  # type: ignore[union-attr]


def _run(args: argparse.Namespace, stack: contextlib.ExitStack) -> int:

    work = Path(args.workdir or tempfile.mkdtemp(prefix="kubetrail-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    events_file = work / "cluster.jsonl"
    db = Path(args.db) if args.db else work / "bench.db"
    hours = 48.0
    if args.db and db.exists() and args.store == "sqlite":
        return _queries_only(args, db, hours)
    for f in (db, db.with_suffix(".db-wal"), db.with_suffix(".db-shm")):
        f.unlink(missing_ok=True)

    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=hours + 1)
    with events_file.open("wb") as out:
        size = write_lines(
            out,
            events=args.events,
            nodes=50,
            pods=args.pods,
            namespaces=20,
            hours=hours,
            seed=7,
            start=start,
        )
    print(f"generated {args.events} events, {size / 1e6:.1f} MB -> {events_file}")

    kubetrail = [sys.executable, "-m", "kubetrail"]
    if args.store == "sqlite":
        store = f"sqlite:///{db}"
    elif args.store == "osmem" or args.store.startswith("opensearch+"):
        store = _opensearch_url(args.store, stack)
        setup = subprocess.run(
            [*kubetrail, "setup", "--store", store, "--replicas", "0"],
            capture_output=True,
            text=True,
        )
        if setup.returncode != 0:
            print(setup.stdout, setup.stderr, file=sys.stderr)
            return 1
    else:
        print(
            f"--store {args.store!r}: use sqlite, osmem or an opensearch+http(s):// URL",
            file=sys.stderr,
        )
        return 2
    t0 = time.perf_counter()
    done = subprocess.run(
        [
            *kubetrail,
            "ingest",
            "--quiet",
            "--store",
            store,
            str(events_file),
            *(["--workers", str(args.workers)] if args.workers else []),
        ],
        capture_output=True,
        text=True,
    )
    ingest_s = time.perf_counter() - t0
    if done.returncode != 0:
        print(done.stdout, done.stderr, file=sys.stderr)
        return 1
    print(done.stdout.strip() or done.stderr.strip())
    ingest: dict[str, object] = {
        "store": args.store if not args.store.startswith("opensearch+") else "opensearch",
        "events": args.events,
        "seconds": round(ingest_s, 2),
        "events_per_s": round(args.events / ingest_s),
        "input_mb_per_s": round(size / 1e6 / ingest_s, 1),
    }
    line = f"ingest: {ingest['events_per_s']} events/s, {ingest['input_mb_per_s']} MB/s, {ingest['seconds']} s"
    if args.store == "sqlite":
        db_bytes = sum(f.stat().st_size for f in db.parent.glob(db.name + "*"))
        ingest["db_bytes_per_event"] = round(db_bytes / args.events)
        line += f", {ingest['db_bytes_per_event']} bytes/event on disk"
    else:
        size_b = _index_bytes(store)
        if size_b is not None:
            ingest["index_bytes_per_event"] = round(size_b / args.events)
            line += f", {ingest['index_bytes_per_event']} bytes/event (_cat/indices store.size)"
        else:
            line += ", index size not reported by this server (_cat/indices)"
    print(line)

    return _serve_and_time(args, store, start, hours, ingest)


def _index_bytes(store_url: str) -> int | None:
    """Sum of ``store.size`` of the kubetrail indices (after a refresh), if the
    server reports it."""
    base = store_url.removeprefix("opensearch+")
    try:
        httpx.post(f"{base}/kubetrail-*/_refresh", timeout=120)
        resp = httpx.get(
            f"{base}/_cat/indices/kubetrail-*", params={"format": "json", "bytes": "b"}, timeout=60
        )
        resp.raise_for_status()
        sizes = [int(row.get("store.size") or 0) for row in resp.json()]
    except (httpx.HTTPError, ValueError, TypeError, AttributeError):
        return None
    return sum(sizes) or None


def _queries_only(args: argparse.Namespace, db: Path, hours: float) -> int:
    from kubetrail.store.sqlite import SQLiteStore

    s = SQLiteStore(db)
    try:
        detail = s.health().detail
    finally:
        s.close()
    oldest = datetime.fromisoformat(str(detail["oldest"]).replace("Z", "+00:00"))
    start = oldest.replace(minute=0, second=0, microsecond=0)
    print(f"reusing {db}: {detail['events']} events from {detail['oldest']} to {detail['newest']}")
    ingest = {"reused": str(db), "events": detail["events"]}
    return _serve_and_time(args, f"sqlite:///{db}", start, hours, ingest)


@contextlib.contextmanager
def running_api(store: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """``kubetrail api --store STORE`` as a process of its own, on a free port; yields
    its base URL once ``/health`` answers 200, stops it afterwards."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    # stderr to a file, not a pipe: nobody reads a pipe while the queries run, and a
    # server that logs (the OpenSearch client logs every request) would block on it
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "kubetrail", "api", "--store", store, "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=log,
            env={**os.environ, **(env or {})},
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(f"{base}/health", timeout=30).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    server.terminate()
                    server.wait(10)
                    log.seek(0)
                    err = log.read().decode(errors="replace")
                    raise RuntimeError("api did not start: " + err[-2000:])
                time.sleep(0.2)
            yield base
        finally:
            server.terminate()
            server.wait(30)


def typical_queries(base: str, start: datetime, hours: float) -> list[tuple[str, str]]:
    """(label, path) of the REST API's typical requests over the synthetic window
    [``start``, ``start + hours + 1 h``] (bench/generate.py's cluster)."""
    window_start = start.strftime("%Y-%m-%dT%H:%M:%SZ")
    window_end = (start + timedelta(hours=hours + 1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    last_hour = (start + timedelta(hours=hours - 1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    rng = f"start={window_start}&end={window_end}"
    pod_name = "svc-0021-7d9f8b6c5-00063"  # pod 63: namespace team-03
    first_page = httpx.get(f"{base}/api/v1/events?{rng}&namespace=team-05&limit=100")
    cursor = first_page.headers.get("X-Next-Cursor", "")
    return [
        (
            "last hour, all kinds, limit 100",
            f"/api/v1/events?start={last_hour}&end={window_end}&limit=100",
        ),
        ("namespace, 48 h, limit 1000", f"/api/v1/events?{rng}&namespace=team-05"),
        (
            "namespace + pods + update, limit 100",
            f"/api/v1/events?{rng}&namespace=team-05&resourceType=pods&verb=update&limit=100",
        ),
        (
            "next page by cursor",
            f"/api/v1/events?{rng}&namespace=team-05&limit=100&cursor={cursor}",
        ),
        (
            "signal CrashLoopBackOff, limit 100",
            f"/api/v1/events?{rng}&signal=pod.waiting:CrashLoopBackOff&limit=100",
        ),
        (
            "Warning Events by reason, limit 100",
            f"/api/v1/events?{rng}&kind=Event&signal=event.reason:BackOff&limit=100",
        ),
        ("full text q=OOMKilled, limit 100", f"/api/v1/events?{rng}&q=OOMKilled&limit=100"),
        ("one object by name", f"/api/v1/events?{rng}&namespace=team-03&name={pod_name}"),
        ("object history + related Events", f"/api/v1/events/team-03/pods/{pod_name}"),
        ("health (the readiness probe)", "/health"),
    ]


def _serve_and_time(
    args: argparse.Namespace,
    store: str,
    start: datetime,
    hours: float,
    ingest: dict[str, object],
) -> int:
    try:
        with running_api(store) as base:
            results = _time_queries(base, typical_queries(base, start, hours), args.reps)
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1

    print()
    print("| query | rows | p50 ms | p95 ms |")
    print("| --- | ---: | ---: | ---: |")
    for r in results:
        print(f"| {r['query']} | {r['rows']} | {r['p50_ms']} | {r['p95_ms']} |")
    machine = _machine()
    print(
        f"\nmachine: {machine['cpus']} cpus, {machine['memory_gib']} GiB, Python {machine['python']}"
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps({"machine": machine, "ingest": ingest, "queries": results}, indent=2)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
