"""Memory of the embedded pod: `kubetrail ship --api-port` (shipper and REST API in one
process, the SQLite store, one reader connection and its page cache per API thread), as
deploy/overlays/embedded runs it, to size the pod's memory request and limit.

    python bench/embedded_pod.py --objects 100000 --json bench/results/embedded-pod-100k.json
    python bench/embedded_pod.py --objects 10000 --json bench/results/embedded-pod-10k.json

1. a fake API server (tests/support/fake_apiserver.py, in a process of its own) holding
   ``--objects`` pods (bench/generate.py's, ~3 KB each);
2. ``kubetrail ship --api-port`` on it, as the StatefulSet's arguments say, with
   deploy/base/resources.yaml (queueSize, batchSize ...), until /readyz answers and the
   store holds every pod; then ``--settle`` seconds without change (the steady state: the
   60 s full collection included);
3. the API under load, ``--rounds`` times: ``--concurrency`` simultaneous clients, each
   asking for every diagnostic check, the recent changes, the summary, a full-text search
   and an events page of ``--limit`` (the largest the manifests allow: maxQueryLimit 5000);
4. VmRSS sampled every 10 ms throughout, and VmHWM (the kernel's peak) at the end.

Prints the steady RSS, the peak and the RSS after the load; ``--json`` writes them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kubetrail.store import open_store
from shipper import ServerProcess, ServerSpec, _free_port, _proc_kb, _wait_count

REPO = Path(__file__).resolve().parents[1]


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=5).status_code == 200:
                return
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace").splitlines()[-15:]
            raise SystemExit(f"{url} did not answer 200 (exit {proc.poll()}):\n" + "\n".join(tail))
        time.sleep(0.2)


class Sampler(threading.Thread):
    """VmRSS of ``pid`` every 10 ms; the largest seen."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kb = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.01):
            with contextlib.suppress(OSError, KeyError):
                self.peak_kb = max(self.peak_kb, _proc_kb(self.pid)["VmRSS"])

    def stop(self) -> int:
        self._done.set()
        self.join()
        return self.peak_kb


def _paths(limit: int) -> list[str]:
    """Besides every diagnostic check: what a person or Claude asks next."""
    return [
        "/api/v1/changes?range=7d",
        "/api/v1/summary",
        "/api/v1/events?text=CrashLoopBackOff&limit=100",
        f"/api/v1/events?limit={limit}",
    ]


def _client_round(base: str, paths: list[str], errors: list[str]) -> None:
    with httpx.Client(base_url=base, timeout=600) as client:
        for path in paths:
            try:
                r = client.get(path)
                r.read()
                if r.status_code != 200:
                    errors.append(f"{path}: {r.status_code} {r.text[:200]}")
            except httpx.HTTPError as exc:
                errors.append(f"{path}: {exc!r}")


def _load(base: str, *, concurrency: int, rounds: int, limit: int) -> float:
    checks = httpx.get(f"{base}/api/v1/diagnostics", timeout=60).json()["checks"]
    names = [c["name"] for c in checks if "pod_name" not in c["required"]]
    paths = [f"/api/v1/diagnostics/{n}?time_window=7d" for n in names] + _paths(limit)
    errors: list[str] = []
    t0 = time.perf_counter()
    for _ in range(rounds):
        threads = [
            threading.Thread(target=_client_round, args=(base, paths, errors))
            for _ in range(concurrency)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    if errors:
        raise SystemExit(f"{len(errors)} requests failed, e.g. {errors[0]}")
    return time.perf_counter() - t0


def measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    spec = ServerSpec("small", args.objects, args.objects, args.objects, str(work / "kubeconfig"))
    db = work / "kubetrail.db"
    api_port, metrics_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if k != "CONFIG_PATH"}
    env["KUBETRAIL_REDACTION_KEY"] = "bench"
    log = work / "ship.log"
    with ServerProcess(spec) as server, log.open("wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "kubetrail", "ship",
                "--kubeconfig", server.kubeconfig,
                "--config", str(REPO / "deploy" / "base" / "resources.yaml"),
                "--api-port", str(api_port), "--api-host", "127.0.0.1",
                "--metrics-port", str(metrics_port), "--metrics-host", "127.0.0.1",
                "--store", f"sqlite:///{db}",
                "--spool-dir", str(work / "spool"),
                "--log-format", "json",
            ],
            stdout=subprocess.DEVNULL,
            stderr=out,
            env=env,
        )  # fmt: skip
        sampler = Sampler(proc.pid)
        sampler.start()
        try:
            _wait_http(f"http://127.0.0.1:{metrics_port}/readyz", proc, log, 1800)
            counter = open_store(f"sqlite:///{db}")
            stored = _wait_count(counter, args.objects, timeout=1800, interval=0.5)
            counter.close()
            synced_s = time.perf_counter() - t0
            sync_peak_kb = sampler.peak_kb
            time.sleep(args.settle)
            steady = _proc_kb(proc.pid)["VmRSS"]
            base = f"http://127.0.0.1:{api_port}"
            _wait_http(f"{base}/health", proc, log, 120)
            load_s = _load(base, concurrency=args.concurrency, rounds=args.rounds, limit=args.limit)
            after = _proc_kb(proc.pid)
            peak = sampler.stop()
        finally:
            proc.terminate()
            proc.wait(60)
    if stored != args.objects:
        raise SystemExit(f"the store holds {stored} documents, expected {args.objects}")
    mb = lambda kb: round(kb / 1024)  # noqa: E731
    return {
        "objects": args.objects,
        "synced_seconds": round(synced_s, 1),
        "rss_peak_while_syncing_mb": mb(sync_peak_kb),
        "rss_steady_mb": mb(steady),
        "api_load": {
            "concurrency": args.concurrency,
            "rounds": args.rounds,
            "limit": args.limit,
            "seconds": round(load_s, 1),
        },
        "rss_after_load_mb": mb(after["VmRSS"]),
        "rss_peak_mb": mb(max(peak, after["VmHWM"])),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--objects", type=int, default=100_000, help="pods in the cluster")
    p.add_argument("--concurrency", type=int, default=20, help="simultaneous API clients")
    p.add_argument("--rounds", type=int, default=3, help="load rounds")
    p.add_argument("--limit", type=int, default=5000, help="events page size (maxQueryLimit)")
    p.add_argument("--settle", type=float, default=70.0, help="seconds between sync and load")
    p.add_argument("--json", help="write the figures to this file")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kubetrail-embedded-pod-") as tmp:
        result = measure(args, Path(tmp))
    for key, value in result.items():
        print(f"{key}: {value}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
