"""The web UI's pages on a large store: how long each takes, served as a user runs it.

    python bench/ui.py --db /var/tmp/ui1m.db --json /tmp/ui-1m.json       # an ingested store
    python bench/ui.py --input /tmp/bench-work1m/cluster-1000000.jsonl --db /var/tmp/ui1m.db
    python bench/ui.py --store opensearch+http://127.0.0.1:9860 --json /tmp/ui-os-1m.json

``--input`` ingests that file of watch events (e.g. the one bench/opensearch.py or
bench/diagnostics.py generates: bench/generate.py's cluster with the demo incident at the
end of its window) into ``--db`` first, with ``kubetrail ingest``; without it ``--db`` must
be a store already. ``--store URL`` instead of ``--db`` measures any store (OpenSearch: set
up with ``kubetrail setup`` and filled with ``kubetrail ingest`` first, or by ``--input``
into it). Then ``kubetrail api --store URL`` runs in a subprocess and
each page is asked for over loopback HTTP: one warm-up, then ``--reps`` timed requests, one
at a time. The time is the client's, from the request to the last byte of the page: the
server's work plus a loopback transfer (pages are 10-200 KB). The ranges end at the newest
stored event (``/health``), so a store made earlier is read as if it were now.

The aim (issue #19): with 1,000,000 events, ``/ui/`` and a 24 h ``/ui/timeline`` answer in
≤ 1 s. A page the running kubetrail does not have (404) is reported as absent.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from kubetrail.events.timing import format_rfc3339, parse_rfc3339

KUBETRAIL = [sys.executable, "-m", "kubetrail"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def ingest(input_file: Path, store: str, db: Path | None) -> float:
    """``kubetrail ingest`` of ``input_file`` into ``store`` (a SQLite ``db`` is made anew)."""
    if db is not None:
        for f in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            f.unlink(missing_ok=True)
    started = time.monotonic()
    cmd = [*KUBETRAIL, "ingest", "--quiet", "--store", store, str(input_file)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"bench/ui.py: ingest failed: {done.stderr.strip()[-500:]}")
    return time.monotonic() - started


def start_api(store: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    cmd = [*KUBETRAIL, "api", "--store", store, "--port", str(port)]
    env = {**os.environ, "CONFIG_PATH": ""}
    proc = subprocess.Popen(cmd, stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"bench/ui.py: kubetrail api ended: {log.read_text()[-500:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=30).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("bench/ui.py: kubetrail api did not answer /health in 120 s")


def pages(newest: str) -> list[tuple[str, str, dict[str, str]]]:
    end = parse_rfc3339(newest) + timedelta(seconds=1)

    def window(hours: int) -> dict[str, str]:
        return {"from": format_rfc3339(end - timedelta(hours=hours)), "to": format_rfc3339(end)}

    return [
        ("overview, 6 h", "/ui/", window(6)),
        ("overview, 24 h", "/ui/", window(24)),
        ("overview, 24 h, namespace shop", "/ui/", {**window(24), "namespace": "shop"}),
        ("timeline, 6 h", "/ui/timeline", window(6)),
        ("timeline, 24 h", "/ui/timeline", window(24)),
        ("timeline, 24 h, namespace shop", "/ui/timeline", {**window(24), "namespace": "shop"}),
        ("object: deployment shop/checkout", "/ui/objects/shop/deployments/checkout", {}),
        ("object: node worker-3", "/ui/objects/_/nodes/worker-3", {}),
        ("search q=v2.3.O, 24 h", "/ui/search", {**window(24), "q": "v2.3.O"}),
        ("search signal=pod.waiting:CrashLoopBackOff, 24 h", "/ui/search",
         {**window(24), "signal": "pod.waiting:CrashLoopBackOff"}),
    ]  # fmt: skip


def measure(client: httpx.Client, path: str, params: dict[str, str], reps: int) -> dict[str, Any]:
    warm = client.get(path, params=params)
    if warm.status_code == 404:
        return {"absent": True}
    if warm.status_code != 200:
        raise SystemExit(f"bench/ui.py: {path} answered {warm.status_code}: {warm.text[:300]}")
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        r = client.get(path, params=params)
        times.append((time.perf_counter() - started) * 1000)
        r.raise_for_status()
    times.sort()
    return {
        "ms_p50": round(statistics.median(times), 1),
        "ms_max": round(times[-1], 1),
        "ms_all": [round(t, 1) for t in times],
        "bytes": len(warm.content),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--db", type=Path, help="the SQLite store (made by --input)")
    where.add_argument("--store", help="a store URL instead (e.g. opensearch+http://…)")
    ap.add_argument("--input", type=Path, help="watch events to ingest into --db first")
    ap.add_argument("--reps", type=int, default=5, help="timed requests per page (default 5)")
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument(
        "--only", default="", help="only the pages whose label holds this (e.g. 'timeline, 24 h')"
    )
    args = ap.parse_args()
    store = args.store or f"sqlite:///{args.db}"
    result: dict[str, Any] = {
        "machine": f"{os.cpu_count()} cpus, Python {platform.python_version()}",
        "store": store.split("://", 1)[0],
        "command": "python " + " ".join(sys.argv),
        # the machine may be shared: how busy it was when the run began (1, 5, 15 min)
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    if args.input:
        result["ingest_seconds"] = round(ingest(args.input, store, args.db), 1)
        print(f"ingested {args.input} into {store} in {result['ingest_seconds']} s", flush=True)
    elif args.db is not None and not args.db.exists():
        raise SystemExit(f"bench/ui.py: {args.db} does not exist (give --input to make it)")
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = start_api(store, port, Path(tmp) / "api.log")
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
                health = client.get("/health").json()
                detail = health.get("detail", health)
                result["events"] = detail.get("events")
                result["newest"] = newest = detail["newest"]
                print(f"{result['events']:,} events stored, newest {newest}", flush=True)
                rows = {}
                for label, path, params in pages(newest):
                    if args.only not in label:
                        continue
                    rows[label] = row = measure(client, path, params, args.reps)
                    shown = (
                        "absent"
                        if row.get("absent")
                        else (f"p50 {row['ms_p50']} ms, max {row['ms_max']} ms, {row['bytes']:,} B")
                    )
                    print(f"  {label}: {shown}", flush=True)
                result["pages"] = rows
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print("\n| page | p50 ms | max ms | bytes |\n| --- | ---: | ---: | ---: |")
    for label, row in result["pages"].items():
        if row.get("absent"):
            print(f"| {label} | absent | | |")
        else:
            print(f"| {label} | {row['ms_p50']} | {row['ms_max']} | {row['bytes']:,} |")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
