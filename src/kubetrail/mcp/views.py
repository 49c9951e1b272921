"""What a model reads: compact documents, capped lists and short text summaries.

A stored document carries the whole object; a pod's history is dozens of them.
Tools therefore return compact views (who, what, when, signals, changed paths,
the Event message) and cap every list, saying how many more there are and how
to narrow the question. Nothing here adds data: documents are redacted by the
store before anything reads them, and the compact views only drop fields.
"""

from __future__ import annotations

from typing import Any

#: findings listed in a tool's text summary (the structured report has up to ``limit``)
TEXT_FINDINGS = 10
#: related Kubernetes Events kept per finding
RELATED_PER_FINDING = 5
#: versions kept by get_object_history (the newest)
HISTORY_VERSIONS = 40
CHANGED_PATHS_PER_VERSION = 25
RELATED_EVENTS = 40
NARROW = "narrow with namespace= or a shorter time_window"

_EVENT_FIELDS = (
    "timestamp",
    "verb",
    "namespace",
    "resourceType",
    "resourceName",
    "kind",
    "signals",
    "fieldManager",
    "user",
    "snapshot",
    "message",
)


def compact_event(doc: dict[str, Any], *, include_object: bool = False) -> dict[str, Any]:
    """One stored document without its object (unless asked for)."""
    out = {k: doc[k] for k in _EVENT_FIELDS if doc.get(k) not in (None, "", [])}
    if doc.get("involvedObject"):
        out["involvedObject"] = doc["involvedObject"]
        for key in ("reason", "eventType", "count"):
            if doc.get(key) not in (None, ""):
                out[key] = doc[key]
        obj = doc.get("objectChanges") or {}
        note = obj.get("message") or obj.get("note")
        if note:
            out["eventMessage"] = note
    if include_object:
        out["objectChanges"] = without_managed_fields(doc.get("objectChanges"))
    return out


def without_managed_fields(obj: Any) -> Any:
    """The object without ``metadata.managedFields`` (bulky, and said by fieldManager)."""
    if not isinstance(obj, dict) or not isinstance(obj.get("metadata"), dict):
        return obj
    meta = {k: v for k, v in obj["metadata"].items() if k != "managedFields"}
    return {**obj, "metadata": meta}


def compact_related(doc: dict[str, Any]) -> dict[str, Any]:
    obj = doc.get("objectChanges") or {}
    return {
        "reason": doc.get("reason") or obj.get("reason"),
        "type": doc.get("eventType") or obj.get("type"),
        "message": obj.get("message") or obj.get("note") or doc.get("message"),
        "count": doc.get("count") or obj.get("count") or 1,
        "lastSeen": doc.get("timestamp"),
    }


def compact_history(raw: dict[str, Any]) -> dict[str, Any]:
    """An object's history: the newest versions with changed paths, the latest object,
    the Kubernetes Events about it."""
    versions = list(raw.get("history") or [])
    # a node posts its status every few seconds: versions that only moved heartbeat
    # times say nothing and would push the real transitions out of the window
    meaningful = [d for d in versions if not _heartbeat_only(d)]
    heartbeats = len(versions) - len(meaningful)
    omitted = max(0, len(meaningful) - HISTORY_VERSIONS)
    shown = meaningful[omitted:]
    compact_versions = []
    for doc in shown:
        v = {
            k: doc[k]
            for k in (
                "timestamp",
                "verb",
                "resourceVersion",
                "fieldManager",
                "user",
                "snapshot",
                "signals",
            )
            if doc.get(k) not in (None, "", [])
        }
        paths = list(doc.get("changedPaths") or [])
        if paths:
            v["changedPaths"] = paths[:CHANGED_PATHS_PER_VERSION]
            if len(paths) > CHANGED_PATHS_PER_VERSION:
                v["moreChangedPaths"] = len(paths) - CHANGED_PATHS_PER_VERSION
        compact_versions.append(v)
    related = [compact_related(d) for d in raw.get("relatedEvents") or []]
    related.sort(key=lambda e: e.get("lastSeen") or "", reverse=True)
    latest = versions[-1] if versions else {}
    return {
        "namespace": raw.get("namespace"),
        "resourceType": raw.get("resourceType"),
        "name": raw.get("name"),
        "kind": latest.get("kind"),
        "versions": compact_versions,
        "totalVersions": len(versions),
        "omittedVersions": omitted,
        "heartbeatOnlyVersions": heartbeats,
        "latest": without_managed_fields(latest.get("objectChanges")),
        "relatedEvents": related[:RELATED_EVENTS],
        "omittedRelatedEvents": max(0, len(related) - RELATED_EVENTS),
        "truncated": bool(raw.get("truncated")) or omitted > 0,
    }


_HEARTBEAT_SUFFIXES = (".lastHeartbeatTime", ".lastProbeTime", ".lastUpdateTime")


def _heartbeat_only(doc: dict[str, Any]) -> bool:
    paths = doc.get("changedPaths") or []
    return (
        doc.get("verb") == "update"
        and bool(paths)
        and all(p.endswith(_HEARTBEAT_SUFFIXES) for p in paths)
    )


