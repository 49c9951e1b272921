"""The demo incident as writes to a live API server: what makes a real kube-apiserver go
through the history the simulation recorded, so that a real shipper watching it sees it.

:func:`generate_incident` is a watch recording: every version of every object, in order.
:func:`plan_writes` turns each recorded event into the requests that produce it on a server
where no kubelet, scheduler or controller runs (``scripts/kube-apiserver``): nothing but
these writes changes the objects, and statuses are written as those components write them.

- **ADDED**: a ``POST`` of the object without what the server assigns (uid,
  resourceVersion, timestamps, a Service's cluster IP and node ports, a Job's selector),
  then its ``status`` through the status subresource (a create ignores it).
- **MODIFIED**: a JSON merge patch of what changed since the recorded previous version,
  the object and its status apart (the status subresource is the only way to write a
  status; metadata goes with the status when the recorded writer used that subresource);
  a pod newly given a ``spec.nodeName`` is bound (the ``binding`` subresource, as the
  scheduler does); a newly set ``deletionTimestamp`` is a graceful ``DELETE``.
- **DELETED**: ``DELETE`` at once (finalizers the recording still shows are cleared
  first: no controller is there to clear them).

Who wrote each version: every write carries ``fieldManager`` (the recorded version's
newest ``managedFields`` writer: helm, argocd-controller, kubelet…; for a create, the
object's oldest writer of more than its status) and, in patches, the recorded
``managedFields`` themselves. The server keeps those entries and stamps the
writer's with its own clock, so the writer is the newest entry of the version the shipper
sees, even when two writers change one object within one second (entries are compared by
time in seconds, and a tie would be broken by name).

The recording's first events are the watch's opening list (objects created days before):
they are the ``setup`` phase, the rest the ``incident``; start a shipper between the two
and the cluster's past arrives as listing snapshots, the incident as changes.

Server-assigned uids are not known here: bodies carry the recording's uids (owner
references, involved objects, a Job's ``controller-uid``) and the player
(:mod:`kubetrail.demo.player`) swaps them for the server's as it learns them.

``prefix`` names every namespace and node of the demo ``<prefix>-<name>`` so that it can
be played again into the same server (namespaces cannot be deleted without a controller);
``default`` stays, as Events about cluster-scoped objects must live there.
Every Node the demo creates carries :data:`PLAYED_LABEL`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from kubetrail.demo.primitives import Obj
from kubetrail.events.normalize import newest_field_manager
from kubetrail.events.resources import plural_for_kind, request_uri, split_api_version

Phase = Literal["setup", "incident"]

#: The label on every Node the demo creates: a cluster whose nodes all carry it has no
#: kubelet of its own (see ``kubetrail demo --play-into``).
PLAYED_LABEL = "kubetrail.dev/demo"
MERGE_PATCH = "application/merge-patch+json"
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$")
_SERVER_METADATA = (
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
    "managedFields",
)
_JOB_UID_LABELS = ("controller-uid", "batch.kubernetes.io/controller-uid")
# keys whose value names a namespace, or a node, wherever they occur
_NAMESPACE_KEYS = frozenset(
    {"namespace", "kubernetes.io/metadata.name", "meta.helm.sh/release-namespace"}
)
_NODE_KEYS = frozenset({"nodeName", "host", "kubernetes.io/hostname", "reportingInstance"})


class InvalidPrefix(ValueError):
    """The prefix cannot start a namespace or node name."""


@dataclass(frozen=True, slots=True)
class Write:
    """One request. ``body`` holds the recording's uids (the player maps them)."""

    phase: Phase
    method: Literal["POST", "PATCH", "DELETE"]
    path: str
    resource: str  # the shipper's resource key: ``pods``, ``deployments.apps``
    demo_uid: str
    body: Obj | None = None
    query: tuple[tuple[str, str], ...] = ()
    creates: bool = False  # the answer's uid is ``demo_uid``'s on this server
    may_exist: bool = False  # 409 AlreadyExists: adopt the object already there
    terminates: bool = False  # a graceful deletion begins (a kubelet would end it)
    deletes: bool = False  # the object goes now

    @property
    def content_type(self) -> str:
        return MERGE_PATCH if self.method == "PATCH" else "application/json"


@dataclass(frozen=True, slots=True)
class Plan:
    writes: tuple[Write, ...]
    namespaces: tuple[str, ...]  # as played (prefixed)
    nodes: tuple[str, ...]

    def phase(self, phase: Phase) -> list[Write]:
        return [w for w in self.writes if w.phase == phase]


def check_prefix(prefix: str) -> None:
    if prefix and not _NAME.match(prefix):
        raise InvalidPrefix(
            f"invalid prefix {prefix!r}: lower-case letters, digits and '-', at most 40 "
            "characters, starting and ending with a letter or digit"
        )


