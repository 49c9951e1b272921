"""Shipper benchmark: pipeline throughput, end-to-end rate, RSS with 100,000 tracked objects.

    python bench/shipper.py --json bench/results/shipper.json

1. **Pipeline** (one core): a watch line, as the API server sends it, to a document ready for
   the store, for ~5 KB pods (bench/generate.py's pods padded with the env vars, annotations,
   volumes and long managedFields real pods carry; one env var holds a token in plain text, so
   redaction has work to do). kubetrail's path is the shipper's own code: the lines go through
   ``Watcher._watch`` (orjson parse, churn digest, ``normalize`` with redaction and signals,
   the ``Change`` handed to delivery). Next to it, on the same lines, the naive path a user
   would write: ``kubernetes.watch.Watch().stream(CoreV1Api.list_pod_for_all_namespaces)``,
   which deserializes every event into a ``V1Pod`` and does nothing else, and the same plus
   what a naive shipper needs before it can store the pod: the client's own
   ``ApiClient.sanitize_for_serialization`` back to a plain dict (kubetrail's output is a
   dict document too). Ratios are given against both. All are measured
   twice: CPU only over lines already in memory (best of ``--reps``), and over HTTP from a fake
   API server in another process (kubetrail through ``Kube.stream_lines``, the naive one
   through the client's own watch), so the HTTP client's share counts too.
2. **End to end**: a fake API server holding ``--pods`` padded pods, then changes up to
   ``--sqlite-events`` / ``--osmem-events`` in all (pod churn plus a Kubernetes Event per
   change) applied live once the shipper has listed, into the real ``Shipper`` (in this process, disk spool in a temp dir) and the
   embedded SQLite store, and into osmem-server (the in-memory OpenSearch-compatible test
   server, prepared like ``kubetrail setup``), until the store holds every document.
3. **RSS**: ``kubetrail ship`` as a subprocess against a fake API server holding
   ``--rss-objects`` pods (generate.py's unpadded ~3 KB pods), read from /proc once /readyz
   answers 200 and the SQLite store holds them all; and the same process idle on an empty
   cluster, for the baseline.

The fake API servers run in their own processes (their own core and GIL), speaking the real
protocol (tests/support/fake_apiserver.py). Prints a table; ``--json`` writes the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import dataclasses
import gc
import hashlib
import itertools
import json
import multiprocessing
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.k8s, tests.store

from foundation import _free_port, _machine
from generate import Cluster, _managed
from kubetrail.events.normalize import normalize
from kubetrail.events.redact import RedactionPolicy, redact
from kubetrail.events.signals import derive_signals
from kubetrail.events.timing import utcnow
from kubetrail.shipper.config import ResourceSpec, ShipperConfig
from kubetrail.shipper.kube import Kube, load_client
from kubetrail.shipper.metrics import Metrics
from kubetrail.shipper.service import Shipper
from kubetrail.shipper.watcher import Change, Watcher, churn_digest
from kubetrail.store import open_store
from kubetrail.store.base import Store

PODS = ResourceSpec(group="", version="v1", kind="Pod", plural="pods", namespaced=True)
HOURS = 48.0
SEED = 7


# ---------------------------------------------------------------------------- objects


class PaddedCluster(Cluster):
    """generate.py's cluster with pods padded to ~5 KB the way real pods are."""

    def _pod(self, ns: str, app: str, i: int, created: datetime) -> dict[str, Any]:
        pod = super()._pod(ns, app, i, created)
        _pad(pod, ns, app, i)
        return pod


