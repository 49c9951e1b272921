"""What a model reads: compact documents, capped lists and short text summaries.

A stored document carries the whole object; a pod's history is dozens of them.
Tools therefore return compact views (who, what, when, signals, changed paths,
the Event message) and cap every list, saying how many more there are and how
to narrow the question. Nothing here adds data: documents are redacted by the
store before anything reads them, and the compact views only drop fields.
"""

from __future__ import annotations

from typing import Any

from kubetrail.events.diff import ABSENT, Change, render
from kubetrail.mcp.paging import paging_text
from kubetrail.queries.history_view import heartbeat_only, related_event, version_changes

#: findings listed in a tool's text summary (the structured report has up to ``limit``)
TEXT_FINDINGS = 10
#: related Kubernetes Events kept per finding
RELATED_PER_FINDING = 5
#: versions kept by get_object_history (the newest)
HISTORY_VERSIONS = 25
CHANGED_PATHS_PER_VERSION = 15
#: characters of a value shown before and after a change
VALUE_CHARS = 120
RELATED_EVENTS = 40
NARROW = "narrow with namespace= or a shorter time_window"
#: what a history's text lists: the newest versions, changes per version, Events
TEXT_VERSIONS = 15
TEXT_CHANGES = 6
TEXT_RELATED = 15

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
    "userSource",
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
    return related_event(doc)


def compact_history(raw: dict[str, Any]) -> dict[str, Any]:
    """An object's history (the API's ``full=true`` form): the newest versions with what
    changed (``path: before → after``), the latest object, the Kubernetes Events about it."""
    docs = list(raw.get("history") or [])
    versions = version_changes(
        docs, changes_per_version=CHANGED_PATHS_PER_VERSION, value_chars=VALUE_CHARS
    )
    # a node posts its status every few seconds: versions that only moved heartbeat
    # times say nothing and would push the real transitions out of the window
    meaningful = [v for v in versions if not heartbeat_only(v)]
    heartbeats = len(versions) - len(meaningful)
    omitted = max(0, len(meaningful) - HISTORY_VERSIONS)
    compact_versions = []
    for v in meaningful[omitted:]:
        out = {k: val for k, val in v.items() if k not in ("changes", "uid")}
        if v.get("changes"):
            out["changes"] = [render_change(c) for c in v["changes"]]
        compact_versions.append(out)
    related = [related_event(d) for d in raw.get("relatedEvents") or []]
    related.sort(key=lambda e: e.get("lastSeen") or "", reverse=True)
    latest = docs[-1] if docs else {}
    return {
        "namespace": raw.get("namespace"),
        "resourceType": raw.get("resourceType"),
        "name": raw.get("name"),
        "kind": latest.get("kind"),
        "versions": compact_versions,
        "totalVersions": len(docs),
        "omittedVersions": omitted,
        "heartbeatOnlyVersions": heartbeats,
        "latest": without_managed_fields(latest.get("objectChanges")),
        "relatedEvents": related[:RELATED_EVENTS],
        "omittedRelatedEvents": max(0, len(related) - RELATED_EVENTS),
        "truncated": bool(raw.get("truncated")) or omitted > 0,
        "moreStored": bool(raw.get("truncated")),
    }


def render_change(change: dict[str, Any]) -> str:
    """A change of the history view (``{"path", "before", "after"}``) as one line."""
    return render(
        Change(change["path"], change.get("before", ABSENT), change.get("after", ABSENT)),
        max_chars=VALUE_CHARS,
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
    listed = min(len(findings), TEXT_FINDINGS)
    if report.get("paging"):
        if listed < len(findings):
            lines.append(
                f"(the first {listed} here; the structured result has all {len(findings)})"
            )
        lines.append(paging_text(report["paging"]))
    elif total > listed:
        in_report = len(findings) - listed
        detail = f" ({in_report} of them in the structured report)" if in_report else ""
        lines.append(f"{total - listed} more findings not listed here{detail}; {NARROW}.")
    if report.get("conclusion"):
        lines.append(f"Conclusion: {report['conclusion']}")
    for note in report.get("notes") or []:
        lines.append(f"Note: {note}")
    if not findings and not report.get("conclusion"):
        lines.append("No issues of this kind were recorded in that range.")
    return "\n".join(lines)


def events_text(
    events: list[dict[str, Any]],
    *,
    header: str,
    more: bool,
    page: dict[str, Any] | None = None,
) -> str:
    """A line per event (the first 50), then the paging statement (``page``)."""
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
    if page:
        lines.append(paging_text(page))
    elif more:
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
    versions = h.get("versions") or []
    if len(versions) > TEXT_VERSIONS:
        lines.append(
            f"(the newest {TEXT_VERSIONS} here; the structured result has {len(versions)})"
        )
    for v in versions[-TEXT_VERSIONS:]:
        signals = ",".join(v.get("signals") or [])
        who = " and ".join(dict.fromkeys(w for w in (v.get("user"), v.get("fieldManager")) if w))
        line = f"- {v.get('timestamp')} {v.get('verb')}{' (snapshot)' if v.get('snapshot') else ''}"
        line += f" by {who}" if who else ""
        line += f" [{signals}]" if signals else ""
        changes = v.get("changes") or []
        more = len(changes) - TEXT_CHANGES + int(v.get("moreChanges") or 0)
        lines.append(line + (":" if changes else ""))
        lines.extend(f"    {c}" for c in changes[:TEXT_CHANGES])
        if more > 0:
            lines.append(f"    (+{more} more changes)")
    if h.get("relatedEvents"):
        lines.append("Kubernetes Events (newest first):")
        for e in h["relatedEvents"][:TEXT_RELATED]:
            lines.append(
                f"- {e.get('lastSeen')} {e.get('type')} {e.get('reason')} x{e.get('count')}: "
                f"{e.get('message')}"
            )
    if h.get("paging"):
        lines.append(paging_text(h["paging"]))
    return "\n".join(lines)
