"""Object metadata, references between objects, and what ``kubectl apply`` leaves.

:func:`object_meta` is the ``metadata`` every builder starts from (uid from the
simulation, ``resourceVersion`` left for the watch log to assign);
:func:`applied_manifest` is the ``kubectl.kubernetes.io/last-applied-configuration``
annotation that kubectl and argocd write.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from kubetrail.demo.primitives import Obj, compact_json, ts
from kubetrail.demo.simulation import Sim

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def object_meta(
    sim: Sim,
    kind: str,
    name: str,
    namespace: str,
    created: datetime,
    *,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    owner: Obj | None = None,
    generate_name: str | None = None,
    generation: int | None = None,
    finalizers: list[str] | None = None,
) -> Obj:
    """The ``metadata`` of a new object; ``resourceVersion`` is set by the watch log."""
    meta: Obj = {"name": name}
    if generate_name:
        meta["generateName"] = generate_name
    if namespace:
        meta["namespace"] = namespace
    meta["uid"] = sim.uid(kind, namespace, name)
    meta["resourceVersion"] = ""  # assigned in stream order
    if generation is not None:
        meta["generation"] = generation
    meta["creationTimestamp"] = ts(created)
    if labels:
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    if owner is not None:
        meta["ownerReferences"] = [owner_ref(owner)]
    if finalizers:
        meta["finalizers"] = list(finalizers)
    meta["managedFields"] = []
    return meta


def owner_ref(owner: Obj) -> Obj:
    """An ``ownerReferences`` entry naming ``owner`` as the controller."""
    return {
        "apiVersion": owner["apiVersion"],
        "blockOwnerDeletion": True,
        "controller": True,
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
    }


def object_ref(obj: Obj, field_path: str | None = None) -> Obj:
    """An ObjectReference to ``obj`` (an Event's ``involvedObject``)."""
    ref = {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
    }
    if obj["metadata"].get("namespace"):
        ref["namespace"] = obj["metadata"]["namespace"]
    if field_path:
        ref["fieldPath"] = field_path
    return ref


def applied_manifest(obj: Obj, **body: Any) -> str:
    """The last-applied annotation ``kubectl apply`` (and argocd) stores: the manifest."""
    meta = obj["metadata"]
    manifest: Obj = {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "metadata": {"annotations": {}, "name": meta["name"]},
    }
    if meta.get("namespace"):
        manifest["metadata"]["namespace"] = meta["namespace"]
    if meta.get("labels"):
        manifest["metadata"]["labels"] = meta["labels"]
    manifest.update(body)
    return compact_json(manifest)


def helm_annotations(release: str, namespace: str) -> dict[str, str]:
    return {"meta.helm.sh/release-name": release, "meta.helm.sh/release-namespace": namespace}
