"""API memory under a burst of large pages: RSS of a real `kubetrail api` process.

    python bench/api_memory.py                           # the demo incident, 200 x limit=5000
    python bench/api_memory.py --events 20000            # synthetic data (compressed documents)
    python bench/api_memory.py --db /tmp/x.db --rounds 3 --json bench/results/api-memory.json

1. builds a store (``kubetrail demo --no-serve``: 1,371 events of ~4 KB, so a
   ``limit=5000`` page is the whole store, 5.6 MB; or ``--events`` of bench/generate.py
   data through ``kubetrail ingest``), or reuses ``--db``;
2. starts ``kubetrail api`` on it as a process of its own;
3. fires ``--concurrency`` simultaneous ``GET /api/v1/events?limit=5000`` from threads
   of this process (one connection each, every body read whole), ``--rounds`` times,
   while another thread sends small requests (``limit=10``) one after the other
   (their latency is reported for those sent while a burst was in flight);
4. samples the server's VmRSS every 10 ms and reads its VmHWM (the kernel's peak).

Prints baseline and peak RSS, the RSS left after the bursts, requests/s, p50/p95
latency of the large and of the small requests, and checks that every large answer
is the same bytes. ``--json`` writes the figures.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from foundation import _free_port, _machine, _percentile
from generate import write_lines

KUBETRAIL = [sys.executable, "-m", "kubetrail"]
WINDOW = "start=2000-01-01T00:00:00Z&end=2100-01-01T00:00:00Z"


def _status_mb(pid: int, field: str) -> float:
    """A memory field of /proc/<pid>/status (VmRSS, VmHWM), in MB."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise KeyError(field)


class RssSampler(threading.Thread):
    """VmRSS of ``pid`` every ``interval`` seconds until stopped."""

    def __init__(self, pid: int, interval: float = 0.01) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.samples: list[float] = []
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self.samples.append(_status_mb(self.pid, "VmRSS"))
            time.sleep(self.interval)

    def stop(self) -> float:
        self._done.set()
        self.join()
        return max(self.samples, default=0.0)


def _build(args: argparse.Namespace, db: Path) -> None:
    for f in (db, db.with_suffix(".db-wal"), db.with_suffix(".db-shm")):
        f.unlink(missing_ok=True)
    store = f"sqlite:///{db}"
    if not args.events:
        cmd = [*KUBETRAIL, "demo", "--no-serve", "--store", store]
    else:
        events_file = db.with_suffix(".jsonl")
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=49)
        with events_file.open("wb") as out:
            write_lines(
                out,
                events=args.events,
                nodes=50,
                pods=5000,
                namespaces=20,
                hours=48.0,
                seed=7,
                start=start,
            )
        cmd = [*KUBETRAIL, "ingest", "--quiet", "--store", store, str(events_file)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"building the store failed:\n{done.stdout}{done.stderr}")
    print(done.stdout.strip() or done.stderr.strip())


