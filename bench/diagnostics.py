"""Diagnostics benchmark: each check's latency on a large store, and the recall of
the old way (fetch the first 1,000 events of the window and filter them).

    python bench/diagnostics.py --json bench/results/diagnostics.json        # SQLite 1M + osmem 100k
    python bench/diagnostics.py --events 100000 --skip-osmem                 # quicker
    python bench/diagnostics.py --db /tmp/kt/bench.db --skip-osmem           # reuse an ingested store

For each store (embedded SQLite, then osmem-server unless ``--skip-osmem``):

1. generates watch events of the synthetic cluster of bench/generate.py (pod churn
   with CrashLoopBackOff / OOMKilled / ImagePullBackOff / CreateContainerConfigError
   and an Event per change) and appends the built-in demo incident anchored at the
   end of the synthetic window, so every check has something to find (node
   NotReady, a Pending PVC with a missing StorageClass, config and Deployment
   changes, an image pull failure, OOM kills); ``--input`` reuses a file;
2. ingests it with ``python -m kubetrail ingest`` in a subprocess, as a user would;
3. runs each check over the last hour, the last 24 hours and the whole
   window (the window ends at the newest stored event): one warm-up, then
   ``--reps`` timed runs (fewer when a run is slow, see ``--cell-budget``);
4. does the same check the old way: ``search`` the first 1,000 events of the window
   and evaluate the check's signals and Event reasons on those documents locally.
   Recall = (object, issue) pairs the old way finds / pairs present in the window.
   The pairs present are counted by uncapped aggregations with the check's own
   rules (the check itself stops at 2,000 groups per aggregation and then says
   ``truncated``);
5. profiles every check whose median exceeds 1 s: cProfile, plus each store query
   it made with its time (and EXPLAIN QUERY PLAN of the slowest SQLite statements).

Prints one markdown table per store and writes everything as JSON (``--json``).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import platform
import pstats
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
# the repository root, for tests.store.* (osmem-server, the OpenSearch setup)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from generate import write_lines
from kubetrail.demo.incident import generate_incident
from kubetrail.diagnostics import CHECKS, CheckParams, Report, TimeRange, run_check

# The checks' own vocabularies, so the old way evaluates exactly the same rules.
from kubetrail.diagnostics.changes import CHANGE_TYPES, STATUS_WRITERS
from kubetrail.diagnostics.common import GROUP_CAP, one_line
from kubetrail.diagnostics.nodes import _NODE_EVENTS
from kubetrail.diagnostics.nodes import _issue as _node_issue
from kubetrail.diagnostics.pods import _INSUFFICIENT, _POD_EVENT_REASONS, _POD_SIGNALS, _QUOTA
from kubetrail.diagnostics.pods import _issue_for as _pod_issue
from kubetrail.diagnostics.volumes import _UNBOUND, _VOLUME_EVENTS
from kubetrail.events.timing import parse_rfc3339, to_micros
from kubetrail.store.base import AggregateQuery, EventFilter, EventQuery, Store, StoreError
from kubetrail.store.opensearch import DEFAULT_PREFIX

OLD_WAY_LIMIT = 1000
SLOW_MS = 1000.0
PROFILE_TIMEOUT = 30.0
UNCAPPED = 10_000_000
RANGES: tuple[tuple[str, timedelta | None], ...] = (
    ("1h", timedelta(hours=1)),
    ("24h", timedelta(hours=24)),
    ("all", None),
)
OS_PREFIX = DEFAULT_PREFIX  # what `kubetrail ingest` writes to unless KUBETRAIL_OPENSEARCH_PREFIX


# -- the checks' rules, as data ---------------------------------------------------

Key = tuple[str, str, str, str]  # (kind, namespace, name, issue)


@dataclass(frozen=True)
class SignalRule:
    """Objects of ``resource_types`` whose signals match ``patterns`` → ``issue(signal)``."""

    resource_types: tuple[str, ...]
    patterns: tuple[str, ...]
    issue: Callable[[str], str | None]

    def matches(self, signal: str) -> bool:
        return any(
            signal.startswith(p[:-1]) if p.endswith("*") else signal == p for p in self.patterns
        )


@dataclass(frozen=True)
class EventRule:
    """Kubernetes Events about ``kinds`` with one of ``reasons`` (→ issue), optionally
    only when the message matches ``message``."""

    kinds: tuple[str, ...]
    reasons: Mapping[str, str]
    message: re.Pattern[str] | None = None


@dataclass(frozen=True)
class CheckRules:
    signals: tuple[SignalRule, ...] = ()
    events: tuple[EventRule, ...] = ()
    changes: bool = False
    note: str = ""


def _first(mapped: tuple[str, Any] | None) -> str | None:
    return mapped[0] if mapped else None


def _issues(reasons: Mapping[str, tuple[str, Any]]) -> dict[str, str]:
    return {reason: issue for reason, (issue, _severity) in reasons.items()}


RULES: dict[str, CheckRules] = {
    "check_node_health": CheckRules(
        signals=(SignalRule(("nodes",), ("node.*",), lambda s: _first(_node_issue(s))),),
        events=(EventRule(("Node",), _issues(_NODE_EVENTS)),),
    ),
    "check_pod_issues": CheckRules(
        signals=(SignalRule(("pods",), _POD_SIGNALS, lambda s: _first(_pod_issue(s))),),
        events=(EventRule(("Pod",), _issues(_POD_EVENT_REASONS)),),
    ),
    "check_volume_issues": CheckRules(
        signals=(
            SignalRule(
                ("persistentvolumeclaims", "persistentvolumes"),
                ("pvc.*", "pv.*"),
                lambda s: s.partition(":")[2],
            ),
        ),
        events=(
            EventRule(
                ("PersistentVolumeClaim", "PersistentVolume", "Pod"), _issues(_VOLUME_EVENTS)
            ),
            EventRule(("Pod",), {"FailedScheduling": "PodWaitingForClaim"}, _UNBOUND),
        ),
    ),
    "analyze_recent_changes": CheckRules(changes=True),
    "check_resource_limits": CheckRules(
        signals=(
            SignalRule(
                ("pods",),
                ("pod.lastTerminated:OOMKilled", "pod.terminated:OOMKilled", "pod.reason:Evicted"),
                lambda s: _first(_pod_issue(s)),
            ),
        ),
        events=(
            EventRule(("Pod",), {"FailedScheduling": "InsufficientResources"}, _INSUFFICIENT),
            EventRule(
                ("ReplicaSet", "StatefulSet", "DaemonSet", "Job"),
                {"FailedCreate": "QuotaExceeded"},
                _QUOTA,
            ),
        ),
        note="NoMemoryRequestsOrLimits (derived from failing pods) not counted",
    ),
}


def _dedupe(keys: set[Key]) -> set[Key]:
    """check_pod_issues drops FailedScheduling for a pod already Unschedulable."""
    return {
        k
        for k in keys
        if not (k[3] == "FailedScheduling" and (k[0], k[1], k[2], "Unschedulable") in keys)
    }


def _message(doc: Mapping[str, Any]) -> str:
    obj = doc.get("objectChanges") or {}
    return one_line(obj.get("message") or obj.get("note"))


def old_way_keys(rules: CheckRules, docs: Iterable[Mapping[str, Any]]) -> set[Key]:
    """The (object, issue) pairs the documents show, evaluated one document at a time."""
    found: set[Key] = set()
    for doc in docs:
        rtype = doc.get("resourceType")
        for rule in rules.signals:
            if rtype not in rule.resource_types:
                continue
            for signal in doc.get("signals") or []:
                issue = rule.issue(signal) if rule.matches(signal) else None
                if issue:
                    found.add(
                        (
                            str(doc.get("kind") or ""),
                            str(doc.get("namespace") or ""),
                            str(doc.get("resourceName") or ""),
                            issue,
                        )
                    )
        if rtype == "events":
            inv = doc.get("involvedObject") or {}
            for erule in rules.events:
                issue = erule.reasons.get(str(doc.get("reason") or ""))
                if issue is None or inv.get("kind") not in erule.kinds:
                    continue
                if erule.message is not None and not erule.message.search(_message(doc)):
                    continue
                found.add(
                    (
                        str(inv.get("kind") or ""),
                        str(inv.get("namespace") or ""),
                        str(inv.get("name") or ""),
                        issue,
                    )
                )
        if (
            rules.changes
            and rtype in CHANGE_TYPES
            and not doc.get("snapshot")
            and not (
                doc.get("verb") == "update" and (doc.get("fieldManager") or "") in STATUS_WRITERS
            )
        ):
            found.add(
                (
                    str(doc.get("kind") or ""),
                    str(doc.get("namespace") or ""),
                    str(doc.get("resourceName") or ""),
                    "changed",
                )
            )
    return _dedupe(found)


def _signal_groups(store: Store, rule: SignalRule, rng: TimeRange) -> list[tuple[str, ...]]:
    """Distinct (kind, namespace, name, signal) of the rule's objects in the range.

    On OpenSearch: the store's aggregation, uncapped. On SQLite a reference query of
    its own, driven by the signals index (``CROSS JOIN`` keeps that order), so the
    reference never depends on the plan the store's aggregation gets (schema v1 joined
    the other way round: minutes per query at a million events)."""
    if store.kind != "sqlite":
        result = store.aggregate(
            AggregateQuery(
                filter=EventFilter(
                    start=rng.start,
                    end=rng.end,
                    resource_type=rule.resource_types,
                    signal=rule.patterns,
                ),
                group_by=("kind", "namespace", "resourceName", "signal"),
                limit=UNCAPPED,
                latest=False,
            )
        )
        return [
            (b.key["kind"], b.key["namespace"], b.key["resourceName"], b.key["signal"])
            for b in result.buckets
        ]
    conds, params = [], []
    for pattern in rule.patterns:
        if pattern.endswith("*"):
            conds.append("(s.signal >= ? AND s.signal < ?)")
            params += [pattern[:-1], pattern[:-1] + "\U0010ffff"]
        else:
            conds.append("s.signal = ?")
            params.append(pattern)
    types = ",".join("?" * len(rule.resource_types))
    sql = (
        "SELECT DISTINCT e.kind, e.namespace, e.resource_name, s.signal"
        " FROM signals s CROSS JOIN events e ON e.seq = s.seq"
        f" WHERE ({' OR '.join(conds)}) AND s.ts >= ? AND s.ts <= ?"
        f" AND e.resource_type IN ({types})"
    )
    params += [to_micros(rng.start), to_micros(rng.end), *rule.resource_types]
    return [tuple(r) for r in store._read(sql, params)]  # type: ignore[attr-defined]


def present_keys(store: Store, rules: CheckRules, rng: TimeRange) -> set[Key]:
    """Every (object, issue) pair in the range by the same rules, from uncapped
    aggregations (the reference the old way's recall is measured against)."""
    found: set[Key] = set()
    span = {"start": rng.start, "end": rng.end}
    for rule in rules.signals:
        for kind, namespace, name, signal in _signal_groups(store, rule, rng):
            issue = rule.issue(signal) if rule.matches(signal) else None
            if issue:
                found.add((kind, namespace, name, issue))
    for erule in rules.events:
        result = store.aggregate(
            AggregateQuery(
                filter=EventFilter(
                    **span,
                    resource_type=("events",),
                    involved_kind=erule.kinds,
                    reason=tuple(erule.reasons),
                ),
                group_by=(
                    "involvedObject.kind",
                    "involvedObject.namespace",
                    "involvedObject.name",
                    "reason",
                ),
                limit=UNCAPPED,
                latest=erule.message is not None,
            )
        )
        for b in result.buckets:
            if erule.message is not None and not erule.message.search(_message(b.latest or {})):
                continue
            found.add(
                (
                    b.key["involvedObject.kind"],
                    b.key["involvedObject.namespace"],
                    b.key["involvedObject.name"],
                    erule.reasons[b.key["reason"]],
                )
            )
    if rules.changes:
        result = store.aggregate(
            AggregateQuery(
                filter=EventFilter(**span, snapshot=False, resource_type=CHANGE_TYPES),
                group_by=("kind", "namespace", "resourceName", "verb", "fieldManager"),
                limit=UNCAPPED,
                latest=False,
            )
        )
        for b in result.buckets:
            if b.key["verb"] == "update" and b.key["fieldManager"] in STATUS_WRITERS:
                continue
            found.add((b.key["kind"], b.key["namespace"], b.key["resourceName"], "changed"))
    return _dedupe(found)


# -- data ---------------------------------------------------------------------------


def generate(path: Path, *, events: int, pods: int, hours: float, seed: int) -> dict[str, Any]:
    """``events`` JSON lines: the synthetic cluster, then the demo incident anchored at
    the end of the synthetic window (so the newest six hours hold every issue kind)."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=hours + 1)
    anchor = start + timedelta(hours=hours)
    incident = generate_incident(anchor=anchor)
    synthetic = max(1, events - len(incident))
    t0 = time.perf_counter()
    with path.open("wb") as out:
        size = write_lines(
            out,
            events=synthetic,
            nodes=50,
            pods=pods,
            namespaces=20,
            hours=hours,
            seed=seed,
            start=start,
        )
        for ev in incident:
            line = orjson.dumps(ev) + b"\n"
            out.write(line)
            size += len(line)
    info = {
        "file": str(path),
        "synthetic_events": synthetic,
        "incident_events": len(incident),
        "events": synthetic + len(incident),
        "bytes": size,
        "start": start.isoformat(),
        "incident_anchor": anchor.isoformat(),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    print(
        f"generated {info['events']:,} events ({synthetic:,} synthetic + {len(incident):,} "
        f"demo incident anchored at {anchor:%Y-%m-%dT%H:%M:%SZ}), {size / 1e6:.0f} MB "
        f"in {info['seconds']} s -> {path}",
        flush=True,
    )
    return info


def _count_lines(path: Path) -> int:
    n = 0
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 24), b""):
            n += chunk.count(b"\n")
    return n


def ingest(
    path: Path,
    store_url: str,
    *,
    events: int,
    stored: Callable[[], int | None],
    env: Mapping[str, str] | None = None,
    every: float = 30.0,
) -> dict[str, Any]:
    """``python -m kubetrail ingest --quiet``; prints progress every ``every`` seconds."""
    cmd = [sys.executable, "-m", "kubetrail", "ingest", "--quiet", "--store", store_url, str(path)]
    print(f"$ {' '.join(cmd)}", flush=True)
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=err, env={**os.environ, **(env or {})}
        )
        next_report = t0 + every
        while proc.poll() is None:
            time.sleep(0.5)
            now = time.perf_counter()
            if now >= next_report:
                next_report = now + every
                n = None
                with contextlib.suppress(Exception):
                    n = stored()
                done = f"{n:,} of {events:,} stored, {n / (now - t0):,.0f} events/s" if n else ""
                print(f"  ingest: {now - t0:5.0f} s elapsed {done}", flush=True)
        seconds = time.perf_counter() - t0
        err.seek(0)
        output = err.read().decode(errors="replace").strip()
    if proc.returncode != 0:
        raise SystemExit(f"ingest failed (rc {proc.returncode}):\n{output[-3000:]}")
    print(f"  {output.splitlines()[-1] if output else 'ingest done'}", flush=True)
    size = path.stat().st_size
    result = {
        "events": events,
        "seconds": round(seconds, 1),
        "events_per_s": round(events / seconds),
        "input_mb_per_s": round(size / 1e6 / seconds, 1),
        "summary": output.splitlines()[-1] if output else "",
    }
    print(
        f"  ingest: {result['seconds']} s, {result['events_per_s']:,} events/s, "
        f"{result['input_mb_per_s']} MB/s",
        flush=True,
    )
    return result


def _sqlite_count(db: Path) -> Callable[[], int | None]:
    def count() -> int | None:
        if not db.exists():
            return None
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return conn.execute("SELECT MAX(seq) FROM events").fetchone()[0]
        finally:
            conn.close()

    return count


# -- measuring ----------------------------------------------------------------------


class TimedOut(Exception):
    pass


@contextlib.contextmanager
def deadline(store: Store, seconds: float) -> Iterator[None]:
    """Interrupt the store's SQLite statements after ``seconds`` (a progress handler
    on this thread's reader connection); raises :class:`TimedOut`. No-op elsewhere."""
    if store.kind != "sqlite" or seconds <= 0 or not hasattr(store, "_reader"):
        yield  # a store without one reader connection per thread: no deadline
        return
    conn = store._reader()  # type: ignore[attr-defined]
    end = time.perf_counter() + seconds
    conn.set_progress_handler(lambda: int(time.perf_counter() > end), 100_000)
    try:
        yield
    except StoreError as exc:
        if "interrupted" in str(exc):
            raise TimedOut(f"over {seconds:.0f} s") from None
        raise
    finally:
        conn.set_progress_handler(None, 0)


def _timed(
    fn: Callable[[], Any],
    *,
    store: Store,
    reps: int,
    budget: float,
    timeout: float,
    first: list[float] | None = None,
) -> tuple[Any, list[float], bool]:
    """One warm-up, then up to ``reps`` runs (fewer if they would exceed ``budget`` s;
    a warm-up longer than ``budget`` is the only sample). Returns (last result, samples in ms, whether a run hit ``timeout``);
    ``first`` gets the warm-up's time (ms): the answer of a cold process and cache."""
    t0 = time.perf_counter()
    try:
        with deadline(store, timeout):
            result = fn()
    except TimedOut:
        return None, [], True
    warm = time.perf_counter() - t0
    if first is not None:
        first.append(warm * 1000)
    if warm > budget:  # a run this slow is its own measurement (caches are warm by now)
        return result, [warm * 1000], False
    runs = max(1, min(reps, int(budget / warm)))
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        try:
            with deadline(store, timeout):
                result = fn()
        except TimedOut:
            return result, samples, True
        samples.append((time.perf_counter() - t0) * 1000)
    return result, samples, False


@dataclass
class QueryLog:
    """Every store query one check run made, with its time."""

    entries: list[dict[str, Any]] = field(default_factory=list)

    @contextlib.contextmanager
    def attached(self, store: Store) -> Iterator[None]:
        if hasattr(store, "_read"):  # SQLiteStore: every statement goes through _read
            name, original = "_read", store._read  # type: ignore[attr-defined]

            def traced(sql: str, params: Any) -> Any:
                t0 = time.perf_counter()
                entry = {"query": sql, "params": list(params), "rows": "interrupted"}
                try:
                    rows = original(sql, params)
                    entry["rows"] = len(rows)
                    return rows
                finally:
                    entry["ms"] = (time.perf_counter() - t0) * 1000
                    self.entries.append(entry)
        else:  # OpenSearchStore: every request goes through _search
            name, original = "_search", store._search  # type: ignore[attr-defined]

            def traced(body: dict[str, Any]) -> Any:  # type: ignore[misc]
                t0 = time.perf_counter()
                resp = original(body)
                hits = len((resp.get("hits") or {}).get("hits") or [])
                groups = len(
                    ((resp.get("aggregations") or {}).get("groups") or {}).get("buckets", [])
                )
                self.entries.append(
                    {
                        "ms": (time.perf_counter() - t0) * 1000,
                        "query": json.dumps(body, default=str),
                        "rows": hits + groups,
                    }
                )
                return resp

        setattr(store, name, traced)
        try:
            yield
        finally:
            delattr(store, name)


def profile_check(
    store: Store, name: str, params: CheckParams, *, timeout: float
) -> dict[str, Any]:
    """cProfile one run, and list the store queries it made (slowest first)."""
    log = QueryLog()
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    timed_out = False
    with log.attached(store):
        prof.enable()
        try:
            with deadline(store, timeout):
                run_check(store, name, params)
        except TimedOut:
            timed_out = True
        finally:
            prof.disable()
    total_ms = (time.perf_counter() - t0) * 1000
    stats = pstats.Stats(prof, stream=io.StringIO())
    top = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:12]  # type: ignore[attr-defined]
    functions = [
        {
            "function": f"{Path(file).name}:{line}({func})",
            "calls": nc,
            "tottime_ms": round(tt * 1000, 1),
            "cumtime_ms": round(ct * 1000, 1),
        }
        for (file, line, func), (_cc, nc, tt, ct, _callers) in top
    ]
    queries = sorted(log.entries, key=lambda e: e["ms"], reverse=True)
    slow = []
    for entry in queries[:4]:
        item: dict[str, Any] = {
            "ms": round(entry["ms"], 1),
            "rows": entry["rows"],
            "query": _shorten(entry["query"]),
        }
        if store.kind == "sqlite":
            item["params"] = [_shorten(str(p), 60) for p in entry["params"][:12]]
            plan = store._reader().execute(  # type: ignore[attr-defined]
                "EXPLAIN QUERY PLAN " + entry["query"], entry["params"]
            )
            item["plan"] = [row[3] for row in plan.fetchall()]
        slow.append(item)
    return {
        "check": name,
        "range": params.range.to_dict(),
        "total_ms": round(total_ms, 1),
        "timed_out": timed_out,
        "queries": len(log.entries),
        "query_ms": round(sum(e["ms"] for e in log.entries), 1),
        "top_functions_by_tottime": functions,
        "slowest_queries": slow,
    }


