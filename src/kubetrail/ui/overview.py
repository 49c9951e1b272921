"""The overview page's content: what the checks found, what changed, and when.

Pure over the Store protocol: it runs the diagnostics (:func:`run_check`) over the
page's range and arranges their findings for a person: by severity, each with the page of
its object; the recent changes (``analyze_recent_changes``: who, what, which paths); and
the counts over time (:mod:`kubetrail.ui.histogram`).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from kubetrail.diagnostics import CHECKS, CheckParams, Finding, TimeRange, run_check
from kubetrail.store.base import Store
from kubetrail.ui.histogram import Histogram, bucket_counts, histogram
from kubetrail.ui.links import kind_object_url

SEVERITIES = ("critical", "warning", "info")
#: the check whose findings are the recent changes, listed apart
CHANGES_CHECK = "analyze_recent_changes"
#: checks that need one object named (a pod): not run over a whole range
_PER_OBJECT = frozenset(name for name, spec in CHECKS.items() if spec.needs_pod)
FINDINGS_PER_CHECK = 50
CHANGES_LISTED = 30
#: queries of one overview run at once (the checks and the histogram)
QUERY_THREADS = 4


@dataclass(frozen=True, slots=True)
class FindingRow:
    severity: str
    issue: str
    kind: str
    namespace: str
    name: str
    url: str
    message: str
    count: int
    first_seen: str
    last_seen: str
    checks: list[str]


@dataclass(frozen=True, slots=True)
class ChangeRow:
    time: str
    verb: str
    kind: str
    namespace: str
    name: str
    url: str
    by: str
    paths: list[str]
    highlights: list[str]


@dataclass(slots=True)
class Overview:
    findings: dict[str, list[FindingRow]]  # severity → rows, most recent first
    changes: list[ChangeRow]  # newest first
    histogram: Histogram
    notes: list[str] = field(default_factory=list)
    truncated: list[str] = field(default_factory=list)  # checks that found more

    @property
    def total_findings(self) -> int:
        return sum(len(rows) for rows in self.findings.values())


def overview(store: Store, rng: TimeRange, *, namespace: str | None = None) -> Overview:
    params = CheckParams(range=rng, namespace=namespace, limit=FINDINGS_PER_CHECK)
    merged: dict[tuple[str, str, str, str], FindingRow] = {}
    truncated = []
    changes: list[ChangeRow] = []
    names = [name for name in CHECKS if name not in _PER_OBJECT]
    # The checks and the histogram are independent queries, each mostly time in the
    # store (SQLite releases the GIL; OpenSearch is a request): run side by side, the
    # page takes as long as its slowest query, not their sum (at 1,000,000 events over
    # 24 h: 1.7 s one after the other, bench/ui.py).
    with ThreadPoolExecutor(max_workers=QUERY_THREADS, thread_name_prefix="ui-overview") as pool:
        counts = pool.submit(bucket_counts, store, rng)
        reports = [(name, pool.submit(run_check, store, name, params)) for name in names]
        done = [(name, future.result()) for name, future in reports]
        bars = counts.result()
    for name, report in done:
        if report.truncated:
            truncated.append(name)
        if name == CHANGES_CHECK:
            changes = change_rows(report.findings)
            continue
        for finding in report.findings:
            row = finding_row(finding, name)
            key = (row.kind, row.namespace, row.name, row.issue)
            seen = merged.get(key)
            # two checks may report one issue (OOMKilled: pods and resource limits): once
            merged[key] = row if seen is None else replace(seen, checks=[*seen.checks, name])
    by_severity: dict[str, list[FindingRow]] = {s: [] for s in SEVERITIES}
    for row in merged.values():
        by_severity.setdefault(row.severity, []).append(row)
    for rows in by_severity.values():
        rows.sort(key=lambda r: (r.last_seen, r.namespace, r.name), reverse=True)
    return Overview(
        findings=by_severity,
        changes=changes[:CHANGES_LISTED],
        histogram=histogram(bars),
        truncated=truncated,
    )


def finding_row(finding: Finding, check: str) -> FindingRow:
    obj = finding.object
    return FindingRow(
        severity=finding.severity,
        issue=finding.issue,
        kind=obj.kind,
        namespace=obj.namespace,
        name=obj.name,
        url=kind_object_url(obj.kind, obj.namespace, obj.name),
        message=finding.message,
        count=finding.count,
        first_seen=finding.first_seen,
        last_seen=finding.last_seen,
        checks=[check],
    )


def change_rows(findings: list[Finding]) -> list[ChangeRow]:
    """Each change of each changed object (``analyze_recent_changes`` evidence), newest
    first."""
    rows = []
    for finding in findings:
        obj = finding.object
        for change in finding.evidence.get("changes") or []:
            rows.append(
                ChangeRow(
                    time=str(change.get("time") or finding.last_seen),
                    verb=str(change.get("verb") or ""),
                    kind=obj.kind,
                    namespace=obj.namespace,
                    name=obj.name,
                    url=kind_object_url(obj.kind, obj.namespace, obj.name),
                    by=str(change.get("by") or ""),
                    paths=[str(p) for p in change.get("changedPaths") or []],
                    highlights=[str(h) for h in change.get("highlights") or []],
                )
            )
    rows.sort(key=lambda r: r.time, reverse=True)
    return rows