def _pad(pod: dict[str, Any], ns: str, app: str, i: int) -> None:
    meta, spec = pod["metadata"], pod["spec"]
    container = spec["containers"][0]
    config_hash = hashlib.sha256(f"{ns}/{app}/config".encode()).hexdigest()
    container["env"] += [
        {"name": "REDIS_URL", "value": f"redis://redis-master.{ns}.svc.cluster.local:6379/0"},
        # a credential in plain text, as found in real manifests: the default rules redact it
        {"name": "PAYMENTS_API_TOKEN", "value": f"pk_live_{config_hash[:24]}"},
        {
            "name": "DATABASE_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": f"{app}-db", "key": "password"}},
        },
    ]
    container["volumeMounts"] += [
        {"name": "config", "mountPath": "/etc/app", "readOnly": True},
    ]
    spec["volumes"] += [
        {"name": "config", "configMap": {"name": f"{app}-config", "defaultMode": 420}},
    ]
    meta["annotations"].update(
        {
            "checksum/config": config_hash,
            "cni.projectcalico.org/podIP": f"10.244.{i % 250}.{i % 200 + 2}/32",
            "kubectl.kubernetes.io/default-container": "app",
        }
    )
    # managedFields as the API server writes them: every field each manager set
    created = meta["creationTimestamp"]
    owner = meta["ownerReferences"][0]["uid"]
    controller = _managed("kube-controller-manager", created)
    controller["fieldsV1"] = {
        "f:metadata": {
            "f:annotations": {".": {}, **{f"f:{k}": {} for k in meta["annotations"]}},
            "f:generateName": {},
            "f:labels": {".": {}, **{f"f:{k}": {} for k in meta["labels"]}},
            "f:ownerReferences": {".": {}, f'k:{{"uid":"{owner}"}}': {}},
        },
        "f:spec": {
            "f:containers": {
                'k:{"name":"app"}': {
                    ".": {},
                    "f:env": {
                        ".": {},
                        **{
                            f'k:{{"name":"{e["name"]}"}}': {
                                ".": {},
                                "f:name": {},
                                f"f:{next(iter(e.keys() - {'name'}))}": {},
                            }
                            for e in container["env"]
                        },
                    },
                    "f:image": {},
                    "f:livenessProbe": {".": {}, "f:httpGet": {".": {}, "f:path": {}}},
                    "f:resources": {".": {}, "f:limits": {}, "f:requests": {}},
                    "f:volumeMounts": {
                        ".": {},
                        **{
                            f'k:{{"mountPath":"{m["mountPath"]}"}}': {}
                            for m in container["volumeMounts"]
                        },
                    },
                }
            },
            "f:volumes": {".": {}, **{f'k:{{"name":"{v["name"]}"}}': {} for v in spec["volumes"]}},
        },
    }
    kubelet = _managed("kubelet", created, "status")
    condition = {".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}}
    kubelet["fieldsV1"] = {
        "f:status": {
            "f:conditions": {
                f'k:{{"type":"{c["type"]}"}}': {**condition, "f:type": {}}
                for c in pod["status"]["conditions"]
            },
            "f:containerStatuses": {},
            "f:hostIP": {},
            "f:phase": {},
            "f:podIP": {},
            "f:startTime": {},
        }
    }
    meta["managedFields"] = [controller, kubelet]  # [1] stays the kubelet's: churn updates it


def _events(stream: str, *, pods: int, events: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """``pods``: padded pods only (listing, then updates); ``cluster``: padded pods and
    their Kubernetes Events; ``small``: generate.py's pods, ADDED only."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=HOURS + 1)
    kind = Cluster if stream == "small" else PaddedCluster
    cluster = kind(nodes=50, pods=pods, namespaces=20, seed=SEED, start=start)
    if stream == "small":
        for pod in cluster.pods:
            yield "ADDED", pod
        return
    # the pod stream takes twice as many events and keeps the pods (every other one)
    churn = cluster.churn(events * 2 if stream == "pods" else events, HOURS)
    if stream == "pods":
        churn = (e for e in churn if e["object"]["kind"] == "Pod")
    for ev in itertools.islice(churn, events):
        yield ev["type"], ev["object"]


# ---------------------------------------------------------------------------- fake API server


@dataclasses.dataclass(frozen=True)
class ServerSpec:
    stream: str
    pods: int
    events: int
    preload: int  # applied before the server reports ready; the rest on go()
    kubeconfig: str
    bookmark_interval: float = 1.0


def _serve(spec: ServerSpec, conn: Any) -> None:
    from tests.support.fake_apiserver import FakeApiServer

    server = FakeApiServer(bookmark_interval=spec.bookmark_interval).start()
    server.write_kubeconfig(spec.kubeconfig)
    events = _events(spec.stream, pods=spec.pods, events=spec.events)

    def apply(batch: Iterator[tuple[str, dict[str, Any]]]) -> int:
        n = 0
        for type_, obj in batch:
            # generate.py updates its objects in place: the server must keep its own copy
            server.apply(type_, orjson.loads(orjson.dumps(obj)))
            n += 1
        return n

    loaded = apply(itertools.islice(events, spec.preload))
    conn.send(("ready", loaded))
    while (command := conn.recv()) != "stop":
        if command == "go":
            t0 = time.perf_counter()
            applied = apply(events)
            conn.send(("applied", applied, time.perf_counter() - t0))
    server.stop()
    conn.send(("stopped",))


class ServerProcess:
    """A FakeApiServer in a child process, loaded with ``spec.preload`` events."""

    def __init__(self, spec: ServerSpec) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.spec = spec
        self.kubeconfig = spec.kubeconfig
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(spec, child), daemon=True)

    def __enter__(self) -> ServerProcess:
        self._proc.start()
        if not self._conn.poll(900):
            raise RuntimeError("the fake API server did not start")
        _, self.loaded = self._conn.recv()
        return self

    def go(self) -> None:
        """Apply the remaining events (returns at once; see :meth:`applied`)."""
        self._conn.send("go")

    def applied(self) -> tuple[int, float]:
        _, n, seconds = self._conn.recv()
        return n, seconds

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError, EOFError):
            self._conn.send("stop")
            self._conn.poll(30)
        self._proc.join(30)
        if self._proc.is_alive():
            self._proc.kill()


# ---------------------------------------------------------------------------- 1. pipeline


class _Done(Exception):
    pass


class _Lines:
    """Stands in for :class:`Kube`: the watch stream is lines already in memory."""

    def __init__(self, lines: list[bytes]) -> None:
        self.lines = lines

    def stream_lines(self, path: str, query: list[Any], *, read_timeout: float) -> Iterator[bytes]:
        return iter(self.lines)


def _watcher(kube: Any, limit: int | None = None) -> tuple[Watcher, list[int]]:
    """A real Watcher of pods whose documents are counted (and that stops after ``limit``)."""
    count = [0]

    def emit(change: Change) -> None:
        if change.doc is not None:
            count[0] += 1
            if count[0] == limit:
                raise _Done()

    watcher = Watcher(PODS, kube=kube, emit=emit, policy=RedactionPolicy(), metrics=Metrics())
    return watcher, count


def _kubetrail_cpu(lines: list[bytes]) -> float:
    watcher, count = _watcher(_Lines(lines))
    t0 = time.perf_counter()
    watcher._watch(None, "1")  # the shipper's per-line loop, fed from memory
    seconds = time.perf_counter() - t0
    assert count[0] == len(lines), count
    return seconds


def _naive_cpu(lines: list[bytes], *, document: bool = False) -> float:
    """``document``: also turn the ``V1Pod`` into the plain dict a store can take,
    with the client's own ``sanitize_for_serialization``."""
    from kubernetes import client, watch

    w = watch.Watch()
    api = client.ApiClient()
    return_type = w.get_return_type(client.CoreV1Api().list_pod_for_all_namespaces)
    t0 = time.perf_counter()
    for line in lines:  # what Watch.stream does per line after reading it
        event = w.unmarshal_event(line.decode("utf-8", errors="replace"), return_type)
        if document:
            out = api.sanitize_for_serialization(event["object"])
    seconds = time.perf_counter() - t0
    assert type(event["object"]).__name__ == "V1Pod"
    if document:
        assert out["metadata"]["name"] == event["object"].metadata.name
    return seconds


def _kubetrail_http(kubeconfig: str, n: int) -> float:
    watcher, count = _watcher(Kube(load_client(kubeconfig=kubeconfig)), limit=n)
    t0 = time.perf_counter()
    with contextlib.suppress(_Done):  # GET /api/v1/pods?watch=1&resourceVersion=1
        watcher._watch(None, "1")
    seconds = time.perf_counter() - t0
    assert count[0] == n, (count[0], n)
    return seconds


def _naive_http(kubeconfig: str, n: int, *, document: bool = False) -> float:
    from kubernetes import client, watch

    api = load_client(kubeconfig=kubeconfig)
    v1 = client.CoreV1Api(api)
    w = watch.Watch()
    seen = 0
    t0 = time.perf_counter()
    for event in w.stream(
        v1.list_pod_for_all_namespaces, resource_version="1", timeout_seconds=3600
    ):
        assert isinstance(event["object"], client.V1Pod)
        if document:
            api.sanitize_for_serialization(event["object"])
        seen += 1
        if seen == n:
            w.stop()
            break
    seconds = time.perf_counter() - t0
    assert seen == n, (seen, n)
    return seconds


def _stages(lines: list[bytes]) -> dict[str, float]:
    """µs per event of the steps of kubetrail's path, each timed on its own."""
    policy = RedactionPolicy()
    t0 = time.perf_counter()
    for line in lines:
        orjson.loads(line)
    parse = time.perf_counter() - t0
    objs = [orjson.loads(line)["object"] for line in lines]
    gc.freeze()  # thousands of live objects: keep the collector from scanning them
    try:
        t0 = time.perf_counter()
        for obj in objs:
            churn_digest(obj)
        digest = time.perf_counter() - t0
        t0 = time.perf_counter()
        for obj in objs:
            normalize(
                "MODIFIED", obj, observed_at=utcnow(), snapshot=False, plural="pods", policy=policy
            )
        norm = time.perf_counter() - t0
        t0 = time.perf_counter()
        for obj in objs:
            redact(obj, policy)
        red = time.perf_counter() - t0
        t0 = time.perf_counter()
        for obj in objs:
            derive_signals(obj)
        sig = time.perf_counter() - t0
    finally:
        del objs
        gc.unfreeze()
    n = len(lines) / 1e6
    return {
        "parse_us": round(parse / n, 1),
        "churn_digest_us": round(digest / n, 1),
        "normalize_us": round(norm / n, 1),
        "of_which_redact_us": round(red / n, 1),
        "of_which_signals_us": round(sig / n, 1),
    }


def _profile(run: Callable[[], object], top: int) -> list[dict[str, object]]:
    """The ``top`` functions by cumulative time (share of the whole run)."""
    profiler = cProfile.Profile()
    profiler.runcall(run)
    stats = pstats.Stats(profiler)
    total = max(v[3] for v in stats.stats.values())  # type: ignore[attr-defined]
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][3], reverse=True)  # type: ignore[attr-defined]
    rows = [r for r in rows if Path(r[0][0]).name != Path(__file__).name]  # not this script
    out = []
    for (filename, line, func), (_cc, calls, tottime, cumtime, _callers) in rows[:top]:
        where = f"{Path(filename).name}:{line}" if line else "builtin"
        out.append(
            {
                "function": f"{func} ({where})",
                "calls": calls,
                "cum_pct": round(100 * cumtime / total, 1),
                "own_pct": round(100 * tottime / total, 1),
            }
        )
    return out


