"""``check_volume_issues``: PVCs Pending or Lost (and why: a missing StorageClass,
a failed provisioner, no matching volume), failed PVs, mount/attach/resize
failures, and pods stuck on claims that are not bound."""

from __future__ import annotations

import re

from kubetrail.diagnostics.common import (
    aggregate,
    attach_related_events,
    base_filter,
    event_findings,
    latest_object,
    latest_uid,
    report,
)
from kubetrail.diagnostics.model import CheckParams, Finding, ObjectRef, Report, Severity
from kubetrail.store.base import Store

_MISSING_CLASS = re.compile(r'storageclass\.storage\.k8s\.io "([^"]+)" not found', re.I)
_UNBOUND = re.compile(
    r"unbound (immediate )?PersistentVolumeClaims|persistentvolumeclaim \"[^\"]+\" not found", re.I
)

_VOLUME_EVENTS: dict[str, tuple[str, Severity]] = {
    "ProvisioningFailed": ("ProvisioningFailed", "critical"),
    "FailedBinding": ("FailedBinding", "warning"),
    "FailedMount": ("FailedMount", "critical"),
    "FailedAttachVolume": ("FailedAttachVolume", "critical"),
    "FailedMapVolume": ("FailedMapVolume", "warning"),
    "VolumeResizeFailed": ("VolumeResizeFailed", "warning"),
    "FileSystemResizeFailed": ("FileSystemResizeFailed", "warning"),
    "VolumeFailedDelete": ("VolumeFailedDelete", "warning"),
}


def check_volume_issues(store: Store, params: CheckParams) -> Report:
    findings: list[Finding] = []
    flt = base_filter(
        params,
        resource_type=("persistentvolumeclaims", "persistentvolumes"),
        signal=("pvc.*", "pv.*"),
    )
    buckets, truncated = aggregate(store, flt, ("kind", "namespace", "resourceName", "signal"))
    for b in buckets:
        obj = latest_object(b)
        spec = obj.get("spec") or {}
        phase = b.key["signal"].partition(":")[2]
        evidence = {
            "phase": phase,
            "storageClassName": spec.get("storageClassName"),
            "requested": ((spec.get("resources") or {}).get("requests") or {}).get("storage"),
            "volumeName": spec.get("volumeName"),
        }
        findings.append(
            Finding(
                object=ObjectRef(
                    kind=b.key["kind"],
                    namespace=b.key["namespace"],
                    name=b.key["resourceName"],
                    uid=latest_uid(b),
                ),
                issue=f"{phase}",
                severity="critical" if phase in ("Lost", "Failed") else "warning",
                count=b.count,
                first_seen=b.first_seen,
                last_seen=b.last_seen,
                message=f"{b.key['kind']} is {phase}"
                + (
                    f" (storageClassName {spec['storageClassName']})"
                    if spec.get("storageClassName")
                    else ""
                ),
                evidence={k: v for k, v in evidence.items() if v},
            )
        )
    events = event_findings(
        store,
        params,
        kinds=("PersistentVolumeClaim", "PersistentVolume", "Pod"),
        reasons=_VOLUME_EVENTS,
    )
    for f in events:
        missing = _MISSING_CLASS.search(f.message)
        if missing:
            f.evidence["missingStorageClass"] = missing.group(1)
    findings.extend(events)
    # explain the Pending claims with their provisioning failures
    causes = {
        (f.object.namespace, f.object.name): f
        for f in events
        if f.object.kind == "PersistentVolumeClaim"
    }
    for f in findings:
        cause = causes.get((f.object.namespace, f.object.name))
        if f.issue == "Pending" and cause is not None:
            f.message = f"{f.message}: {cause.message}"
            if "missingStorageClass" in cause.evidence:
                f.evidence["missingStorageClass"] = cause.evidence["missingStorageClass"]
    findings.extend(
        event_findings(
            store,
            params,
            kinds=("Pod",),
            reasons={"FailedScheduling": ("PodWaitingForClaim", "warning")},
            message_filter=lambda reason, msg: bool(_UNBOUND.search(msg)),
        )
    )
    attach_related_events(
        store,
        params,
        findings,
        kinds=("PersistentVolumeClaim", "PersistentVolume", "Pod"),
        reasons=(*_VOLUME_EVENTS, "FailedScheduling"),
    )
    return report("check_volume_issues", params, findings, truncated=truncated)
