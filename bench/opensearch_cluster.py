"""A three-node OpenSearch cluster: start time, ingest with replicas, a node lost and back.

    python bench/opensearch_cluster.py --events 100000 --json bench/results/opensearch-cluster.json

1. ``scripts/opensearch-node start --nodes 3`` on a fresh data dir (``--data-dir``, removed
   first), timed until all three nodes have joined and health is green;
2. ``kubetrail ingest`` (as a user runs it, a subprocess, every node in the store URL) of
   ``--events`` synthetic events (bench/generate.py) into an install with 3 shards and
   1 replica, then the same with 0 replicas, each into a fresh prefix;
3. the same ingest once more (1 replica) while node 0 — the first host the client names —
   is stopped ``--lose-after`` seconds in and started again at once: the stop, the time
   until it has joined again, until health is green, the ingest's duplicates (batches
   resent after a connection failure) and the requests opensearch-py retried on another
   node (its "opensearch" logger's warnings, which ``kubetrail ingest`` does not show:
   the ingest runs through a wrapper that turns them on), and whether every event is
   stored exactly once;
4. stops the cluster (``--keep`` leaves it running).

Prints the figures and writes them as JSON (``--json``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from foundation import _machine
from generate import write_lines

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "opensearch-node"
NODES = 3
# `kubetrail ingest` with opensearch-py's warnings (one per failed request) on stderr
INGEST_WITH_CLIENT_LOG = (
    "import logging, sys; "
    "logging.basicConfig(level=logging.WARNING, format='%(name)s %(levelname)s %(message)s'); "
    "from kubetrail.cli import main; sys.argv[0] = 'kubetrail'; sys.exit(main())"
)


def _node(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        check=False,
    )


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)


def _health(url: str) -> dict | None:
    try:
        return _get(f"{url}/_cluster/health")
    except OSError:
        return None


def _count(url: str, prefix: str) -> int:
    req = urllib.request.Request(f"{url}/{prefix}-*/_refresh", method="POST")
    urllib.request.urlopen(req, timeout=60).close()
    return int(_get(f"{url}/{prefix}-*/_count")["count"])


def _delete(url: str, prefix: str) -> None:
    names = sorted(_get(f"{url}/{prefix}-*?ignore_unavailable=true"))
    if names:
        req = urllib.request.Request(f"{url}/{','.join(names)}", method="DELETE")
        urllib.request.urlopen(req, timeout=60).close()


def _wait_green(url: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        h = _health(url)
        if h and h["status"] == "green" and h["number_of_nodes"] == NODES:
            return
        time.sleep(0.25)
    raise SystemExit(f"no green cluster of {NODES} nodes after {timeout:.0f}s")


def _setup(store: str, prefix: str, replicas: int) -> None:
    options = ["--prefix", prefix, "--shards", "3", "--replicas", str(replicas)]
    done = subprocess.run(
        [sys.executable, "-m", "kubetrail", "setup", "--store", store, *options],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"setup failed:\n{done.stdout}{done.stderr}")


def _ingest(
    store: str, prefix: str, events_file: Path, err: Path, *, client_log: bool = False
) -> subprocess.Popen:
    cmd = ["-c", INGEST_WITH_CLIENT_LOG] if client_log else ["-m", "kubetrail"]
    return subprocess.Popen(
        [sys.executable, *cmd, "ingest", "--quiet", "--store", store, str(events_file)],
        env={**os.environ, "KUBETRAIL_OPENSEARCH_PREFIX": prefix, "CONFIG_PATH": ""},
        stdout=subprocess.DEVNULL,
        stderr=err.open("wb"),
    )


def _summary(err: Path) -> dict[str, int]:
    text = err.read_text()
    line = next((ln for ln in text.splitlines() if ln.startswith("kubetrail: read ")), "")
    out: dict[str, int] = {}
    for part in line.removeprefix("kubetrail: ").split(", "):
        words = part.split()
        if len(words) == 2 and words[1].isdigit():
            out[words[0]] = int(words[1])
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--pods", type=int, default=5000)
    p.add_argument("--port", type=int, default=9260)
    p.add_argument("--data-dir", default="/var/tmp/kubetrail/bench-cluster")
    p.add_argument("--lose-after", type=float, default=10.0, help="seconds into the ingest")
    p.add_argument("--workdir", default=None)
    p.add_argument("--keep", action="store_true", help="leave the cluster running")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)

    data_dir = Path(args.data_dir)
    urls = [f"http://127.0.0.1:{args.port + i}" for i in range(NODES)]
    store = "opensearch+http://" + ",".join(u.removeprefix("http://") for u in urls)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="kubetrail-cluster-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    result: dict[str, object] = {"machine": _machine(), "events": args.events, "store": store}
    result["loadavg_at_start"] = os.getloadavg()  # other work on the machine skews every figure

    _node(data_dir, "stop")
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    t0 = time.monotonic()
    started = _node(data_dir, "start", "--nodes", str(NODES), "--port", str(args.port))
    if started.returncode != 0:
        print(started.stderr, file=sys.stderr)
        return 1
    joined = time.monotonic() - t0
    _wait_green(urls[0])
    result["start_s"] = round(joined, 1)
    result["start_green_s"] = round(time.monotonic() - t0, 1)
    print(
        f"cluster of {NODES} started (fresh data dir): {joined:.1f} s, green {result['start_green_s']} s"
    )
    try:
        events_file = work / "cluster.jsonl"
        hours = 48.0
        begin = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=hours + 1)
        with events_file.open("wb") as out:
            size = write_lines(
                out, events=args.events, nodes=50, pods=args.pods, namespaces=20,
                hours=hours, seed=7, start=begin,
            )  # fmt: skip
        print(f"generated {args.events} events, {size / 1e6:.1f} MB")
        result["input_mb"] = round(size / 1e6, 1)

        for replicas in (1, 0):
            prefix = f"bench-r{replicas}-events"
            _setup(store, prefix, replicas)
            _wait_green(urls[0])
            err = work / f"ingest-r{replicas}.err"
            t = time.perf_counter()
            code = _ingest(store, prefix, events_file, err).wait()
            secs = time.perf_counter() - t
            if code != 0:
                print(err.read_text(), file=sys.stderr)
                return 1
            stored = _count(urls[0], prefix)
            rate = round(args.events / secs)
            result[f"ingest_replicas_{replicas}"] = {
                "seconds": round(secs, 1),
                "events_per_s": rate,
                "input_mb_per_s": round(size / 1e6 / secs, 2),
                "in_index": stored,
                "ingest_summary": _summary(err),
            }
            print(
                f"ingest, 3 shards, {replicas} replica(s): {rate} events/s ({secs:.1f} s), stored {stored}"
            )
            _delete(urls[0], prefix)

        prefix = "bench-loss-events"
        _setup(store, prefix, 1)
        _wait_green(urls[0])
        err = work / "ingest-loss.err"
        timeline: dict[str, float] = {}
        t = time.monotonic()
        proc = _ingest(store, prefix, events_file, err, client_log=True)
        time.sleep(args.lose_after)
        timeline["stop_sent"] = time.monotonic() - t
        stopped = _node(data_dir, "stop", "--node", "0")
        timeline["stopped"] = time.monotonic() - t
        if stopped.returncode != 0:
            print(stopped.stderr, file=sys.stderr)
            return 1
        statuses: list[tuple[float, str, int]] = []
        restarted: list[subprocess.CompletedProcess[str]] = []
        restart = threading.Thread(
            target=lambda: restarted.append(_node(data_dir, "start", "--node", "0"))
        )
        restart.start()
        timeline["start_sent"] = time.monotonic() - t
        while True:
            h = _health(urls[1])
            now = time.monotonic() - t
            if h:
                if not statuses or statuses[-1][1:] != (h["status"], h["number_of_nodes"]):
                    statuses.append((round(now, 2), h["status"], h["number_of_nodes"]))
                if h["number_of_nodes"] == NODES and "joined" not in timeline:
                    timeline["joined"] = now
                if h["status"] == "green" and "joined" in timeline:
                    timeline["green"] = now
                    break
            if proc.poll() is not None and "ingest_done" not in timeline:
                timeline["ingest_done"] = now
            if restarted and restarted[0].returncode != 0:
                print(f"start --node 0 failed:\n{restarted[0].stderr}", file=sys.stderr)
                return 1
            if now > 900:
                print("no green cluster 900 s after the node was stopped", file=sys.stderr)
                return 1
            time.sleep(0.25)
        restart.join()
        code = proc.wait()
        timeline.setdefault("ingest_done", time.monotonic() - t)
        if code != 0:
            print(err.read_text()[-3000:], file=sys.stderr)
            return 1
        stored = _count(urls[0], prefix)
        text = err.read_text()
        warnings = [ln for ln in text.splitlines() if ln.startswith("opensearch WARNING")]
        failed = [ln for ln in warnings if "[status:" in ln]  # each resent to another node
        loss = {
            "timeline_s": {k: round(v, 1) for k, v in timeline.items()},
            "stop_s": round(timeline["stopped"] - timeline["stop_sent"], 1),
            "rejoin_s": round(timeline["joined"] - timeline["start_sent"], 1),
            "green_after_rejoin_s": round(timeline["green"] - timeline["joined"], 1),
            "health": statuses,
            "ingest_events_per_s": round(args.events / timeline["ingest_done"]),
            "in_index": stored,
            "exactly_once": stored == args.events,
            "requests_failed_and_resent": len(failed),
            "client_warnings": warnings[:10],
            "ingest_summary": _summary(err),
        }
        result["node_lost"] = loss
        print(
            f"node 0 lost {timeline['stopped']:.1f} s into the ingest: stop {loss['stop_s']} s, "
            f"rejoined {loss['rejoin_s']} s after its start, green {loss['green_after_rejoin_s']} s "
            f"later; ingest {loss['ingest_events_per_s']} events/s, stored {stored} of "
            f"{args.events}, ingest {loss['ingest_summary']}, requests resent {len(failed)}"
        )
        print(f"health: {statuses}")
        _delete(urls[0], prefix)
    finally:
        if not args.keep:
            _node(data_dir, "stop")
    result["loadavg_at_end"] = os.getloadavg()
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