def _shorten(text: str, cap: int = 700) -> str:
    text = " ".join(text.split())
    return text if len(text) <= cap else text[: cap - 1] + "…"


def _old_way(store: Store, rules: CheckRules, rng: TimeRange) -> tuple[set[Key], int]:
    page = store.search(
        EventQuery(filter=EventFilter(start=rng.start, end=rng.end), limit=OLD_WAY_LIMIT)
    )
    return old_way_keys(rules, page.items), len(page.items)


def _failing_pod(store: Store, rng: TimeRange) -> tuple[str, str] | None:
    """The newest pod with a pod-issue signal in the range (when check_pod_issues timed out)."""
    docs = store.search(
        EventQuery(
            filter=EventFilter(
                start=rng.start, end=rng.end, resource_type=("pods",), signal=("pod.waiting:*",)
            ),
            order="desc",
            limit=1,
        )
    ).items
    return (docs[0]["namespace"], docs[0]["resourceName"]) if docs else None


def bench_store(
    store: Store,
    *,
    label: str,
    reps: int,
    budget: float,
    limit: int,
    profile: bool,
    timeout: float,
    old_way: bool = True,
    ranges: Sequence[tuple[str, timedelta | None]] = RANGES,
) -> dict[str, Any]:
    """Each check over each of ``ranges`` (default :data:`RANGES`; each ends at the
    newest stored event, ``None``: from the oldest): timings, findings and
    (``old_way``) the old way's recall against the pairs present."""
    health = store.health().detail
    oldest, newest = parse_rfc3339(health["oldest"]), parse_rfc3339(health["newest"])
    print(
        f"\n[{label}] {health.get('events'):,} events stored, {health['oldest']} .. {health['newest']}",
        flush=True,
    )
    rows: list[dict[str, Any]] = []
    profiles: list[dict[str, Any]] = []
    for range_label, span in ranges:
        rng = TimeRange(start=newest - span if span else oldest, end=newest)
        pod: tuple[str, str] | None = None
        for name in CHECKS:
            if CHECKS[name].needs_pod:
                if pod is None:
                    print(f"  {name} {range_label}: no pod issue found, skipped", flush=True)
                    continue
                params = CheckParams(range=rng, limit=limit, namespace=pod[0], pod_name=pod[1])
            else:
                params = CheckParams(range=rng, limit=limit)
            first: list[float] = []
            report, samples, timed_out = _timed(
                lambda p=params, n=name: run_check(store, n, p),
                store=store,
                reps=reps,
                budget=budget,
                timeout=timeout,
                first=first,
            )
            row: dict[str, Any] = {
                "check": name,
                "range": range_label,
                "start": rng.to_dict()["start"],
                "end": rng.to_dict()["end"],
                "timed_out": timed_out,
                "timeout_s": timeout if timed_out else None,
                "runs": len(samples),
                "p50_ms": round(statistics.median(samples), 1) if samples else None,
                "max_ms": round(max(samples), 1) if samples else None,
                "first_ms": round(first[0], 1) if first else None,
            }
            if isinstance(report, Report):
                row.update(
                    findings=report.total_findings,
                    shown=len(report.findings),
                    truncated=report.truncated,
                    summary=report.summary,
                )
            if name == "check_pod_issues":
                top = (
                    next((f for f in report.findings if f.object.kind == "Pod"), None)
                    if isinstance(report, Report)
                    else None
                )
                pod = (top.object.namespace, top.object.name) if top else None
                if pod is None:
                    pod = _failing_pod(store, rng)
                    row["pod_fallback"] = pod
            if params.pod_name:
                row["pod"] = f"{params.namespace}/{params.pod_name}"
                row["conclusion"] = report.conclusion if isinstance(report, Report) else None
            rules = RULES.get(name) if old_way else None
            if rules is not None:
                present = present_keys(store, rules, rng)
                (old, fetched), old_samples, _ = _timed(
                    lambda r=rules, g=rng: _old_way(store, r, g),
                    store=store,
                    reps=reps,
                    budget=budget,
                    timeout=0,
                )
                row["old_way"] = {
                    "fetched": fetched,
                    "found": len(old & present),
                    "found_not_present": len(old - present),
                    "present": len(present),
                    "recall": round(len(old & present) / len(present), 4) if present else None,
                    "p50_ms": round(statistics.median(old_samples), 1),
                    "max_ms": round(max(old_samples), 1),
                    "present_by_issue": _by_issue(present),
                    "found_by_issue": _by_issue(old & present),
                }
                if rules.note:
                    row["old_way"]["note"] = rules.note
            rows.append(row)
            print("  " + _row_line(row), flush=True)
            if profile and (timed_out or row["p50_ms"] > SLOW_MS):
                # a run that timed out is profiled only until it has shown its slow statement
                cap = min(timeout, PROFILE_TIMEOUT) if timed_out else timeout
                profiles.append(profile_check(store, name, params, timeout=cap))
    return {"health": health, "results": rows, "profiles": profiles}