def cap_report(report: dict[str, Any]) -> dict[str, Any]:
    """Keep a report small: at most :data:`RELATED_PER_FINDING` Events per finding."""
    for finding in report.get("findings") or []:
        related = finding.get("relatedEvents") or []
        if len(related) > RELATED_PER_FINDING:
            finding["relatedEvents"] = related[:RELATED_PER_FINDING]
            finding["omittedRelatedEvents"] = len(related) - RELATED_PER_FINDING
    return report


def _obj(ref: dict[str, Any]) -> str:
    ns = ref.get("namespace")
    return f"{ref.get('kind', '?')} {ns + '/' if ns else ''}{ref.get('name', '?')}"


def _evidence(evidence: dict[str, Any]) -> str:
    parts = []
    for key, value in list(evidence.items())[:6]:
        if isinstance(value, dict | list):
            continue
        text = str(value)
        parts.append(f"{key}={text if len(text) <= 80 else text[:77] + '...'}")
    return ", ".join(parts)


def report_text(report: dict[str, Any], *, title: str | None = None) -> str:
    """A few readable lines: what was looked at, counts by issue, the top findings."""
    rng = report.get("range") or {}
    where = f"namespace {report['namespace']}" if report.get("namespace") else "all namespaces"
    total = report.get("totalFindings", len(report.get("findings") or []))
    lines = [
        f"{title or report.get('check')}: {total} finding{'s' if total != 1 else ''} in "
        f"{where}, {rng.get('start')} → {rng.get('end')}"
    ]
    summary = report.get("summary") or {}
    if summary:
        lines.append(
            "By issue (objects): " + ", ".join(f"{issue} {n}" for issue, n in summary.items())
        )
    findings = report.get("findings") or []
    for f in findings[:TEXT_FINDINGS]:
        seen = f"{f.get('count', 0)} events, {f.get('firstSeen')} → {f.get('lastSeen')}"
        line = f"- [{f.get('severity')}] {f.get('issue')}: {_obj(f.get('object') or {})} ({seen})"
        if f.get("message"):
            line += f": {f['message']}"
        evidence = _evidence(f.get("evidence") or {})
        if evidence:
            line += f" [{evidence}]"
        lines.append(line)
    more = total - min(len(findings), TEXT_FINDINGS)
    if more > 0:
        listed = min(len(findings), TEXT_FINDINGS)
        in_report = len(findings) - listed
        detail = f" ({in_report} of them in the structured report)" if in_report else ""
        lines.append(f"{more} more findings not listed here{detail}; {NARROW}.")
    if report.get("conclusion"):
        lines.append(f"Conclusion: {report['conclusion']}")
    for note in report.get("notes") or []:
        lines.append(f"Note: {note}")
    if not findings and not report.get("conclusion"):
        lines.append("No issues of this kind were recorded in that range.")
    return "\n".join(lines)


def events_text(events: list[dict[str, Any]], *, header: str, more: bool) -> str:
    lines = [header]
    for e in events[:50]:
        ns = e.get("namespace")
        obj = f"{e.get('kind', '?')} {ns + '/' if ns else ''}{e.get('resourceName', '?')}"
        text = e.get("eventMessage") or e.get("message") or ""
        signals = ",".join(e.get("signals") or [])
        reason = f" {e['reason']}" if e.get("reason") else ""
        lines.append(
            f"- {e.get('timestamp')} {e.get('verb')} {obj}{reason}"
            f"{' [' + signals + ']' if signals else ''}: {text}"
        )
    if len(events) > 50:
        lines.append(f"... {len(events) - 50} more in the structured result")
    if more:
        lines.append("More events match: pass next_cursor as cursor, or narrow the filters.")
    return "\n".join(lines)


def history_text(h: dict[str, Any]) -> str:
    ns = h.get("namespace")
    where = f"{ns}/" if ns and ns != "_" else ""
    lines = [
        f"{h.get('kind') or h.get('resourceType')} {where}{h.get('name')}: "
        f"{h.get('totalVersions')} stored versions, {len(h.get('relatedEvents') or [])} "
        "related Kubernetes Events"
    ]
    if h.get("heartbeatOnlyVersions"):
        lines.append(
            f"({h['heartbeatOnlyVersions']} versions that only refreshed heartbeat times are "
            "not listed)"
        )
    if h.get("omittedVersions"):
        lines.append(f"(the {h['omittedVersions']} oldest versions are not shown)")
    for v in h.get("versions") or []:
        changed = v.get("changedPaths") or []
        paths = ", ".join(changed[:8])
        if len(changed) > 8 or v.get("moreChangedPaths"):
            paths += f" (+{len(changed) - 8 + v.get('moreChangedPaths', 0)} more)"
        signals = ",".join(v.get("signals") or [])
        who = v.get("fieldManager") or v.get("user") or ""
        line = f"- {v.get('timestamp')} {v.get('verb')}{' (snapshot)' if v.get('snapshot') else ''}"
        line += f" by {who}" if who else ""
        line += f": {paths}" if paths else ""
        line += f" [{signals}]" if signals else ""
        lines.append(line)
    if h.get("relatedEvents"):
        lines.append("Kubernetes Events (newest first):")
        for e in h["relatedEvents"][:15]:
            lines.append(
                f"- {e.get('lastSeen')} {e.get('type')} {e.get('reason')} x{e.get('count')}: "
                f"{e.get('message')}"
            )
    return "\n".join(lines)
