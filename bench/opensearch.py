"""OpenSearch on a real node: ingest against a parallel_bulk floor, the diagnostics and the
REST API at scale, disk per event, and the same answers as SQLite.

    scripts/opensearch-node start --data-dir /var/tmp/kubetrail/os-bench --port 9290
    python bench/opensearch.py --url http://127.0.0.1:9290 --events 100000   # a quick run
    python bench/opensearch.py --url http://127.0.0.1:9290 --json bench/results/opensearch-1m.json

The node must be disposable: the indices ``kubetrail-events-*`` (what ``kubetrail ingest``
and ``kubetrail api`` use by default), ``kubetrail-floor-*``, ``kubetrail-ship-*`` and
``kubetrail-shipfloor-*`` are deleted (by name) and set up again with the code of
``kubetrail setup`` (``--replicas 0``; the index template's ``best_compression``).

1. **Ingest.** ``--events`` watch events of bench/generate.py's cluster plus the demo
   incident (as bench/diagnostics.py makes them), cut into ``--slices`` files. The same
   documents are prepared beforehand as OpenSearch will index them (``documents_of`` and the
   store's ``index_body``: the floor gets them for free). Slice by slice, taking turns at
   going first (so the machine's drift and the merges one leaves behind hit both), the
   **floor** sends a slice's
   prepared documents with ``opensearchpy.helpers.parallel_bulk`` and nothing else (a default
   client, its default 4 threads and 500-document chunks, ``create`` with the document id,
   to the write alias of an index set up like kubetrail's) and **kubetrail** runs
   ``kubetrail ingest --store opensearch+URL SLICE`` on it, as a user does. Both indices
   grow in lockstep. Reported: events/s of each, kubetrail/floor, the CPU each used on the
   client and on the node (``_nodes/stats``), and ``_nodes/hot_threads`` taken during the
   kubetrail slices. The floor index is deleted afterwards.
2. **Shipper** (``--shipper-events``, 0 skips it): bench/shipper.py's end-to-end run (fake API
   server → the real ``Shipper`` → its delivery → OpenSearch) until the index holds every
   document, then the documents it stored (read back as indexed) sent again with the floor.
3. **SQLite**, the peer of every figure that follows: the same input file through
   ``kubetrail ingest`` into an embedded store (or ``--db``, reused when it exists).
4. **Diagnostics**: each check over the last hour, 24 h and the whole window on
   both stores (bench/diagnostics.py's loop, without its recall part); a check over 1 s on
   OpenSearch is profiled: cProfile on the client, the store queries it made, and its
   slowest request again with ``"profile": true`` on the node.
5. **REST API**: ``kubetrail api`` on each store as a process of its own; bench/foundation.py's
   typical queries plus cursor paging deep into a namespace (``--deep-pages`` pages of 100,
   every page timed, then the deepest page repeated), p50/p95 over ``--reps`` runs.
6. **Same answers**: every check, every range, ``--compare-limit`` findings, from both
   stores: the reports as JSON must be equal; every difference is listed.
7. **Disk**: ``_cat/indices`` store.size of kubetrail's index after a refresh, then after a
   forcemerge to one segment; SQLite's files next to it.

Prints tables; ``--json`` writes everything.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import pstats
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from opensearchpy import OpenSearch, helpers

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support (fake API server)

from diagnostics import RANGES, QueryLog, _count_lines, _sqlite_count, bench_store, generate, ingest
from foundation import _machine, _percentile, _time_queries, running_api, typical_queries
from kubetrail.diagnostics import CHECKS, CheckParams, TimeRange, run_check
from kubetrail.events.timing import parse_rfc3339
from kubetrail.ingest.documents import documents_of
from kubetrail.ingest.reader import read_records
from kubetrail.store import open_store
from kubetrail.store.base import EventFilter, EventQuery, Health, Store
from kubetrail.store.opensearch import DEFAULT_PREFIX, OpenSearchStore
from kubetrail.store.opensearch import queries as os_queries
from kubetrail.store.opensearch.setup import setup
from kubetrail.store.opensearch.templates import TemplateParams

FLOOR = "kubetrail-floor"
SHIP = "kubetrail-ship"
SHIP_FLOOR = "kubetrail-shipfloor"
BEFORE = "kubetrail-before"
HOURS = 48.0
STARTED = time.perf_counter()
SLOW_MS = 1000.0


# -- the node ---------------------------------------------------------------------------


def _client(url: str) -> OpenSearch:
    """A default client: what the floor sends with, and what the bench administers with."""
    return OpenSearch(hosts=[url], timeout=600)


def fresh_index(client: OpenSearch, prefix: str) -> None:
    """Delete ``prefix``'s indices (by name: destructive_requires_name) and set them up
    again as ``kubetrail setup --prefix PREFIX --replicas 0`` does."""
    drop_indices(client, prefix)
    setup(client, TemplateParams(prefix=prefix, replicas=0), report=lambda line: None)


def drop_indices(client: OpenSearch, prefix: str) -> None:
    names = sorted(client.indices.get(index=f"{prefix}-*", ignore_unavailable=True))
    if names:
        client.indices.delete(index=",".join(names))


def index_stats(client: OpenSearch, prefix: str) -> dict[str, int]:
    """Documents and store.size (bytes) of ``prefix``'s indices, after a refresh."""
    client.indices.refresh(index=f"{prefix}-*")
    rows = client.cat.indices(index=f"{prefix}-*", format="json", bytes="b")
    return {
        "docs": sum(int(r["docs.count"]) for r in rows),
        "store_bytes": sum(int(r["store.size"]) for r in rows),
        "indices": len(rows),
    }


