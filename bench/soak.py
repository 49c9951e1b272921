"""A compressed soak: cluster churn through the fake API server into a real `kubetrail ship`
process, with store outages and a `kill -9` restart in the middle.

    python bench/soak.py --seconds 600 --rate 50      # ten minutes, ~30,000 changes

The store is osmem-server behind a TCP proxy that can cut the line. Timeline (fractions
of ``--seconds``): an outage at 25 % (15 s), `kill -9` of the shipper at 50 % (restart
after 5 s; the cluster keeps changing meanwhile), another outage at 75 % (10 s). At the
end: every change is in the store exactly once, the spool is empty, and the shipper's
RSS over the run (sampled every 5 s) is reported to show whether it stays flat.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.fake_apiserver import FakeApiServer
from tests.support.k8s_objects import pod
from tests.support.netfault import TcpProxy
from tests.support.opensearch_servers import opensearch_store
from tests.support.osmem import running_osmem

PREFIX = "soak-events"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _expected_id(event_type: str, obj: dict) -> str:
    meta = obj["metadata"]
    return f"{meta['uid']}:{meta['resourceVersion']}" + (
        ":delete" if event_type == "DELETED" else ""
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--seconds", type=float, default=120.0)
    p.add_argument("--rate", type=float, default=40.0, help="changes per second")
    p.add_argument("--pods", type=int, default=300)
    p.add_argument("--json", help="write the result here")
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="kubetrail-soak-"))
    rng = random.Random(7)
    expected: set[str] = set()
    rss: list[tuple[float, float]] = []
    events = {"applied": 0}

    with running_osmem() as url, FakeApiServer(bookmark_interval=1.0) as api:
        direct = opensearch_store(url, prefix=PREFIX)
        host, port = url.removeprefix("http://").split(":")
        proxy = TcpProxy(host, int(port))
        pods = [
            api.apply("ADDED", pod(name=f"soak-{i}", uid=f"u-soak-{i}", rv="1"))
            for i in range(args.pods)
        ]
        expected |= {_expected_id("ADDED", o) for o in pods}
        kubeconfig = api.write_kubeconfig(work / "kubeconfig")
        metrics_port = _free_port()
        env = {**os.environ, "KUBETRAIL_OPENSEARCH_PREFIX": PREFIX, "CONFIG_PATH": ""}
        cmd = [
            sys.executable,
            "-m",
            "kubetrail",
            "ship",
            "--kubeconfig",
            str(kubeconfig),
            "--store",
            "opensearch+" + proxy.url,
            "--spool-dir",
            str(work / "spool"),
            "--metrics-host",
            "127.0.0.1",
            "--metrics-port",
            str(metrics_port),
            "--log-format",
            "json",
        ]
        log = (work / "shipper.log").open("ab")
        shipper = [subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log)]

        def ready() -> bool:
            try:
                return (
                    httpx.get(f"http://127.0.0.1:{metrics_port}/readyz", timeout=1).status_code
                    == 200
                )
            except httpx.HTTPError:
                return False

        deadline = time.monotonic() + 60
        while not ready():
            if time.monotonic() > deadline:
                print("the shipper did not become ready", file=sys.stderr)
                return 1
            time.sleep(0.2)

        stop = threading.Event()

        def churn() -> None:
            live = {o["metadata"]["name"]: o for o in pods}
            n = args.pods
            while not stop.is_set():
                t0 = time.monotonic()
                roll = rng.random()
                if roll < 0.1 and len(live) > 10:
                    name = rng.choice(sorted(live))
                    obj = api.apply("DELETED", live.pop(name))
                    expected.add(_expected_id("DELETED", obj))
                elif roll < 0.2:
                    obj = api.apply("ADDED", pod(name=f"soak-{n}", uid=f"u-soak-{n}", rv="1"))
                    live[obj["metadata"]["name"]] = obj
                    expected.add(_expected_id("ADDED", obj))
                    n += 1
                else:
                    name = rng.choice(sorted(live))
                    obj = copy.deepcopy(live[name])
                    obj["status"]["containerStatuses"][0]["restartCount"] += 1
                    obj = api.apply("MODIFIED", obj)
                    live[name] = obj
                    expected.add(_expected_id("MODIFIED", obj))
                events["applied"] += 1
                time.sleep(max(0.0, 1 / args.rate - (time.monotonic() - t0)))

        def sample() -> None:
            start = time.monotonic()
            while not stop.is_set():
                value = _rss_mb(shipper[0].pid)
                if value is not None:
                    rss.append((round(time.monotonic() - start, 1), round(value, 1)))
                stop.wait(5)

        threads = [threading.Thread(target=churn), threading.Thread(target=sample)]
        for t in threads:
            t.start()
        began = time.monotonic()

        def at(fraction: float) -> None:
            time.sleep(max(0.0, began + args.seconds * fraction - time.monotonic()))

        at(0.25)
        print("outage: cutting the store for 15 s", flush=True)
        proxy.cut()
        time.sleep(15)
        proxy.restore()
        at(0.5)
        print("kill -9 of the shipper; restart in 5 s", flush=True)
        shipper[0].send_signal(signal.SIGKILL)
        shipper[0].wait()
        time.sleep(5)
        shipper[0] = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log)
        at(0.75)
        print("outage: cutting the store for 10 s", flush=True)
        proxy.cut()
        time.sleep(10)
        proxy.restore()
        at(1.0)
        stop.set()
        for t in threads:
            t.join()

        def stored() -> list[str]:
            ids: list[str] = []
            after = None
            from kubetrail.store.base import EventFilter, EventQuery

            while True:
                page = direct.search(EventQuery(filter=EventFilter(), limit=5000, after=after))
                ids.extend(d["id"] for d in page.items)
                if page.next is None:
                    return ids
                after = page.next

        deadline = time.monotonic() + 300
        ids = stored()
        while not expected <= set(ids) and time.monotonic() < deadline:
            time.sleep(2)
            ids = stored()
        shipper[0].send_signal(signal.SIGTERM)
        code = shipper[0].wait(60)
        spool_left = sorted(p.name for p in (work / "spool").glob("segment-*.jsonl"))
        proxy.close()
        direct.close()

    missing = expected - set(ids)
    result = {
        "seconds": args.seconds,
        "changes_applied": events["applied"],
        "documents_expected": len(expected),
        "documents_stored": len(ids),
        "missing": len(missing),
        "duplicates": len(ids) - len(set(ids)),
        "unexpected": len(set(ids) - expected),
        "spool_segments_left": len(spool_left),
        "shipper_exit_on_sigterm": code,
        "rss_mb": rss,
        "verdict": "ok"
        if not missing and len(ids) == len(set(ids)) and not spool_left and code == 0
        else "FAILED",
    }
    print(json.dumps({k: v for k, v in result.items() if k != "rss_mb"}, indent=2))
    if rss:
        print(f"RSS MB (t s, MB): first {rss[0]}, max {max(r[1] for r in rss)}, last {rss[-1]}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0 if result["verdict"] == "ok" else 1


if __name__ == "__main__":
    raise SystemExit(main())