def plan_writes(events: Iterable[Mapping[str, Any]], *, prefix: str = "") -> Plan:
    """The writes that play ``events`` (a watch recording, in order) into an API server."""
    check_prefix(prefix)
    recorded = list(events)
    objects = [e["object"] for e in recorded]
    used = {o["metadata"].get("namespace") or "" for o in objects} - {""}
    declared = {o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"}
    nodes = {o["metadata"]["name"] for o in objects if o["kind"] == "Node"}
    rename = _Renamer(
        {n: n if n == "default" else _prefixed(prefix, n) for n in used | declared},
        {n: _prefixed(prefix, n) for n in nodes},
    )
    writes: list[Write] = []
    # namespaces objects live in but the recording never creates (``default`` for node Events)
    for ns in sorted(used - declared):
        body = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": rename.namespaces[ns]},
        }
        writes.append(
            Write("setup", "POST", "/api/v1/namespaces", "namespaces", "", body, may_exist=True)
        )
    previous: dict[str, Obj] = {}
    setup = True
    first_time = recorded[0]["timestamp"] if recorded else ""
    for event in recorded:
        setup = setup and event["type"] == "ADDED" and event["timestamp"] == first_time
        obj = rename(event["object"])
        uid = event["object"]["metadata"]["uid"]
        phase: Phase = "setup" if setup else "incident"
        if event["type"] == "ADDED":
            writes.extend(_create(phase, obj, uid))
        elif event["type"] == "MODIFIED":
            writes.extend(_modify(phase, previous[uid], obj, uid))
        elif event["type"] == "DELETED":
            writes.extend(_delete(phase, obj, uid))
        previous[uid] = obj
    return Plan(
        tuple(writes),
        tuple(sorted(rename.namespaces.values())),
        tuple(sorted(rename.nodes.values())),
    )


def _prefixed(prefix: str, name: str) -> str:
    return f"{prefix}-{name}" if prefix else name


