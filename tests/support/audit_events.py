"""Audit events as kube-apiserver v1.34 writes them (``--audit-log-path``, one per line; and
as the items of the webhook's ``EventList``, which carry no ``kind``/``apiVersion`` of their
own). The shapes were copied from events of the real API server ``scripts/kube-apiserver
start --audit`` runs: a RequestResponse patch, a Metadata update (whose
``objectRef.resourceVersion`` is the version it replaced), a delete answered with a
``Status``, an impersonated request, a refused one."""

from __future__ import annotations

import copy
from typing import Any

SA_GROUPS = ["system:serviceaccounts", "system:serviceaccounts:shop", "system:authenticated"]


def audit_event(
    *,
    audit_id: str,
    verb: str,
    resource: str,
    name: str,
    namespace: str = "shop",
    api_group: str = "",
    user: str = "system:serviceaccount:shop:alice",
    at: str = "2026-11-25T04:00:01.000000Z",
    level: str = "Metadata",
    code: int = 200,
    subresource: str = "",
    written: dict[str, Any] | None = None,
    request: dict[str, Any] | None = None,
    replaced_version: str = "",
    uid: str = "",
    impersonated: str = "",
    stage: str = "ResponseComplete",
) -> dict[str, Any]:
    """One event. ``written``: the response body (RequestResponse level), the object as
    written; ``replaced_version``/``uid``: what an update's request body gave
    ``objectRef``."""
    ref: dict[str, Any] = {"resource": resource, "namespace": namespace, "name": name}
    if api_group:
        ref["apiGroup"] = api_group
    ref["apiVersion"] = "v1"
    if subresource:
        ref["subresource"] = subresource
    if uid:
        ref["uid"] = uid
    if replaced_version:
        ref["resourceVersion"] = replaced_version
    event: dict[str, Any] = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": level,
        "auditID": audit_id,
        "stage": stage,
        "requestURI": f"/api/v1/namespaces/{namespace}/{resource}/{name}",
        "verb": verb,
        "user": {
            "username": user,
            "uid": "392c605f-0905-4073-a5c3-2d6603fafa4b",
            "groups": SA_GROUPS,
            "extra": {"authentication.kubernetes.io/credential-id": ["JTI=42c681e7"]},
        },
        "sourceIPs": ["127.0.0.1"],
        "userAgent": "kubectl/v0.0.0 (linux/amd64) kubernetes/$Format",
        "objectRef": ref,
        "responseStatus": {"metadata": {}, "code": code},
        "requestReceivedTimestamp": at,
        "stageTimestamp": at,
        "annotations": {"authorization.k8s.io/decision": "allow"},
    }
    if impersonated:
        event["impersonatedUser"] = {"username": impersonated, "groups": SA_GROUPS}
    if code >= 400:
        event["responseStatus"].update(
            {"status": "Failure", "reason": "Forbidden", "message": f"{resource} is forbidden"}
        )
    if level == "RequestResponse":
        if request is not None:
            event["requestObject"] = copy.deepcopy(request)
        if written is not None:
            event["responseObject"] = copy.deepcopy(written)
    return event


def deleted_status(event: dict[str, Any], uid: str) -> dict[str, Any]:
    """``event`` as a delete is answered: a ``Status`` naming the object's uid."""
    ref = event["objectRef"]
    details = {"name": ref["name"], "kind": ref["resource"], "uid": uid}
    event["responseStatus"] = {"metadata": {}, "status": "Success", "details": details, "code": 200}
    if event["level"] == "RequestResponse":
        event["responseObject"] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": details,
        }
    return event


def event_list(*events: dict[str, Any]) -> dict[str, Any]:
    """The webhook backend's body: items without their own kind and apiVersion."""
    items = []
    for e in events:
        item = {k: v for k, v in e.items() if k not in ("kind", "apiVersion")}
        items.append(item)
    return {"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": {}, "items": items}
