"""Retention while the API serves: delete the oldest day and watch query latency.

    python bench/retention.py --db /tmp/kt/bench.db          # an ingested store (it is modified!)

Runs ``kubetrail api`` on the store, a client querying it continuously (events of a
namespace, a signal, an object history), and meanwhile deletes every event older than
the oldest day boundary (``enforce_retention`` as the shipper and ``kubetrail prune``
run it: chunks of 5,000 rows, one short transaction each). Reports how many events
were deleted, how long it took, and the API's p50 / p95 / max latency during the
deletion next to before it. The aim: no API stall over 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import httpx

from kubetrail.events.timing import parse_rfc3339
from kubetrail.store.sqlite import SQLiteStore


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--db", required=True, help="an ingested SQLite store (events are deleted from it)"
    )
    p.add_argument("--baseline-seconds", type=float, default=10.0)
    p.add_argument("--json", help="write the figures here")
    args = p.parse_args(argv)
    if not Path(args.db).exists():
        print(f"no such store: {args.db}", file=sys.stderr)
        return 2

    store = SQLiteStore(args.db)
    health = store.health().detail
    oldest, newest = parse_rfc3339(health["oldest"]), parse_rfc3339(health["newest"])
    cutoff = oldest + timedelta(days=1)
    print(
        f"store: {health['events']:,} events, {health['oldest']} .. {health['newest']}; deleting before {cutoff:%Y-%m-%dT%H:%M:%SZ}"
    )

    port = _free_port()
    api = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kubetrail",
            "api",
            "--store",
            f"sqlite:///{args.db}",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    window = {
        "start": (newest - timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end": newest.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    queries = [
        ("/api/v1/events", {**window, "namespace": "team-05", "limit": 100}),
        ("/api/v1/events", {**window, "signal": "pod.waiting:CrashLoopBackOff", "limit": 100}),
        ("/api/v1/events/_/nodes/worker-3", {}),
    ]
    samples: dict[str, list[float]] = {"before": [], "during": []}
    phase = ["before"]
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(base_url=base, timeout=60) as c:
            i = 0
            while not stop.is_set():
                path, params = queries[i % len(queries)]
                t0 = time.perf_counter()
                r = c.get(path, params=params)
                dt = (time.perf_counter() - t0) * 1000
                if r.status_code >= 500:
                    print(f"API error {r.status_code}: {r.text[:200]}", file=sys.stderr)
                samples[phase[0]].append(dt)
                i += 1

    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        t = threading.Thread(target=client)
        t.start()
        time.sleep(args.baseline_seconds)
        phase[0] = "during"
        t0 = time.perf_counter()
        deleted = store.delete_before(cutoff)
        took = time.perf_counter() - t0
        stop.set()
        t.join()
    finally:
        api.terminate()
        api.wait(10)
        store.close()

    result = {
        "events_before": health["events"],
        "deleted": deleted,
        "delete_seconds": round(took, 1),
        "deleted_per_s": round(deleted / took) if took else None,
        "api": {
            k: {
                "requests": len(v),
                "p50_ms": round(statistics.median(v), 1) if v else None,
                "p95_ms": round(_pct(v, 0.95), 1) if v else None,
                "max_ms": round(max(v), 1) if v else None,
            }
            for k, v in samples.items()
        },
        "machine": {"cpus": os.cpu_count()},
    }
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