def node_cpu_ms(client: OpenSearch) -> int:
    nodes = client.nodes.stats(metric="process")["nodes"]
    return sum(int(n["process"]["cpu"]["total_in_millis"]) for n in nodes.values())


def hot_threads(url: str) -> str:
    resp = httpx.get(
        f"{url}/_nodes/hot_threads",
        params={"threads": 4, "interval": "1s", "ignore_idle_threads": "true"},
        timeout=60,
    )
    return resp.text


def hot_thread_lines(text: str, frames: int = 6) -> list[str]:
    """The header line of each hot thread and its top ``frames`` stack frames."""
    out: list[str] = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if "cpu usage by thread" in line:
            out.append(line.strip())
            stack = [
                s.strip()
                for s in lines[i + 1 : i + 40]
                if s.strip().startswith("app//") or s.strip().startswith("java.")
            ]
            out += ["    " + s for s in stack[:frames]]
    return out


# -- 1. ingest: kubetrail against the floor ---------------------------------------------


def split(path: Path, slices: int, work: Path) -> list[Path]:
    """``path`` cut into ``slices`` files of whole lines (about as many lines each)."""
    total = _count_lines(path)
    per = -(-total // slices)
    parts = [work / f"slice-{i}.jsonl" for i in range(slices)]
    with path.open("rb") as src:
        for part in parts:
            with part.open("wb") as out:
                for _ in range(per):
                    line = src.readline()
                    if not line:
                        break
                    out.write(line)
    return [p for p in parts if p.stat().st_size]


def prepare(path: Path) -> tuple[Path, int]:
    """The slice's documents as OpenSearch indexes them (``_id``, ``_source``), one JSON
    line each: what ``OpenSearchStore.write`` would send, made beforehand."""
    out = path.with_suffix(".prepared.jsonl")
    n = 0
    with path.open("rb") as fh, out.open("wb") as sink:
        for rec in read_records(fh, source=str(path)):
            docs = documents_of(rec)
            if isinstance(docs, str):
                raise SystemExit(f"{path}: rejected: {docs}")
            for doc in docs:
                body = os_queries.index_body(dict(doc))
                sink.write(orjson.dumps({"_id": doc["id"], "_source": body}) + b"\n")
                n += 1
    return out, n


def _prepared_actions(path: Path, alias: str) -> Iterator[dict[str, Any]]:
    with path.open("rb") as fh:
        for line in fh:
            item = orjson.loads(line)
            yield {
                "_op_type": "create",
                "_index": alias,
                "_id": item["_id"],
                "_source": item["_source"],
            }


def floor_bulk(url: str, actions: Iterator[dict[str, Any]], *, threads: int) -> dict[str, Any]:
    """``helpers.parallel_bulk`` of ``actions`` with a default client; times it, with the
    CPU of this process and of the node."""
    client = _client(url)
    try:
        cpu0, node0 = time.process_time(), node_cpu_ms(client)
        t0 = time.perf_counter()
        ok = failed = 0
        for good, item in helpers.parallel_bulk(
            client, actions, thread_count=threads, raise_on_error=False
        ):
            if good:
                ok += 1
            else:
                failed += 1
                if failed <= 3:
                    print(f"  floor: not stored: {item}", flush=True)
        seconds = time.perf_counter() - t0
        return {
            "stored": ok,
            "failed": failed,
            "seconds": round(seconds, 2),
            "client_cores": round((time.process_time() - cpu0) / seconds, 2),
            "node_cores": round((node_cpu_ms(client) - node0) / 1000 / seconds, 2),
        }
    finally:
        client.close()


def kubetrail_ingest(
    url: str, path: Path, docs: int, admin: OpenSearch, *, prefix: str, src: str | None = None
) -> dict[str, Any]:
    """``kubetrail ingest --store opensearch+URL PATH`` (bench/diagnostics.py's runner) into
    ``prefix``, with the CPU it and the node used; ``src``: run the kubetrail package found
    there instead (``PYTHONPATH``), e.g. a copy of the code before a change."""
    before = int(admin.count(index=f"{prefix}-*")["count"])

    def stored() -> int:  # by this run (the index holds the earlier slices too)
        return int(admin.count(index=f"{prefix}-*")["count"]) - before

    env = {"KUBETRAIL_OPENSEARCH_PREFIX": prefix, **({"PYTHONPATH": src} if src else {})}
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    node0 = node_cpu_ms(admin)
    result = ingest(path, f"opensearch+{url}", events=docs, stored=stored, env=env, every=60)
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (children1.ru_utime + children1.ru_stime) - (children0.ru_utime + children0.ru_stime)
    return {
        "stored": docs,
        "seconds": result["seconds"],
        "summary": result["summary"],
        "client_cores": round(cpu / result["seconds"], 2),
        "node_cores": round((node_cpu_ms(admin) - node0) / 1000 / result["seconds"], 2),
    }


@contextlib.contextmanager
def sampling_hot_threads(url: str, every: float, into: list[str]) -> Iterator[None]:
    """Takes ``_nodes/hot_threads`` every ``every`` seconds in a thread while the body runs."""
    import threading

    stop = threading.Event()

    def run() -> None:
        while not stop.wait(every):
            with contextlib.suppress(httpx.HTTPError):
                into.append(hot_threads(url))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(70)


def bench_ingest(args: argparse.Namespace, url: str, path: Path, work: Path) -> dict[str, Any]:
    admin = _client(url)
    parts = split(path, args.slices, work)
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=min(2, len(parts))) as pool:
        prepared = list(pool.map(prepare, parts))
    print(
        f"prepared {sum(n for _, n in prepared):,} documents for the floor in "
        f"{time.perf_counter() - t0:.0f} s ({len(parts)} slices)",
        flush=True,
    )
    contenders = ["floor", "kubetrail"] + (["before"] if args.before_src else [])
    prefixes = {"floor": FLOOR, "kubetrail": DEFAULT_PREFIX, "before": BEFORE}
    for who in contenders:
        fresh_index(admin, prefixes[who])
    rows: list[dict[str, Any]] = []
    samples: list[str] = []
    for i, (part, (ready, docs)) in enumerate(zip(parts, prepared, strict=True)):
        # who goes first changes every slice (two contenders: AB, BA, AB, BA)
        turn = i % len(contenders)
        order = contenders[turn:] + contenders[:turn]
        row: dict[str, Any] = {"slice": i, "documents": docs, "order": order}
        for who in order:
            print(f"slice {i} ({docs:,} documents): {who} ...", flush=True)
            if who == "floor":
                row["floor"] = floor_bulk(
                    url, _prepared_actions(ready, FLOOR), threads=args.floor_threads
                )
            elif who == "kubetrail":
                with sampling_hot_threads(url, args.hot_threads_every, samples):
                    row[who] = kubetrail_ingest(url, part, docs, admin, prefix=DEFAULT_PREFIX)
            else:
                row[who] = kubetrail_ingest(
                    url, part, docs, admin, prefix=BEFORE, src=args.before_src
                )
            print(f"  {who}: {docs / row[who]['seconds']:,.0f} events/s {row[who]}", flush=True)
        row["ratio_pct"] = round(100 * row["floor"]["seconds"] / row["kubetrail"]["seconds"], 1)
        if "before" in row:
            row["before_ratio_pct"] = round(
                100 * row["floor"]["seconds"] / row["before"]["seconds"], 1
            )
        rows.append(row)
    docs = sum(r["documents"] for r in rows)
    seconds = {who: sum(r[who]["seconds"] for r in rows) for who in contenders}
    stats = {prefixes[who]: index_stats(admin, prefixes[who]) for who in contenders}
    for who in contenders:
        if who != "kubetrail":
            drop_indices(admin, prefixes[who])
    (work / "hot_threads.txt").write_text("\n\n".join(samples))
    admin.close()
    out: dict[str, Any] = {
        "documents": docs,
        "input_bytes": path.stat().st_size,
        "kubetrail_events_per_s": round(docs / seconds["kubetrail"]),
        "floor_events_per_s": round(docs / seconds["floor"]),
        "ratio_pct": round(100 * seconds["floor"] / seconds["kubetrail"], 1),
        "kubetrail_seconds": round(seconds["kubetrail"], 1),
        "floor_seconds": round(seconds["floor"], 1),
        "floor_threads": args.floor_threads,
    }
    if args.before_src:
        out["before"] = {
            "src": args.before_src,
            "events_per_s": round(docs / seconds["before"]),
            "ratio_pct": round(100 * seconds["floor"] / seconds["before"], 1),
        }
    return {
        **out,
        "slices": rows,
        "indices": stats,
        "hot_threads": [hot_thread_lines(s) for s in samples],
        "hot_threads_file": str(work / "hot_threads.txt"),
    }