def _by_issue(keys: set[Key]) -> dict[str, int]:
    out: dict[str, int] = {}
    for k in keys:
        out[k[3]] = out.get(k[3], 0) + 1
    return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))


def _row_line(r: dict[str, Any]) -> str:
    old = r.get("old_way")
    if "findings" in r:
        found = f"{r['findings']:,}" + (" (truncated)" if r["truncated"] else "")
    else:
        found = "?"
    if r["p50_ms"] is None:
        times = f"> {r['timeout_s']:,.0f} s (timeout) | -"
    else:
        times = f"{r['p50_ms']:,.0f} | {r['max_ms']:,.0f}"
        if r["timed_out"]:
            times += f" (a later run > {r['timeout_s']:,.0f} s)"
    if old is None:
        old_cols = "n/a | n/a | n/a | n/a"
    else:
        recall = "n/a" if old["recall"] is None else f"{old['recall'] * 100:.1f} %"
        old_cols = f"{old['present']:,} | {old['found']:,} | {recall} | {old['p50_ms']:,.0f}"
    return f"| {r['check']} | {r['range']} | {found} | {times} | {old_cols} |"


TABLE_HEADER = (
    "| check | range | findings | p50 ms | max ms | pairs in range | old way found "
    "| old way recall | old way p50 ms |\n"
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
)


