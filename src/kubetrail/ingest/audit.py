"""What an audit value of an input file means: the writes it records, as audit records.

``kubetrail ingest`` takes the API server's audit log (``--audit-log-path``: one
``audit.k8s.io/v1`` ``Event`` per line, also as a cloud provider's logging exports it,
e.g. EKS to CloudWatch) in the same files and streams as watch events, recognised value by
value: an ``Event`` of that API version is an audit event, an ``EventList`` (a saved
webhook batch) is its items. Each becomes an :class:`~kubetrail.events.audit.AuditRecord`
or nothing (a read, a failed request: no change to join), see
:func:`~kubetrail.events.audit.audit_record`; a malformed one is rejected with the reason,
never with content of the event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubetrail.events.audit import (
    AuditError,
    AuditRecord,
    audit_items,
    audit_record,
    is_audit_event,
    is_audit_list,
)
from kubetrail.ingest.reader import Record


def is_audit_value(value: Mapping[str, Any]) -> bool:
    """An audit ``Event`` or ``EventList`` (not a watch event, document or object)."""
    return is_audit_event(value) or is_audit_list(value)


def audit_records_of(rec: Record) -> tuple[list[AuditRecord], int] | str:
    """The records of one audit value and how many events it held (an event without a
    record recorded no change), or the one-line rejection (``file:line: reason``)."""
    try:
        value = rec.value
        events = len(audit_items(value)) if is_audit_list(value) else 1
        return audit_records(value), events
    except AuditError as exc:
        return f"{rec.location}: {exc}"
    except Exception as exc:  # a bug of ours must cost this value, not the rest of the file
        return f"{rec.location}: cannot be read ({type(exc).__name__}; please report it)"


def audit_records(value: Mapping[str, Any]) -> list[AuditRecord]:
    """The records of an ``Event`` or an ``EventList``; :class:`AuditError` names the first
    malformed event (by its position in the list)."""
    if is_audit_event(value):
        record = audit_record(value)
        return [record] if record is not None else []
    out: list[AuditRecord] = []
    for i, item in enumerate(audit_items(value), 1):
        if not isinstance(item, Mapping):
            raise AuditError(f"EventList item {i} is not a JSON object")
        try:
            record = audit_record(item, in_list=True)
        except AuditError as exc:
            raise AuditError(f"EventList item {i}: {exc}") from None
        if record is not None:
            out.append(record)
    return out