def _start_api(db: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    server = subprocess.Popen(
        [
            *KUBETRAIL,
            *("api", "--store", f"sqlite:///{db}", "--port", str(port), "--log-level", "warning"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=30).status_code == 200:
                return server, base
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            server.terminate()
            _, err = server.communicate(timeout=10)
            raise SystemExit("api did not start: " + err.decode(errors="replace")[-2000:])
        time.sleep(0.2)


def _get(client: httpx.Client, path: str) -> tuple[float, bytes]:
    t0 = time.perf_counter()
    resp = client.get(path)
    body = resp.content
    took = (time.perf_counter() - t0) * 1000
    resp.raise_for_status()
    return took, body


def _burst(
    base: str, path: str, concurrency: int
) -> tuple[list[float], set[str], tuple[float, float]]:
    """``concurrency`` clients, each one request on its own connection, released
    together; their latencies (ms), the distinct body digests and when the burst
    began and ended (``time.perf_counter``)."""
    clients = [httpx.Client(base_url=base, timeout=600) for _ in range(concurrency)]
    for c in clients:  # connect first, so the burst measures requests, not handshakes
        c.get("/health").raise_for_status()
    gate = threading.Barrier(concurrency + 1)
    latencies: list[float] = []
    digests: set[str] = set()
    errors: list[str] = []
    lock = threading.Lock()

    def one(client: httpx.Client) -> None:
        gate.wait()
        try:
            took, body = _get(client, path)
        except httpx.HTTPError as exc:
            with lock:
                errors.append(repr(exc))
            return
        with lock:
            latencies.append(took)
            digests.add(hashlib.sha256(body).hexdigest())

    threads = [threading.Thread(target=one, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    gate.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    t1 = time.perf_counter()
    for c in clients:
        c.close()
    if errors:
        raise SystemExit(f"{len(errors)} requests failed, e.g. {errors[0]}")
    return latencies, digests, (t0, t1)


def _small_requests(
    base: str, path: str, stop: threading.Event, out: list[tuple[float, float]]
) -> None:
    """``path`` one request after the other, 20 ms apart: (when sent, latency ms)."""
    with httpx.Client(base_url=base, timeout=600) as client:
        while not stop.is_set():
            sent = time.perf_counter()
            took, _ = _get(client, path)
            out.append((sent, took))
            time.sleep(0.02)


def _ms(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {}
    return {
        "p50_ms": round(statistics.median(samples), 1),
        "p95_ms": round(_percentile(samples, 0.95), 1),
        "max_ms": round(max(samples), 1),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--db", help="reuse this SQLite store if it exists (else build it there)")
    p.add_argument(
        "--events", type=int, default=0, help="synthetic events instead of the demo incident"
    )
    p.add_argument("--concurrency", type=int, default=200, help="simultaneous large requests")
    p.add_argument("--limit", type=int, default=5000, help="page size of the large requests")
    p.add_argument("--rounds", type=int, default=3, help="bursts, one after the other")
    p.add_argument(
        "--pause",
        type=float,
        default=0.0,
        help="seconds between bursts (over 10: the server's idle threads are stopped)",
    )
    p.add_argument("--json", help="write the figures to this file")
    args = p.parse_args(argv)

    work = None if args.db else Path(tempfile.mkdtemp(prefix="kubetrail-mem-"))
    db = Path(args.db) if args.db else cast(Path, work) / "m.db"
    if args.db and db.exists():
        print(f"reusing {db}")
    else:
        _build(args, db)
    server, base = _start_api(db)
    big_path = f"/api/v1/events?{WINDOW}&limit={args.limit}"
    small_path = f"/api/v1/events?{WINDOW}&limit=10"
    try:
        pid = server.pid
        with httpx.Client(base_url=base, timeout=60) as client:
            idle_small = [_get(client, small_path)[0] for _ in range(30)]
            baseline = _status_mb(pid, "VmRSS")
            page = _get(client, big_path)[1]
            page_bytes, rows = len(page), len(json.loads(page))
            del page
        sampler = RssSampler(pid)
        sampler.start()
        stop_small = threading.Event()
        small: list[tuple[float, float]] = []
        small_thread = threading.Thread(
            target=_small_requests, args=(base, small_path, stop_small, small)
        )
        small_thread.start()
        big: list[float] = []
        digests: set[str] = set()
        bursts: list[tuple[float, float]] = []
        after_round = []
        for i in range(args.rounds):
            if i and args.pause:
                time.sleep(args.pause)
            lat, dig, window = _burst(base, big_path, args.concurrency)
            big += lat
            digests |= dig
            bursts.append(window)
            after_round.append(round(_status_mb(pid, "VmRSS"), 1))
        stop_small.set()
        small_thread.join()
        peak_sampled = sampler.stop()
        hwm = _status_mb(pid, "VmHWM")
        after = _status_mb(pid, "VmRSS")
    finally:
        server.terminate()
        server.wait(10)
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)

    # the small requests sent while a burst was in flight (not while its clients connected)
    during = [took for sent, took in small if any(t0 <= sent <= t1 for t0, t1 in bursts)]
    figures = {
        "store": str(db) if args.db else "built, then removed",
        "events": args.events or "demo",
        "page_bytes": page_bytes,
        "page_rows": rows,
        "concurrency": args.concurrency,
        "limit": args.limit,
        "rounds": args.rounds,
        "pause_s": args.pause,
        "baseline_rss_mb": round(baseline, 1),
        "peak_rss_mb": round(max(hwm, peak_sampled), 1),
        "rss_after_each_round_mb": after_round,
        "rss_after_mb": round(after, 1),
        "requests_per_s": round(len(big) / sum(t1 - t0 for t0, t1 in bursts), 1),
        "large": _ms(big),
        "small_during_load": {"requests": len(during), **_ms(during)},
        "small_idle": _ms(idle_small),
        "identical_bodies": len(digests) == 1,
    }
    print(
        f"{args.rounds} x {args.concurrency} concurrent limit={args.limit} requests"
        f" ({page_bytes / 1e6:.1f} MB, {rows} events each)"
    )
    print(f"server RSS: baseline {figures['baseline_rss_mb']} MB,")
    print(
        f"  peak {figures['peak_rss_mb']} MB, after each round {after_round} MB"
        f" (sampled peak {peak_sampled:.1f}, VmHWM {hwm:.1f})"
    )
    print(f"large requests: {figures['requests_per_s']} requests/s, {figures['large']}")
    print(f"small requests (limit=10) during the load: {figures['small_during_load']}")
    print(f"small requests idle: {figures['small_idle']}")
    print(f"every large answer identical: {figures['identical_bodies']}")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"machine": _machine(), "figures": figures}, indent=2) + "\n"
        )
    return 0 if figures["identical_bodies"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
