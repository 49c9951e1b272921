"""Building blocks every check uses: the store queries (always aggregations) and
the shaping of their buckets into findings."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from kubetrail.diagnostics.model import (
    CheckParams,
    Finding,
    ObjectRef,
    RelatedEvent,
    Report,
    Severity,
)
from kubetrail.store.base import AggregateQuery, Bucket, EventFilter, Store

#: How many groups one aggregation may return before a check says it is truncated.
GROUP_CAP = 2000
MESSAGE_CAP = 300


def latest_doc(b: Bucket) -> Mapping[str, Any]:
    """The bucket's newest document (an empty mapping when it was not fetched)."""
    return b.latest if b.latest is not None else {}


def latest_object(b: Bucket) -> dict[str, Any]:
    """The newest document's object snapshot (``{}`` when there is none)."""
    obj = b.latest.get("objectChanges") if b.latest is not None else None
    return obj if isinstance(obj, dict) else {}


def latest_uid(b: Bucket) -> str:
    return str(b.latest.get("uid") or "") if b.latest is not None else ""


def base_filter(params: CheckParams, **kw: Any) -> EventFilter:
    ns = (params.namespace,) if params.namespace is not None else ()
    return EventFilter(start=params.range.start, end=params.range.end, namespace=ns, **kw)


def event_filter(params: CheckParams, **kw: Any) -> EventFilter:
    """Kubernetes Events in range; the namespace is the involved object's."""
    ns = (params.namespace,) if params.namespace is not None else ()
    return EventFilter(
        start=params.range.start,
        end=params.range.end,
        resource_type=("events",),
        involved_namespace=ns,
        **kw,
    )


def aggregate(
    store: Store,
    flt: EventFilter,
    group_by: tuple[str, ...],
    *,
    order: str = "last",
    latest: bool = True,
    latest_id: bool = False,
) -> tuple[list[Bucket], bool]:
    result = store.aggregate(
        AggregateQuery(
            filter=flt,
            group_by=group_by,
            order=order,  # type: ignore[arg-type]
            limit=GROUP_CAP,
            latest=latest,
            latest_id=latest_id,
        )
    )
    return result.buckets, result.truncated


def one_line(text: Any) -> str:
    line = " ".join(str(text or "").split())
    return line if len(line) <= MESSAGE_CAP else line[: MESSAGE_CAP - 1] + "…"


def related_events_by_object(
    store: Store,
    params: CheckParams,
    *,
    kinds: tuple[str, ...],
    reasons: tuple[str, ...] = (),
    warnings_only: bool = False,
    about: list[Finding] | None = None,
) -> dict[tuple[str, str], list[RelatedEvent]]:
    """(namespace, name) → the newest version of each Event about it, newest first.

    ``about`` narrows the query to those findings' objects (the store then reads
    them through its involved-object index instead of every Event in the range)."""
    flt = event_filter(
        params,
        involved_kind=kinds,
        reason=reasons,
        event_type=("Warning",) if warnings_only else (),
    )
    if about is not None:
        if not about:
            return {}
        flt = replace(
            flt,
            involved_namespace=tuple(sorted({f.object.namespace for f in about})),
            involved_name=tuple(sorted({f.object.name for f in about})),
        )
    buckets, _ = aggregate(
        store, flt, ("involvedObject.namespace", "involvedObject.name", "reason"), order="last"
    )
    out: dict[tuple[str, str], list[RelatedEvent]] = defaultdict(list)
    for b in buckets:
        doc = latest_doc(b)
        obj = latest_object(b)
        out[(b.key["involvedObject.namespace"], b.key["involvedObject.name"])].append(
            RelatedEvent(
                reason=b.key["reason"],
                type=str(doc.get("eventType") or ""),
                message=one_line(obj.get("message") or obj.get("note")),
                count=int(doc.get("count") or b.count),
                last_seen=b.last_seen,
            )
        )
    return out


def event_findings(
    store: Store,
    params: CheckParams,
    *,
    kinds: tuple[str, ...],
    reasons: dict[str, tuple[str, Severity]],
    message_filter: Any = None,
) -> list[Finding]:
    """One finding per (object, Event reason) for the given reasons → (issue, severity)."""
    flt = event_filter(params, involved_kind=kinds, reason=tuple(reasons))
    buckets, _ = aggregate(
        store,
        flt,
        ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "reason"),
    )
    findings = []
    for b in buckets:
        doc = latest_doc(b)
        obj = latest_object(b)
        message = one_line(obj.get("message") or obj.get("note"))
        if message_filter is not None and not message_filter(b.key["reason"], message):
            continue
        issue, severity = reasons[b.key["reason"]]
        involved = doc.get("involvedObject") or {}
        findings.append(
            Finding(
                object=ObjectRef(
                    kind=b.key["involvedObject.kind"],
                    namespace=b.key["involvedObject.namespace"],
                    name=b.key["involvedObject.name"],
                    uid=str(involved.get("uid") or ""),
                ),
                issue=issue,
                severity=severity,
                count=int(doc.get("count") or b.count),
                first_seen=b.first_seen,
                last_seen=b.last_seen,
                message=message,
                evidence={"eventReason": b.key["reason"]},
            )
        )
    return findings


_SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}


def report(
    check: str,
    params: CheckParams,
    findings: Iterable[Finding],
    *,
    notes: list[str] | None = None,
    truncated: bool = False,
    conclusion: str | None = None,
) -> Report:
    """Order findings (severity, most recent), count issues, cut at ``limit``."""
    ordered = ranked(findings)
    summary: dict[str, int] = defaultdict(int)
    for f in ordered:
        summary[f.issue] += 1
    notes = list(notes or [])
    if truncated:
        # A store aggregation stopped at GROUP_CAP groups: the counts are a lower bound.
        notes.append(
            f"more than {GROUP_CAP} affected objects in this range: the summary counts only "
            "the first ones; narrow it with namespace= or a shorter time window"
        )
    return Report(
        check=check,
        range=params.range,
        namespace=params.namespace,
        findings=ordered[: params.limit],
        total_findings=len(ordered),
        truncated=truncated or len(ordered) > params.limit,
        summary=dict(sorted(summary.items(), key=lambda kv: (-kv[1], kv[0]))),
        notes=notes,
        conclusion=conclusion,
    )


def ranked(findings: Iterable[Finding]) -> list[Finding]:
    """Most severe first, then most recently seen: the order reports show."""
    return sorted(
        findings,
        key=lambda f: (
            _SEVERITY_RANK[f.severity],
            _neg(f.last_seen),
            f.object.namespace,
            f.object.name,
            f.issue,
        ),
    )


def _neg(rfc3339: str) -> tuple[int, ...]:
    """Sort key putting the newest time first (RFC3339 strings of one format)."""
    return tuple(-ord(c) for c in rfc3339)


def attach_related_events(
    store: Store,
    params: CheckParams,
    findings: list[Finding],
    *,
    kinds: tuple[str, ...],
    reasons: tuple[str, ...] = (),
    warnings_only: bool = False,
) -> None:
    """Related Events for the findings the report will show (the first ``limit``)."""
    shown = ranked(findings)[: params.limit]
    events = related_events_by_object(
        store, params, kinds=kinds, reasons=reasons, warnings_only=warnings_only, about=shown
    )
    attach_events(shown, events)


def attach_events(
    findings: list[Finding], events: dict[tuple[str, str], list[RelatedEvent]], *, cap: int = 5
) -> None:
    for f in findings:
        f.related_events = events.get((f.object.namespace, f.object.name), [])[:cap]