def print_table(title: str, section: dict[str, Any]) -> None:
    print(f"\n### {title}\n")
    print(TABLE_HEADER)
    for r in section["results"]:
        print(_row_line(r))
    for r in section["results"]:
        if "pod" in r:
            print(f"\ninvestigate_pod_startup {r['range']}: {r['pod']}: {r['conclusion']}")
    for p in section["profiles"]:
        print(
            f"\nprofile {p['check']} {p['range']['start']}..{p['range']['end']}: "
            f"{p['total_ms']:,.0f} ms, {p['queries']} store queries taking {p['query_ms']:,.0f} ms"
        )
        for q in p["slowest_queries"][:3]:
            print(f"  {q['ms']:,.0f} ms, {q['rows']} rows: {q['query'][:300]}")
            for step in q.get("plan", []):
                print(f"      plan: {step}")


def _machine() -> dict[str, object]:
    mem = 0
    with contextlib.suppress(OSError), open("/proc/meminfo") as fh:
        mem = int(fh.readline().split()[1]) // 1024 // 1024
    return {
        "cpus": os.cpu_count(),
        "memory_gib": mem,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
    }


# -- the two stores ---------------------------------------------------------------------


def run_sqlite(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from kubetrail.store.sqlite import SQLiteStore

    db = Path(args.db) if args.db else work / "diagnostics.db"
    out: dict[str, Any] = {"store": "sqlite"}
    if args.db and db.exists():
        print(f"\n[sqlite] reusing {db} (no generation, no ingest)", flush=True)
    else:
        for f in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            f.unlink(missing_ok=True)
        if args.input:
            path = Path(args.input)
            out["input"] = {"file": str(path), "events": _count_lines(path)}
        else:
            path = work / f"cluster-{args.events}.jsonl"
            out["input"] = generate(
                path, events=args.events, pods=args.pods, hours=args.hours, seed=args.seed
            )
        out["ingest"] = ingest(
            path, f"sqlite:///{db}", events=out["input"]["events"], stored=_sqlite_count(db)
        )
        db_bytes = sum(f.stat().st_size for f in db.parent.glob(db.name + "*"))
        out["ingest"]["db_bytes_per_event"] = round(db_bytes / out["input"]["events"])
    store = SQLiteStore(db)
    try:
        out.update(
            bench_store(
                store,
                label="sqlite",
                reps=args.reps,
                budget=args.cell_budget,
                limit=args.limit,
                profile=not args.no_profile,
                timeout=args.timeout,
            )
        )
    finally:
        store.close()
    return out


def run_osmem(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from tests.support.opensearch_servers import opensearch_store
    from tests.support.osmem import running_osmem

    out: dict[str, Any] = {"store": "osmem"}
    if args.osmem_input:
        path = Path(args.osmem_input)
        out["input"] = {"file": str(path), "events": _count_lines(path)}
    else:
        path = work / f"cluster-{args.osmem_events}.jsonl"
        out["input"] = generate(
            path, events=args.osmem_events, pods=args.pods, hours=args.hours, seed=args.seed
        )
    with running_osmem() as url:
        print(f"\n[osmem] osmem-server at {url}", flush=True)
        # prepared by the code of `kubetrail setup`, under the prefix the CLI writes to
        store = opensearch_store(url, prefix=OS_PREFIX)
        try:

            def stored() -> int:
                return int(store.client.count(index=store.pattern)["count"])

            out["ingest"] = ingest(
                path,
                f"opensearch+{url}",
                events=out["input"]["events"],
                stored=stored,
                env={"KUBETRAIL_OPENSEARCH_PREFIX": OS_PREFIX},
            )
            out.update(
                bench_store(
                    store,
                    label="osmem",
                    reps=args.reps,
                    budget=args.cell_budget,
                    limit=args.limit,
                    profile=not args.no_profile,
                    timeout=args.timeout,
                )
            )
        finally:
            store.close()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--events", type=int, default=1_000_000, help="SQLite store size")
    p.add_argument("--osmem-events", type=int, default=100_000, help="osmem store size")
    p.add_argument("--pods", type=int, default=5_000)
    p.add_argument("--hours", type=float, default=48.0, help="synthetic window")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--input", help="JSON lines to ingest into SQLite instead of generating")
    p.add_argument("--osmem-input", help="JSON lines to ingest into osmem instead of generating")
    p.add_argument("--db", help="SQLite file; if it exists it is reused as it is (no ingest)")
    p.add_argument("--reps", type=int, default=5, help="timed runs per check and range")
    p.add_argument(
        "--cell-budget",
        type=float,
        default=60.0,
        help="seconds of timed runs per check and range at most (slow checks get fewer runs)",
    )
    p.add_argument("--limit", type=int, default=50, help="the checks' limit")
    p.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        help="SQLite: interrupt a check run after this many seconds (0: never)",
    )
    p.add_argument("--skip-sqlite", action="store_true")
    p.add_argument("--skip-osmem", action="store_true")
    p.add_argument("--no-profile", action="store_true", help="do not profile checks over 1 s")
    p.add_argument("--workdir", help="keep files here (default: a temporary directory)")
    p.add_argument("--json", help="write the figures to this file")
    args = p.parse_args(argv)

    work = Path(args.workdir or tempfile.mkdtemp(prefix="kubetrail-diag-"))
    work.mkdir(parents=True, exist_ok=True)
    machine = _machine()
    print(
        f"machine: {machine['cpus']} cpus, {machine['memory_gib']} GiB, "
        f"Python {machine['python']}, SQLite {machine['sqlite']}",
        flush=True,
    )
    t0 = time.perf_counter()
    results: dict[str, Any] = {"machine": machine, "group_cap": GROUP_CAP, "limit": args.limit}
    if not args.skip_sqlite:
        results["sqlite"] = run_sqlite(args, work)
    if not args.skip_osmem:
        results["osmem"] = run_osmem(args, work)
    results["seconds"] = round(time.perf_counter() - t0)

    for key in ("sqlite", "osmem"):
        if key in results:
            n = results[key]["health"].get("events")
            print_table(f"{key}, {n:,} events", results[key])
    print(
        f"\nmachine: {machine['cpus']} cpus, {machine['memory_gib']} GiB, "
        f"Python {machine['python']}, SQLite {machine['sqlite']}; total {results['seconds']} s"
    )
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