class _Renamer:
    """A recorded object with its namespaces and nodes renamed (and its Nodes labelled)."""

    def __init__(self, namespaces: dict[str, str], nodes: dict[str, str]) -> None:
        self.namespaces = namespaces
        self.nodes = nodes

    def __call__(self, obj: Mapping[str, Any]) -> Obj:
        out: Obj = self._walk(obj)
        meta = out["metadata"]
        if out["kind"] == "Namespace":
            meta["name"] = self.namespaces.get(meta["name"], meta["name"])
        elif out["kind"] == "Node":
            meta["name"] = self.nodes.get(meta["name"], meta["name"])
            meta["labels"] = {**meta.get("labels", {}), PLAYED_LABEL: "true"}
            for address in out.get("status", {}).get("addresses", []):
                if address.get("type") == "Hostname":
                    address["address"] = self.nodes.get(address["address"], address["address"])
        involved = out.get("involvedObject")
        if isinstance(involved, dict) and involved.get("kind") == "Node":
            involved["name"] = self.nodes.get(involved["name"], involved["name"])
        return out

    def _walk(self, value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: v if k == "managedFields" else self._walk(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self._walk(v) for v in value]
        if isinstance(value, str):
            if key in _NAMESPACE_KEYS:
                return self.namespaces.get(value, value)
            if key in _NODE_KEYS:
                return self.nodes.get(value, value)
        return value


def _path(obj: Obj, *, collection: bool = False) -> tuple[str, str]:
    """(the object's REST path, or its collection's; the shipper's resource key)."""
    group, version = split_api_version(obj["apiVersion"])
    plural = plural_for_kind(obj["kind"])
    meta = obj["metadata"]
    path = request_uri(
        api_group=group,
        api_version=version,
        namespace=meta.get("namespace") or "",
        plural=plural,
        name=meta["name"],
    )
    if collection:
        path = path.rsplit("/", 1)[0]
    return path, f"{plural}.{group}" if group else plural


def _desired(obj: Obj) -> Obj:
    """What a client may write of the recorded object: no server-assigned fields."""
    out = dict(obj)
    out["metadata"] = {k: v for k, v in obj["metadata"].items() if k not in _SERVER_METADATA}
    if obj["kind"] == "Service":
        spec = dict(obj.get("spec", {}))
        if spec.get("clusterIP") != "None":  # the server's range, not the recorded cluster's
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
        spec.pop("healthCheckNodePort", None)
        if "ports" in spec:
            spec["ports"] = [{k: v for k, v in p.items() if k != "nodePort"} for p in spec["ports"]]
        out["spec"] = spec
    elif obj["kind"] == "Job":  # the server generates the selector from the Job's own uid
        spec = dict(obj.get("spec", {}))
        spec.pop("selector", None)
        template = dict(spec.get("template", {}))
        template_meta = dict(template.get("metadata", {}))
        template_meta["labels"] = _without(template_meta.get("labels", {}), _JOB_UID_LABELS)
        template["metadata"] = template_meta
        spec["template"] = template
        out["spec"] = spec
        out["metadata"]["labels"] = _without(out["metadata"].get("labels", {}), _JOB_UID_LABELS)
    return out


def _without(labels: Mapping[str, str], keys: tuple[str, ...]) -> dict[str, str]:
    return {k: v for k, v in labels.items() if k not in keys}


def _manager(obj: Obj, *, creator: bool = False) -> tuple[tuple[str, str], ...]:
    """``fieldManager=``: who wrote this version last, or (``creator``) who created the
    object: the oldest writer of more than its status."""
    manager = newest_field_manager(obj["metadata"])
    if creator:
        entries = [
            e
            for e in obj["metadata"].get("managedFields") or ()
            if not e.get("subresource") and e.get("manager")
        ]
        if entries:
            manager = min(entries, key=lambda e: str(e.get("time") or ""))["manager"]
    return (("fieldManager", manager),) if manager else ()


def _create(phase: Phase, obj: Obj, uid: str) -> list[Write]:
    collection, resource = _path(obj, collection=True)
    desired = _desired(obj)
    status = desired.pop("status", None)
    writes = [
        Write(
            phase,
            "POST",
            collection,
            resource,
            uid,
            desired,
            _manager(obj, creator=True),
            creates=True,
            may_exist=obj["kind"] == "Namespace",
        )
    ]
    if status:
        path, _ = _path(obj)
        body = {
            "metadata": {"managedFields": obj["metadata"].get("managedFields")},
            "status": status,
        }
        writes.append(Write(phase, "PATCH", f"{path}/status", resource, uid, body, _manager(obj)))
    return writes


def _modify(phase: Phase, old: Obj, new: Obj, uid: str) -> list[Write]:
    path, resource = _path(new)
    before, after = _desired(old), _desired(new)
    writes: list[Write] = []
    old_meta, new_meta = old["metadata"], new["metadata"]
    if new_meta.get("deletionTimestamp") and not old_meta.get("deletionTimestamp"):
        grace = new_meta.get("deletionGracePeriodSeconds", 30)
        query = (("gracePeriodSeconds", str(grace)), ("propagationPolicy", "Background"))
        writes.append(Write(phase, "DELETE", path, resource, uid, None, query, terminates=True))
    node = new.get("spec", {}).get("nodeName") if new["kind"] == "Pod" else None
    if node and not old.get("spec", {}).get("nodeName"):
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": new_meta["name"], "namespace": new_meta.get("namespace")},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        }
        writes.append(Write(phase, "POST", f"{path}/binding", resource, uid, binding))
        before["spec"] = {**before.get("spec", {}), "nodeName": node}
    managed = {"managedFields": new_meta.get("managedFields")}
    main = merge_patch(
        {k: v for k, v in before.items() if k != "status"},
        {k: v for k, v in after.items() if k != "status"},
    )
    status = merge_patch(before.get("status", {}), after.get("status", {}))
    # metadata the recorded writer wrote through the status subresource goes there too
    # (the deployment controller's revision annotation: through the main resource it
    # would bump the Deployment's generation, as a spec change does)
    status_meta = main.pop("metadata", {}) if _writer(new).get("subresource") == "status" else {}
    if main:
        main["metadata"] = {**main.get("metadata", {}), **managed}
        writes.append(Write(phase, "PATCH", path, resource, uid, main, _manager(new)))
    if status or status_meta:
        body = {"metadata": {**status_meta, **managed}, **({"status": status} if status else {})}
        writes.append(Write(phase, "PATCH", f"{path}/status", resource, uid, body, _manager(new)))
    return writes


def _writer(obj: Obj) -> dict[str, Any]:
    """The newest ``managedFields`` entry (as :func:`newest_field_manager` picks it)."""
    newest: dict[str, Any] = {}
    for entry in obj["metadata"].get("managedFields") or ():
        if str(entry.get("time") or "") >= str(newest.get("time") or ""):
            newest = entry
    return newest


def _delete(phase: Phase, obj: Obj, uid: str) -> list[Write]:
    path, resource = _path(obj)
    writes = []
    if obj["metadata"].get("finalizers"):
        body = {"metadata": {"finalizers": None}}
        writes.append(Write(phase, "PATCH", path, resource, uid, body, _manager(obj)))
    query = (("gracePeriodSeconds", "0"), ("propagationPolicy", "Background"))
    writes.append(Write(phase, "DELETE", path, resource, uid, None, query, deletes=True))
    return writes


def merge_patch(old: Any, new: Any) -> Any:
    """The JSON merge patch (RFC 7386) that turns ``old`` into ``new``: ``{}`` when they
    are equal; lists are replaced whole, removed keys are ``None``."""
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return new
    patch: dict[str, Any] = {k: None for k in old if k not in new}
    for k, v in new.items():
        if k not in old:
            patch[k] = v
        elif old[k] != v:
            patch[k] = merge_patch(old[k], v) if isinstance(old[k], dict) else v
    return patch