# -- 2. the shipper's delivery path -----------------------------------------------------


class _RefreshingStore(OpenSearchStore):
    """Counts what is searchable now: refreshes before ``health`` (bench_e2e's count)."""

    def health(self) -> Health:
        self.client.indices.refresh(index=self.pattern)
        return super().health()


def bench_shipper(args: argparse.Namespace, url: str, work: Path) -> dict[str, Any]:
    from shipper import bench_e2e

    admin = _client(url)

    def open_stores() -> tuple[Store, Store]:
        fresh_index(admin, SHIP)
        store = open_store(f"opensearch+{url}", env={"KUBETRAIL_OPENSEARCH_PREFIX": SHIP})
        return store, _RefreshingStore(_client(url), prefix=SHIP, name=url)

    shipped = bench_e2e(
        "opensearch",
        open_stores,
        events=args.shipper_events,
        pods=args.shipper_pods,
        work=work,
        poll=0.25,
    )
    docs = [
        {"_op_type": "create", "_index": SHIP_FLOOR, "_id": hit["_id"], "_source": hit["_source"]}
        for hit in helpers.scan(admin, index=f"{SHIP}-*", size=1000)
    ]
    fresh_index(admin, SHIP_FLOOR)
    t0 = time.perf_counter()
    floor = floor_bulk(url, iter(docs), threads=args.floor_threads)
    admin.indices.refresh(index=f"{SHIP_FLOOR}-*")  # the shipper's time ends at a refresh too
    floor["seconds"] = round(time.perf_counter() - t0, 2)
    for prefix in (SHIP, SHIP_FLOOR):
        drop_indices(admin, prefix)
    admin.close()
    return {
        "shipper": shipped,
        "floor": floor,
        "floor_events_per_s": round(len(docs) / floor["seconds"]),
        "ratio_pct": round(100 * floor["seconds"] / shipped["seconds"], 1),
    }