def bench_pipeline(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    n = args.pipeline_events
    spec = ServerSpec("pods", args.pods, n, n, str(work / "pipeline.kubeconfig"))
    print(f"pipeline: loading {n:,} pod events into a fake API server ...", flush=True)
    with ServerProcess(spec) as server:
        # the lines exactly as the server sends them
        kube = Kube(load_client(kubeconfig=server.kubeconfig))
        query = [("watch", "1"), ("resourceVersion", "1"), ("timeoutSeconds", 3600)]
        lines = list(itertools.islice(kube.stream_lines("/api/v1/pods", query, read_timeout=60), n))
        assert len(lines) == n
        sizes = [len(line) for line in lines]
        avg_line = sum(sizes) / n
        print(f"  {n:,} lines, {avg_line / 1024:.1f} KB a line ({sum(sizes) / 1e6:.0f} MB)")
        warm = lines[: min(n, 500)]
        _kubetrail_cpu(warm)
        _naive_cpu(warm)
        ours_cpu = min(_kubetrail_cpu(lines) for _ in range(args.reps))
        naive_n = min(n, args.naive_cpu_events)
        naive_cpu = min(_naive_cpu(lines[:naive_n]) for _ in range(args.reps)) * n / naive_n
        naive_doc_cpu = (
            min(_naive_cpu(lines[:naive_n], document=True) for _ in range(args.reps)) * n / naive_n
        )
        print(
            f"  CPU only: kubetrail {n / ours_cpu:,.0f}/s, naive {n / naive_cpu:,.0f}/s "
            f"(to a dict: {n / naive_doc_cpu:,.0f}/s)"
        )
        ours_http = _kubetrail_http(server.kubeconfig, n)
        naive_http = _naive_http(server.kubeconfig, n)
        naive_doc_http = _naive_http(server.kubeconfig, n, document=True)
        print(
            f"  over HTTP: kubetrail {n / ours_http:,.0f}/s, naive {n / naive_http:,.0f}/s "
            f"(to a dict: {n / naive_doc_http:,.0f}/s)"
        )
        stages = _stages(lines)
        k = min(n, 5000)  # over HTTP, as measured (cProfile slows both paths down)
        profile_ours = _profile(lambda: _kubetrail_http(server.kubeconfig, k), args.profile_top)
        profile_naive = _profile(lambda: _naive_http(server.kubeconfig, k // 5), args.profile_top)
    return {
        "events": n,
        "line_bytes_avg": round(avg_line),
        "cpu_only": {
            "kubetrail_events_per_s": round(n / ours_cpu),
            "naive_events_per_s": round(n / naive_cpu),
            "naive_sample_events": naive_n,
            "ratio": round(naive_cpu / ours_cpu, 1),
            "naive_to_dict_events_per_s": round(n / naive_doc_cpu),
            "ratio_to_dict": round(naive_doc_cpu / ours_cpu, 1),
        },
        "over_http": {
            "kubetrail_events_per_s": round(n / ours_http),
            "naive_events_per_s": round(n / naive_http),
            "ratio": round(naive_http / ours_http, 1),
            "naive_to_dict_events_per_s": round(n / naive_doc_http),
            "ratio_to_dict": round(naive_doc_http / ours_http, 1),
        },
        "kubetrail_stages_us_per_event": {
            **stages,
            "total_cpu_only_us": round(ours_cpu / n * 1e6, 1),
            "total_over_http_us": round(ours_http / n * 1e6, 1),
        },
        "profile_kubetrail": profile_ours,
        "profile_naive": profile_naive,
    }


# ---------------------------------------------------------------------------- 2. end to end


def _count(store: Store) -> int:
    health = store.health()
    return int(health.detail.get("events") or 0) if health.ok else -1


def _wait_count(store: Store, expected: int, timeout: float, interval: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        count = _count(store)
        if count >= expected or time.monotonic() > deadline:
            return count
        time.sleep(interval)


def bench_e2e(
    label: str,
    open_stores: Callable[[], tuple[Store, Store]],
    *,
    events: int,
    pods: int,
    work: Path,
    poll: float,
) -> dict[str, Any]:
    """``open_stores()``: the store the shipper writes to, and one to count with."""
    spec = ServerSpec("cluster", pods, events, pods, str(work / f"{label}.kubeconfig"))
    print(
        f"end to end, {label}: {pods:,} pods listed, then {events - pods:,} changes live ...",
        flush=True,
    )
    with ServerProcess(spec) as server:
        store, counter = open_stores()
        timed = _TimedStore(store)
        config = ShipperConfig(spool_dir=str(work / f"{label}-spool"))
        shipper = Shipper(
            kube=Kube(load_client(kubeconfig=server.kubeconfig)),
            store=timed,  # type: ignore[arg-type]
            config=config,
            policy=RedactionPolicy(),
        )
        try:
            t0, cpu0 = time.perf_counter(), time.process_time()
            shipper.start()
            if not shipper.wait_synced(600):
                raise RuntimeError("the shipper did not finish its first listing")
            listed = time.perf_counter() - t0
            server.go()
            count = _wait_count(counter, events, timeout=1800, interval=poll)
            seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
            applied, apply_s = server.applied()
        finally:
            shipper.stop()
            store.close()
            if counter is not store:
                counter.close()
    if count != events:
        raise RuntimeError(f"{label}: the store holds {count} documents, expected {events}")
    print(f"  {events / seconds:,.0f} events/s ({seconds:.1f} s)")
    return {
        "store": label,
        "events": events,
        "pods": pods,
        "seconds": round(seconds, 2),
        "events_per_s": round(events / seconds),
        "listing_seconds": round(listed, 2),
        "store_write_share_pct": round(100 * timed.seconds / seconds),
        "store_writes": timed.writes,
        "process_cpu_cores": round(cpu / seconds, 2),
        "server_apply_seconds": round(apply_s, 2),
        "server_applied": applied,
    }


class _TimedStore:
    """The store, with the time spent in ``write`` (the delivery thread's store calls) added up."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.seconds = 0.0
        self.writes = 0

    def write(self, docs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return self._store.write(docs)
        finally:
            self.seconds += time.perf_counter() - t0
            self.writes += 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def _sqlite_stores(work: Path) -> Callable[[], tuple[Store, Store]]:
    def opened() -> tuple[Store, Store]:
        store = open_store(f"sqlite:///{work / 'e2e.db'}")
        return store, store

    return opened


def _osmem_stores(url: str) -> Callable[[], tuple[Store, Store]]:
    def opened() -> tuple[Store, Store]:
        from tests.support.opensearch_servers import opensearch_store

        prefix = "kubetrail-bench"
        prepared = opensearch_store(url, prefix=prefix)  # set up as `kubetrail setup` does
        # the shipper writes as `kubetrail ship --store opensearch+http://…` would
        store = open_store(f"opensearch+{url}", env={"KUBETRAIL_OPENSEARCH_PREFIX": prefix})
        return store, prepared

    return opened


# ---------------------------------------------------------------------------- 3. RSS


def _proc_kb(pid: int) -> dict[str, int]:
    out = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


def _ship_rss(objects: int, work: Path, label: str) -> dict[str, Any]:
    spec = ServerSpec("small", objects, objects, objects, str(work / f"{label}.kubeconfig"))
    db = work / f"{label}.db"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "CONFIG_PATH"}
    with ServerProcess(spec) as server:
        log = (work / f"{label}.log").open("wb")
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "kubetrail", "ship",
                "--kubeconfig", server.kubeconfig,
                "--store", f"sqlite:///{db}",
                "--spool-dir", str(work / f"{label}-spool"),
                "--metrics-port", str(port), "--metrics-host", "127.0.0.1",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 1200
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200:
                        break
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"kubetrail ship did not get ready; see {log.name}")
                time.sleep(0.2)
            ready_s = time.perf_counter() - t0
            counter = open_store(f"sqlite:///{db}")
            count = _wait_count(counter, objects, timeout=1200, interval=0.5)
            stored_s = time.perf_counter() - t0
            counter.close()
            time.sleep(2.0)  # let the last batch and the checkpoint settle
            mem = _proc_kb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(60)
            log.close()
    if count != objects:
        raise RuntimeError(f"{label}: the store holds {count} documents, expected {objects}")
    return {
        "objects": objects,
        "vm_rss_mb": round(mem["VmRSS"] / 1024),
        "vm_hwm_mb": round(mem["VmHWM"] / 1024),
        "ready_seconds": round(ready_s, 1),
        "stored_seconds": round(stored_s, 1),
    }


def bench_rss(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    print(f"RSS: kubetrail ship on a cluster of {args.rss_objects:,} pods ...", flush=True)
    full = _ship_rss(args.rss_objects, work, "rss")
    print(f"  VmRSS {full['vm_rss_mb']} MB, VmHWM {full['vm_hwm_mb']} MB")
    idle = _ship_rss(0, work, "rss-idle")
    print(f"  idle (no objects): VmRSS {idle['vm_rss_mb']} MB, VmHWM {idle['vm_hwm_mb']} MB")
    per_object = (full["vm_rss_mb"] - idle["vm_rss_mb"]) * 1024 * 1024 / max(1, args.rss_objects)
    return {**full, "idle": idle, "bytes_per_object": round(per_object)}


# ---------------------------------------------------------------------------- report


def _fmt(n: float) -> str:
    return f"{n:,.0f}"


def _table(results: dict[str, Any]) -> list[str]:
    rows = ["| figure | value | aim |", "| --- | ---: | --- |"]
    p = results.get("pipeline")
    if p:
        cpu, http = p["cpu_only"], p["over_http"]
        size = f"{p['line_bytes_avg'] / 1024:.1f} KB pods"
        rows += [
            f"| pipeline, CPU only, kubetrail ({size}) | {_fmt(cpu['kubetrail_events_per_s'])} events/s | >= 10,000 |",
            f"| pipeline, CPU only, naive `Watch().stream` → `V1Pod` | {_fmt(cpu['naive_events_per_s'])} events/s | |",
            f"| pipeline, CPU only, ratio | {cpu['ratio']}x | >= 10x |",
            f"| pipeline, CPU only, naive `V1Pod` → dict (`sanitize_for_serialization`) | {_fmt(cpu['naive_to_dict_events_per_s'])} events/s | |",
            f"| pipeline, CPU only, ratio to the naive dict | {cpu['ratio_to_dict']}x | >= 10x |",
            f"| pipeline over HTTP, kubetrail (`Kube.stream_lines`) | {_fmt(http['kubetrail_events_per_s'])} events/s | |",
            f"| pipeline over HTTP, naive | {_fmt(http['naive_events_per_s'])} events/s | |",
            f"| pipeline over HTTP, ratio | {http['ratio']}x | >= 10x |",
            f"| pipeline over HTTP, naive → dict | {_fmt(http['naive_to_dict_events_per_s'])} events/s | |",
            f"| pipeline over HTTP, ratio to the naive dict | {http['ratio_to_dict']}x | >= 10x |",
        ]
    for e in results.get("end_to_end", []):
        rows.append(
            f"| end to end → {e['store']} ({_fmt(e['events'])} events) | "
            f"{_fmt(e['events_per_s'])} events/s ({e['seconds']} s) | |"
        )
    r = results.get("rss")
    if r:
        rows += [
            f"| RSS, {_fmt(r['objects'])} tracked objects (VmRSS / VmHWM) | "
            f"{r['vm_rss_mb']} / {r['vm_hwm_mb']} MB | <= 300 MB |",
            f"| RSS idle, no objects (VmRSS / VmHWM) | "
            f"{r['idle']['vm_rss_mb']} / {r['idle']['vm_hwm_mb']} MB | |",
        ]
    return rows


def _report(results: dict[str, Any]) -> None:
    print()
    print("\n".join(_table(results)))
    p = results.get("pipeline")
    if p:
        s = p["kubetrail_stages_us_per_event"]
        print(
            f"\nkubetrail µs per event: {s['total_cpu_only_us']} CPU only, "
            f"{s['total_over_http_us']} over HTTP; timed apart: parse {s['parse_us']}, "
            f"churn digest {s['churn_digest_us']}, normalize {s['normalize_us']} "
            f"(redact {s['of_which_redact_us']}, signals {s['of_which_signals_us']})"
        )
        for name in ("profile_kubetrail", "profile_naive"):
            print(f"\n{name} over HTTP (cProfile, by cumulative time):")
            print("| function | calls | cumulative % | own % |")
            print("| --- | ---: | ---: | ---: |")
            for row in p[name]:
                print(
                    f"| {row['function']} | {row['calls']} | {row['cum_pct']} | {row['own_pct']} |"
                )
    for e in results.get("end_to_end", []):
        print(
            f"\nend to end → {e['store']}: store.write busy {e['store_write_share_pct']} % of the "
            f"time ({e['store_writes']} writes), this process used {e['process_cpu_cores']} cores"
            f" on average; listing done after {e['listing_seconds']} s; the fake API server "
            f"applied the {_fmt(e['server_applied'])} live changes in {e['server_apply_seconds']} s"
        )
    m = results["machine"]
    print(
        f"\nmachine: {m['cpus']} cpus ({m['cpu_model']}), {m['memory_gib']} GiB, "
        f"Python {m['python']}"
    )


def _cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--parts",
        default="pipeline,sqlite,osmem,rss",
        help="comma-separated: pipeline, sqlite, osmem, rss (default: all)",
    )
    p.add_argument("--pipeline-events", type=int, default=20_000)
    p.add_argument(
        "--naive-cpu-events",
        type=int,
        default=20_000,
        help="lines the CPU-only naive loop runs on (fewer: its rate is extrapolated)",
    )
    p.add_argument("--reps", type=int, default=3, help="CPU-only loops: best of this many")
    p.add_argument("--profile-top", type=int, default=12)
    p.add_argument("--pods", type=int, default=5_000, help="pods in the fake cluster")
    p.add_argument("--sqlite-events", type=int, default=50_000)
    p.add_argument("--osmem-events", type=int, default=20_000)
    p.add_argument("--rss-objects", type=int, default=100_000)
    p.add_argument("--workdir", help="keep files here (default: a temporary directory)")
    p.add_argument("--json", help="write the figures to this file")
    args = p.parse_args(argv)
    parts = {s.strip() for s in args.parts.split(",") if s.strip()}
    unknown = parts - {"pipeline", "sqlite", "osmem", "rss"}
    if unknown:
        p.error(f"unknown parts: {', '.join(sorted(unknown))}")

    work = Path(args.workdir or tempfile.mkdtemp(prefix="kubetrail-bench-shipper-"))
    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"machine": {**_machine(), "cpu_model": _cpu_model()}}
    started = time.perf_counter()
    if "pipeline" in parts:
        results["pipeline"] = bench_pipeline(args, work)
    e2e: list[dict[str, Any]] = []
    if "sqlite" in parts:
        for f in work.glob("e2e.db*"):
            f.unlink()
        e2e.append(
            bench_e2e(
                "SQLite",
                _sqlite_stores(work),
                events=args.sqlite_events,
                pods=args.pods,
                work=work,
                poll=0.2,
            )
        )
    if "osmem" in parts:
        from tests.support.osmem import running_osmem

        with running_osmem() as url:
            e2e.append(
                bench_e2e(
                    "osmem",
                    _osmem_stores(url),
                    events=args.osmem_events,
                    pods=args.pods,
                    work=work,
                    poll=0.5,
                )
            )
    if e2e:
        results["end_to_end"] = e2e
    if "rss" in parts:
        results["rss"] = bench_rss(args, work)
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    _report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