# -- 4. diagnostics, profiled on the node -----------------------------------------------


def node_profile(store: OpenSearchStore, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` again with ``"profile": true``: where the node spent the time (per shard:
    the query tree's top level, the collectors, the aggregations)."""
    t0 = time.perf_counter()
    resp = store.client.search(index=store.pattern, body={**body, "profile": True})
    took = (time.perf_counter() - t0) * 1000

    def ms(nanos: int) -> float:
        return round(nanos / 1e6, 1)

    shards = []
    for shard in resp.get("profile", {}).get("shards", []):
        searches = [
            {
                "query": [
                    {
                        "type": q["type"],
                        "ms": ms(q["time_in_nanos"]),
                        "description": q["description"][:200],
                    }
                    for q in s.get("query", [])
                ],
                "collectors": [
                    {"name": c["name"], "ms": ms(c["time_in_nanos"])}
                    for c in s.get("collector", [])
                ],
            }
            for s in shard.get("searches", [])
        ]
        aggs = [
            {
                "type": a["type"],
                "name": a["description"],
                "ms": ms(a["time_in_nanos"]),
                "breakdown_ms": {
                    k: ms(v)
                    for k, v in a.get("breakdown", {}).items()
                    if not k.endswith("_count") and v > 1_000_000
                },
            }
            for a in shard.get("aggregations", [])
        ]
        shards.append({"id": shard["id"], "searches": searches, "aggregations": aggs})
    return {"took_ms": resp.get("took"), "round_trip_ms": round(took, 1), "shards": shards}


def profile_on_node(store: OpenSearchStore, name: str, params: CheckParams) -> dict[str, Any]:
    """One run of a slow check: cProfile on the client, its requests with their times, and
    the slowest request profiled on the node."""
    log = QueryLog()
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    with log.attached(store):
        prof.enable()
        try:
            run_check(store, name, params)
        finally:
            prof.disable()
    total = (time.perf_counter() - t0) * 1000
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(12)
    slowest = sorted(log.entries, key=lambda e: e["ms"], reverse=True)
    return {
        "check": name,
        "range": params.range.to_dict(),
        "total_ms": round(total, 1),
        "requests": len(log.entries),
        "request_ms": round(sum(e["ms"] for e in log.entries), 1),
        "slowest_requests": [
            {"ms": round(e["ms"], 1), "rows": e["rows"], "body": e["query"][:1500]}
            for e in slowest[:3]
        ],
        "node_profile": node_profile(store, json.loads(slowest[0]["query"])) if slowest else None,
        "client_cprofile": out.getvalue().splitlines()[:40],
    }


def bench_diagnostics(args: argparse.Namespace, stores: dict[str, Store]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, store in stores.items():
        out[label] = bench_store(
            store,
            label=label,
            reps=args.diag_reps,
            budget=60.0,
            limit=50,
            profile=False,
            timeout=0,
            old_way=False,
        )
    opensearch = stores["opensearch"]
    assert isinstance(opensearch, OpenSearchStore)
    out["profiles"] = []
    for row in out["opensearch"]["results"]:
        if (row["p50_ms"] or 0) > SLOW_MS:
            rng = TimeRange(start=parse_rfc3339(row["start"]), end=parse_rfc3339(row["end"]))
            pod = row.get("pod", "").partition("/")
            params = CheckParams(
                range=rng, limit=50, namespace=pod[0] or None, pod_name=pod[2] or None
            )
            print(f"  profiling {row['check']} {row['range']} ...", flush=True)
            out["profiles"].append(profile_on_node(opensearch, row["check"], params))
    return out


# -- 5. the REST API --------------------------------------------------------------------


def deep_paging(base: str, path: str, pages: int) -> tuple[list[float], str, int]:
    """Follows ``X-Next-Cursor`` from ``path`` for ``pages`` pages, timing each; returns
    the times, the path of the last page reached and how many events lie before it."""
    samples: list[float] = []
    current, before = path, 0
    with httpx.Client(base_url=base, timeout=60) as client:
        for _ in range(pages):
            t0 = time.perf_counter()
            resp = client.get(current)
            samples.append((time.perf_counter() - t0) * 1000)
            resp.raise_for_status()
            cursor = resp.headers.get("X-Next-Cursor")
            if not cursor:
                break
            before += len(resp.json())
            current = f"{path}&cursor={cursor}"
    return samples, current, before


def bench_api(args: argparse.Namespace, store_url: str, start: datetime) -> dict[str, Any]:
    with running_api(store_url) as base:
        queries = typical_queries(base, start, HOURS)
        first = next(p for label, p in queries if label == "namespace + pods + update, limit 100")
        deep = first.replace("&resourceType=pods&verb=update", "")
        walk, last, before = deep_paging(base, deep, args.deep_pages)
        queries.append((f"deep page by cursor ({before:,} events in)", last))
        results = _time_queries(base, queries, args.reps)
    return {
        "queries": results,
        "walk": {
            "pages": len(walk),
            "events_before_last": before,
            "p50_ms": round(statistics.median(walk), 2),
            "p95_ms": round(_percentile(walk, 0.95), 2),
            "max_ms": round(max(walk), 2),
        },
    }


# -- 6. same answers --------------------------------------------------------------------


def same_answers(
    sqlite: Store, opensearch: Store, pods: dict[str, str], *, limit: int
) -> list[dict[str, Any]]:
    """Every check over every range from both stores; the differences of the reports."""
    health = sqlite.health().detail
    oldest, newest = parse_rfc3339(health["oldest"]), parse_rfc3339(health["newest"])
    rows = []
    for range_label, span in RANGES:
        rng = TimeRange(start=newest - span if span else oldest, end=newest)
        for name, spec in CHECKS.items():
            pod = pods.get(range_label, "/").partition("/") if spec.needs_pod else ("", "", "")
            if spec.needs_pod and not pod[2]:
                continue
            params = CheckParams(
                range=rng, limit=limit, namespace=pod[0] or None, pod_name=pod[2] or None
            )
            a = run_check(sqlite, name, params).to_dict()
            b = run_check(opensearch, name, params).to_dict()
            diffs = report_diffs(a, b)
            rows.append(
                {
                    "check": name,
                    "range": range_label,
                    "findings": a["totalFindings"],
                    "compared": len(a["findings"]),
                    "same": not diffs,
                    "differences": diffs,
                }
            )
            mark = "same" if not diffs else f"{len(diffs)} differences"
            print(f"  {name} {range_label}: {a['totalFindings']:,} findings: {mark}", flush=True)
    return rows


def report_diffs(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """What differs between two reports (SQLite ``a``, OpenSearch ``b``), field by field
    and finding by finding (findings matched on object and issue)."""
    diffs = [
        f"{key}: sqlite {a[key]!r} / opensearch {b[key]!r}"
        for key in ("summary", "totalFindings", "truncated", "notes", "conclusion")
        if a[key] != b[key]
    ]

    def keyed(report: dict[str, Any]) -> dict[tuple[str, ...], tuple[int, dict[str, Any]]]:
        return {
            (f["object"]["kind"], f["object"]["namespace"], f["object"]["name"], f["issue"]): (i, f)
            for i, f in enumerate(report["findings"])
        }

    ka, kb = keyed(a), keyed(b)
    for key in ka.keys() - kb.keys():
        diffs.append(f"only from sqlite: {'/'.join(key)} (position {ka[key][0]})")
    for key in kb.keys() - ka.keys():
        diffs.append(f"only from opensearch: {'/'.join(key)} (position {kb[key][0]})")
    for key in ka.keys() & kb.keys():
        (ia, fa), (ib, fb) = ka[key], kb[key]
        if ia != ib:
            diffs.append(f"{'/'.join(key)}: position {ia} / {ib}")
        for field in fa:
            if fa[field] != fb[field]:
                diffs.append(
                    f"{'/'.join(key)}: {field}: sqlite {fa[field]!r} / opensearch {fb[field]!r}"
                )
    return diffs


def same_documents(sqlite: Store, opensearch: Store) -> dict[str, Any]:
    """Counts, and the ids of the first and last 1,000 documents, from both stores."""
    out: dict[str, Any] = {
        "sqlite_events": sqlite.health().detail["events"],
        "opensearch_events": opensearch.health().detail["events"],
    }
    for order in ("asc", "desc"):
        q = EventQuery(filter=EventFilter(), limit=1000, order=order)
        a, b = sqlite.search(q).items, opensearch.search(q).items
        out[f"first_1000_{order}_same"] = a == b
    return out


# -- the run ----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--url", default=os.environ.get("OPENSEARCH_URL"), help="a disposable node")
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--pods", type=int, default=5_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--input", help="watch events to use instead of generating them")
    p.add_argument(
        "--slices", type=int, default=4, help="ingest slices, floor and kubetrail alternating"
    )
    p.add_argument("--floor-threads", type=int, default=4, help="parallel_bulk's thread_count")
    p.add_argument(
        "--before-src",
        help="a third contender in the ingest: `kubetrail ingest` run from this src/ directory "
        "(PYTHONPATH), e.g. a copy of the code before a change",
    )
    p.add_argument("--only-ingest", action="store_true", help="stop after ingest and shipper")
    p.add_argument("--hot-threads-every", type=float, default=30.0, help="seconds")
    p.add_argument("--skip-ingest", action="store_true", help="kubetrail's index is loaded already")
    p.add_argument("--shipper-events", type=int, default=20_000, help="0: skip the shipper")
    p.add_argument("--shipper-pods", type=int, default=2_000)
    p.add_argument("--db", help="SQLite peer: reused when it exists, else built there")
    p.add_argument("--diag-reps", type=int, default=5, help="timed runs per check and range")
    p.add_argument("--reps", type=int, default=50, help="timed runs per API query")
    p.add_argument("--deep-pages", type=int, default=100, help="pages of 100 to page through")
    p.add_argument("--compare-limit", type=int, default=500, help="findings compared per report")
    p.add_argument("--no-forcemerge", action="store_true")
    p.add_argument("--workdir", help="keep files here (default: a temporary directory)")
    p.add_argument("--json", help="write the figures to this file")
    args = p.parse_args(argv)
    if not args.url:
        p.error("--url (or OPENSEARCH_URL) is required: a disposable OpenSearch node")
    url = args.url.removeprefix("opensearch+").rstrip("/")
    work = Path(args.workdir or tempfile.mkdtemp(prefix="kubetrail-bench-os-"))
    work.mkdir(parents=True, exist_ok=True)
    admin = _client(url)
    results: dict[str, Any] = {
        "machine": _machine(),
        "opensearch": admin.info()["version"]["number"],
        "events": args.events,
        "code": _code_state(),
    }
    started = time.perf_counter()

    def save() -> None:  # after every phase: a long run that fails late keeps the rest
        if args.json:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(results, indent=2, default=str) + "\n")

    path = Path(args.input) if args.input else work / f"cluster-{args.events}.jsonl"
    if not args.skip_ingest:
        if not args.input:
            results["input"] = generate(
                path, events=args.events, pods=args.pods, hours=HOURS, seed=args.seed
            )
        results["ingest"] = bench_ingest(args, url, path, work)
        _print_ingest(results["ingest"])
        save()
    if args.shipper_events:
        results["shipper"] = bench_shipper(args, url, work)
        save()
    if args.only_ingest:
        report(results)
        return 0
    db = Path(args.db) if args.db else work / "peer.db"
    if not db.exists():
        print("\n[sqlite] the same input into the embedded store (the peer)", flush=True)
        results["sqlite_ingest"] = ingest(
            path, f"sqlite:///{db}", events=_count_lines(path), stored=_sqlite_count(db)
        )
    sqlite = open_store(f"sqlite:///{db}", read_only=True)
    opensearch = open_store(f"opensearch+{url}")
    try:
        results["documents"] = same_documents(sqlite, opensearch)
        print(f"\ndocuments: {results['documents']}", flush=True)
        stores = {"sqlite": sqlite, "opensearch": opensearch}
        results["diagnostics"] = bench_diagnostics(args, stores)
        save()
        oldest = parse_rfc3339(sqlite.health().detail["oldest"])
        start = oldest.replace(minute=0, second=0, microsecond=0)
        results["api"] = {}
        for label, store_url in (
            ("sqlite", f"sqlite:///{db}"),
            ("opensearch", f"opensearch+{url}"),
        ):
            print(f"\n[{label}] REST API queries ...", flush=True)
            results["api"][label] = bench_api(args, store_url, start)
            save()
        pods = {
            r["range"]: r["pod"]
            for r in results["diagnostics"]["sqlite"]["results"]
            if r.get("pod")
        }
        print("\nsame answers (sqlite / opensearch):", flush=True)
        results["same_answers"] = same_answers(sqlite, opensearch, pods, limit=args.compare_limit)
    finally:
        sqlite.close()
        opensearch.close()
    results["disk"] = disk(args, admin, db)
    admin.close()
    results["seconds"] = round(time.perf_counter() - started)
    save()
    report(results)
    if args.json:
        print(f"wrote {args.json}")
    return 0


def _code_state() -> dict[str, str]:
    """The commit, and a digest of the uncommitted changes under src/ (others may be
    changing the tree while a long run goes on)."""
    import hashlib
    import subprocess

    root = Path(__file__).resolve().parents[1]

    def git(*cmd: str) -> bytes:
        return subprocess.run(["git", *cmd], cwd=root, capture_output=True).stdout

    return {
        "commit": git("rev-parse", "HEAD").decode().strip(),
        "src_diff_sha1": hashlib.sha1(git("diff", "HEAD", "--", "src")).hexdigest(),
    }


def disk(args: argparse.Namespace, admin: OpenSearch, db: Path) -> dict[str, Any]:
    settings = admin.indices.get_settings(index=f"{DEFAULT_PREFIX}-*", name="index.codec")
    out: dict[str, Any] = {
        "codec": sorted({s["settings"]["index"]["codec"] for s in settings.values()}),
        "refreshed": index_stats(admin, DEFAULT_PREFIX),
    }
    if not args.no_forcemerge:
        t0 = time.perf_counter()
        admin.indices.forcemerge(
            index=f"{DEFAULT_PREFIX}-*", max_num_segments=1, request_timeout=7200
        )
        out["forcemerge_seconds"] = round(time.perf_counter() - t0, 1)
        out["forcemerged"] = index_stats(admin, DEFAULT_PREFIX)
    for key in ("refreshed", "forcemerged"):
        if key in out:
            out[key]["bytes_per_event"] = round(out[key]["store_bytes"] / out[key]["docs"])
    sqlite_bytes = sum(f.stat().st_size for f in db.parent.glob(db.name + "*"))
    out["sqlite_bytes_per_event"] = round(sqlite_bytes / out["refreshed"]["docs"])
    return out


# -- printing ---------------------------------------------------------------------------


def _print_ingest(ing: dict[str, Any]) -> None:
    line = (
        f"\ningest, {ing['documents']:,} documents: kubetrail {ing['kubetrail_events_per_s']:,} "
        f"events/s, floor (parallel_bulk, {ing['floor_threads']} threads) "
        f"{ing['floor_events_per_s']:,} events/s: kubetrail/floor {ing['ratio_pct']} %"
    )
    if "before" in ing:
        line += (
            f"; before ({ing['before']['src']}) {ing['before']['events_per_s']:,} events/s, "
            f"{ing['before']['ratio_pct']} % of the floor"
        )
    print(line, flush=True)


def _print_ingest_slices(ing: dict[str, Any]) -> None:
    who = ["kubetrail", "floor"] + (["before"] if "before" in ing else [])
    print(
        f"\n| slice | documents | order | {' | '.join(w + ' events/s' for w in who)} "
        "| kubetrail/floor | client cores | node cores |"
    )
    print("| ---: | ---: | --- |" + " ---: |" * len(who) + " ---: | --- | --- |")
    for s in ing["slices"]:
        rates = " | ".join(f"{s['documents'] / s[w]['seconds']:,.0f}" for w in who)
        client = " / ".join(str(s[w]["client_cores"]) for w in who)
        node = " / ".join(str(s[w]["node_cores"]) for w in who)
        print(
            f"| {s['slice']} | {s['documents']:,} | {', '.join(s['order'])} | {rates} "
            f"| {s['ratio_pct']} % | {client} | {node} |"
        )


def _print_diagnostics(diag: dict[str, Any]) -> None:
    print("\n| check | range | findings | SQLite p50 / max ms | OpenSearch p50 / max ms |")
    print("| --- | --- | ---: | ---: | ---: |")
    for a, b in zip(diag["sqlite"]["results"], diag["opensearch"]["results"], strict=True):
        print(
            f"| {a['check']} | {a['range']} | {b.get('findings', 0):,} "
            f"| {a['p50_ms']:,.0f} / {a['max_ms']:,.0f} | {b['p50_ms']:,.0f} / {b['max_ms']:,.0f} |"
        )
    for prof in diag["profiles"]:
        print(
            f"\nprofile {prof['check']} {prof['range']}: {prof['total_ms']:,.0f} ms, "
            f"{prof['requests']} requests, {prof['request_ms']:,.0f} ms in them"
        )
        for q in prof["slowest_requests"]:
            print(f"  {q['ms']:,.0f} ms, {q['rows']} rows: {q['body'][:300]}")


def _print_api(api: dict[str, Any]) -> None:
    print("\n| query | rows | SQLite p50 / p95 ms | OpenSearch p50 / p95 ms |")
    print("| --- | ---: | ---: | ---: |")
    for a, b in zip(api["sqlite"]["queries"], api["opensearch"]["queries"], strict=True):
        print(
            f"| {b['query']} | {b['rows']} | {a['p50_ms']} / {a['p95_ms']} "
            f"| {b['p50_ms']} / {b['p95_ms']} |"
        )
    sw, ow = api["sqlite"]["walk"], api["opensearch"]["walk"]
    print(
        f"| walk of {ow['pages']} pages by cursor, each page | 100 "
        f"| {sw['p50_ms']} / {sw['p95_ms']} | {ow['p50_ms']} / {ow['p95_ms']} |"
    )


def report(r: dict[str, Any]) -> None:
    """Prints whatever the run got to."""
    print()
    if "ingest" in r:
        _print_ingest(r["ingest"])
        _print_ingest_slices(r["ingest"])
    if "shipper" in r:
        sh = r["shipper"]
        print(
            f"\nshipper end to end: {sh['shipper']['events_per_s']:,} events/s "
            f"({sh['shipper']['events']:,} events); floor on its documents "
            f"{sh['floor_events_per_s']:,} events/s: shipper/floor {sh['ratio_pct']} %"
        )
    if "diagnostics" in r:
        _print_diagnostics(r["diagnostics"])
    if "sqlite" in r.get("api", {}) and "opensearch" in r.get("api", {}):
        _print_api(r["api"])
    if "same_answers" in r:
        same = r["same_answers"]
        differ = [s for s in same if not s["same"]]
        print(
            f"\nsame answers: {len(same) - len(differ)} of {len(same)} reports equal; "
            f"documents {r['documents']}"
        )
        for s in differ:
            print(f"  {s['check']} {s['range']}: {len(s['differences'])} differences")
            for d in s["differences"][:10]:
                print(f"    {d}")
    if "disk" in r:
        d = r["disk"]
        line = f"\ndisk: codec {d['codec']}, {d['refreshed']['bytes_per_event']:,} bytes/event"
        if "forcemerged" in d:
            line += (
                f" refreshed, {d['forcemerged']['bytes_per_event']:,} after forcemerge "
                f"({d['forcemerge_seconds']} s)"
            )
        print(line + f"; SQLite {d['sqlite_bytes_per_event']:,} bytes/event")
    m = r["machine"]
    print(
        f"machine: {m['cpus']} cpus, {m['memory_gib']} GiB, Python {m['python']}, "
        f"OpenSearch {r['opensearch']}; {round(time.perf_counter() - STARTED)} s"
    )


if __name__ == "__main__":
    raise SystemExit(main())
