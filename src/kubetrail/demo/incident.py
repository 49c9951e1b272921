"""The built-in incident behind ``kubetrail demo``.

:func:`generate_incident` returns six hours of watch events from a small
kubeadm cluster (``control-plane-1`` and three workers), shaped as a watch
recording: one ``{"type", "object", "timestamp"}`` per event, each object as
``kubectl get -o json`` prints it (keys sorted, full metadata with
``managedFields``, defaulted spec, status). The stream starts with the initial
list of the watch (objects created days or weeks earlier, so they read as
snapshots); after that the cluster lives: kubelets heartbeat, an hourly CronJob
runs, ``shop/cart`` rolls out cleanly. Then, relative to the anchor:

========  ====================================================================
-3h       ``shop/checkout-config`` DATABASE_URL edited; ``payments/
          payment-db-credentials`` password rotated (to :data:`DEMO_SECRET_CANARY`)
-2h50m    helm upgrades ``shop/checkout`` 1.4.2 → 1.5.0: the new pods crash-loop
-2h30m    the checkout rollout exceeds its progress deadline
-2h       ``data/etl-worker`` starts getting OOMKilled (512Mi limit)
-1h30m    argocd rolls ``payments/payment-api`` to ``v2.3.O`` (letter O): ImagePullBackOff
-1h       ``data/postgres-data`` asks for StorageClass ``fast-ssd``, which does not
          exist; ``data/postgres-0`` cannot be scheduled
-40m      ``worker-3`` stops posting status; its pods are evicted at -35m and
          replaced on the other workers
========  ====================================================================

Nothing is fixed by the end.

How it is built: a tiny discrete-event simulation. Builders make objects of each
kind; small "controllers" (deployment, replica set, scheduler, kubelet, jobs)
change them as processes scheduled in time order, so every object stays
consistent with the others (a Deployment's status counts its pods' readiness,
an evicted pod is replaced by its ReplicaSet, ...). History before the watch
starts is simulated too, silently; the watch then lists whatever is alive.

Deterministic: the same anchor gives the same events. Uids are uuid5 of the
anchor and the object's identity, names and jitter come from hashes, and
resourceVersions are assigned in stream order. No randomness.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import heapq
import itertools
import json
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

__all__ = ["DEMO_SECRET_CANARY", "generate_incident"]

#: The rotated database password of ``payments/payment-db-credentials``. It is in
#: the raw events (base64 in ``data``, plain in the last-applied annotation) and
#: must never reach a stored document.
DEMO_SECRET_CANARY = "s3cr3t-canary-rotated"

Obj = dict[str, Any]
Process = Generator[int | timedelta, None, Any]

WINDOW = timedelta(hours=6)
_EVENT_TTL = timedelta(hours=1)
_UID_ROOT = UUID("6c1f3a52-7d0e-4b8a-9a57-1f0d2c9e4b10")
_SAFE = "bcdfghjklmnpqrstvwxz2456789"  # apimachinery rand.SafeEncodeString
_RV_BASE = 48_213_077
_KUBE_VERSION = "v1.29.4"
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_KCM = "kube-controller-manager"
_SA_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
_KIND_ORDER = (
    "Namespace",
    "Node",
    "ConfigMap",
    "Secret",
    "Service",
    "PersistentVolumeClaim",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "CronJob",
    "Job",
    "Pod",
    "Event",
)


def generate_incident(*, anchor: datetime) -> list[Obj]:
    """Six hours of watch events ending at ``anchor`` (aware), sorted by timestamp."""
    sim = _Sim(anchor)
    _scenario(sim)
    sim.run()
    return sim.watch_events()


# == primitives ===================================================================


def _ts(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _micro(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()


def _pick(n: int, *parts: object) -> int:
    """A deterministic number in ``range(n)``."""
    return int.from_bytes(_digest(*parts)[:8], "big") % n


def _hex(n: int, *parts: object) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:n]


def _token(n: int, *parts: object) -> str:
    return "".join(_SAFE[b % len(_SAFE)] for b in _digest(*parts)[:n])


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _go_duration(seconds: int) -> str:
    minutes, secs = divmod(seconds, 60)
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def _compact(value: Any) -> str:
    """JSON as kubectl writes it into the last-applied annotation."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True) + "\n"


def _sorted_copy(value: Any) -> Any:
    """A deep copy with every mapping's keys sorted, as ``kubectl get -o json`` prints."""
    if isinstance(value, Mapping):
        return {k: _sorted_copy(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted_copy(v) for v in value]
    return value


# -- managedFields ---------------------------------------------------------------

_ATOMIC_LISTS = frozenset(
    {
        "containerStatuses",
        "taints",
        "tolerations",
        "images",
        "podIPs",
        "hostIPs",
        "ingress",
        "clusterIPs",
        "ipFamilies",
        "accessModes",
        "active",
        "args",
        "sources",
        "podCIDRs",
    }
)


def _list_key(item: Mapping[str, Any]) -> dict[str, Any] | None:
    if "uid" in item and "kind" in item:
        return {"uid": item["uid"]}
    if "containerPort" in item:
        return {"containerPort": item["containerPort"], "protocol": item.get("protocol", "TCP")}
    if "port" in item and "protocol" in item:
        return {"port": item["port"], "protocol": item["protocol"]}
    if "mountPath" in item:
        return {"mountPath": item["mountPath"]}
    if "type" in item and "name" not in item:
        return {"type": item["type"]}
    if "name" in item:
        return {"name": item["name"]}
    return None


def _fields_v1(value: Any, field: str = "") -> Obj:
    """The FieldsV1 set describing ``value`` (``f:`` fields, ``k:`` list keys)."""
    if isinstance(value, Mapping):
        out: Obj = {".": {}}
        for key, item in value.items():
            out[f"f:{key}"] = _fields_v1(item, key)
        return out
    if isinstance(value, list) and field not in _ATOMIC_LISTS:
        if field == "finalizers":
            return {".": {}, **{f"v:{json.dumps(v)}": {} for v in value}}
        keyed: Obj = {}
        for item in value:
            key = _list_key(item) if isinstance(item, Mapping) else None
            if key is None:
                return {}
            keyed["k:" + json.dumps(key, separators=(",", ":"))] = _fields_v1(item)
        return keyed
    return {}


def _merge(into: Obj, other: Mapping[str, Any]) -> None:
    for key, value in other.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


def _has_path(obj: Mapping[str, Any], path: tuple[str, ...]) -> bool:
    cur: Any = obj
    for key in path:
        if not isinstance(cur, Mapping) or key not in cur:
            return False
        cur = cur[key]
    return True


def _touch(
    obj: Obj,
    manager: str,
    when: datetime,
    *paths: tuple[str, ...],
    subresource: str | None = None,
    operation: str = "Update",
    api_version: str | None = None,
) -> None:
    """Record that ``manager`` last wrote the fields at ``paths`` at ``when``."""
    fields: Obj = {}
    for path in paths:
        node = fields
        cur: Any = obj
        for key in path:
            cur = cur.get(key) if isinstance(cur, Mapping) else None
        if cur is None and not (isinstance(obj, Mapping) and _has_path(obj, path)):
            continue
        for key in path:
            node = node.setdefault(f"f:{key}", {})
        leaf = _fields_v1(cur, path[-1])
        if len(path) == 1:
            leaf.pop(".", None)
        _merge(node, leaf)
    entry: Obj = {
        "apiVersion": api_version or obj["apiVersion"],
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
        "manager": manager,
        "operation": operation,
        "time": _ts(when),
    }
    if subresource:
        entry["subresource"] = subresource
    entries = obj["metadata"].setdefault("managedFields", [])
    for i, old in enumerate(entries):
        if (old["manager"], old["operation"], old.get("subresource")) == (
            manager,
            operation,
            subresource,
        ):
            # A manager's entry is the union of everything it has set that still exists.
            owned = copy.deepcopy(old["fieldsV1"])
            _merge(owned, fields)
            entry["fieldsV1"] = _prune(owned, obj)
            entries[i] = entry
            return
    entries.append(entry)


def _prune(fields: Obj, value: Any) -> Obj:
    """``fields`` without the paths ``value`` no longer has."""
    out: Obj = {}
    for key, sub in fields.items():
        if key == "." or key.startswith("v:"):
            out[key] = sub
        elif key.startswith("f:") and isinstance(value, Mapping):
            if key[2:] in value:
                out[key] = _prune(sub, value[key[2:]])
        elif key.startswith("k:") and isinstance(value, list):
            wanted = json.loads(key[2:])
            item = next(
                (
                    i
                    for i in value
                    if isinstance(i, Mapping) and all(i.get(k) == v for k, v in wanted.items())
                ),
                None,
            )
            if item is not None:
                out[key] = _prune(sub, item)
    return out


# -- conditions ------------------------------------------------------------------


def _condition(
    conditions: list[Obj],
    type_: str,
    status: str,
    when: datetime,
    *,
    reason: str | None = None,
    message: str | None = None,
    **always: Any,
) -> bool:
    """Set a condition; ``lastTransitionTime`` moves only when ``status`` does.
    Returns whether the condition changed."""
    cond = next((c for c in conditions if c["type"] == type_), None)
    if cond is None:
        cond = {"type": type_}
        conditions.append(cond)
    before = dict(cond)
    if cond.get("status") != status:
        cond["lastTransitionTime"] = _ts(when)
    cond["status"] = status
    for key, value in (("reason", reason), ("message", message)):
        if value is None:
            cond.pop(key, None)
        else:
            cond[key] = value
    cond.update(always)
    return cond != before


# == the simulation ===============================================================


@dataclass(frozen=True)
class _Runs:
    """A healthy server: ready once its readiness probe passes."""

    ready_after: int = 7


@dataclass(frozen=True)
class _Completes:
    """A batch container: runs, exits 0."""

    runtime: int = 50


@dataclass(frozen=True)
class _Crashes:
    """A container that keeps dying: after ``runtime`` seconds (plus jitter)."""

    runtime: int
    exit_code: int
    reason: str
    message: str | None = None
    oom_process: str | None = None  # OOMKilled: the node logs a SystemOOM event
    jitter: int = 0


@dataclass(frozen=True)
class _MissingImage:
    """The image reference does not exist in the registry."""


_Behaviour = _Runs | _Completes | _Crashes | _MissingImage


class _Sim:
    """Clock, process queue, the objects alive in the cluster, and the watch log."""

    def __init__(self, anchor: datetime) -> None:
        if anchor.tzinfo is None or anchor.utcoffset() is None:
            raise ValueError("anchor must be an aware datetime (UTC)")
        self.anchor = anchor.astimezone(UTC).replace(microsecond=0)
        self.watch_start = self.anchor - WINDOW + timedelta(seconds=1)
        self.end = self.anchor - timedelta(minutes=2)
        self.seed = _ts(self.anchor)
        self.now = self.anchor - timedelta(days=400)
        self.live: dict[str, Obj] = {}  # uid → object, in creation order
        self.nodes: dict[str, Obj] = {}
        self.down: set[str] = set()  # nodes whose kubelet is gone
        self.images: dict[str, set[str]] = {}  # node → images already pulled
        self.behaviour: dict[str, _Behaviour] = {}  # image → what its container does
        self._queue: list[tuple[datetime, int, Process]] = []
        self._seq = itertools.count()
        self._log: list[tuple[datetime, int, str, Obj]] = []
        self._recorded: dict[tuple[str, ...], Obj] = {}  # the kubelet's event correlator
        self._spam: dict[tuple[str, ...], tuple[float, datetime]] = {}
        self._counters: dict[str, int] = {}

    # -- time and identity --

    def ago(self, *, days: float = 0, hours: float = 0, minutes: float = 0) -> datetime:
        return self.anchor - timedelta(days=days, hours=hours, minutes=minutes)

    def uid(self, kind: str, namespace: str, name: str) -> str:
        return str(uuid5(_UID_ROOT, f"{self.seed}/{kind}/{namespace}/{name}"))

    def next_number(self, key: str) -> int:
        self._counters[key] = self._counters.get(key, 0) + 1
        return self._counters[key]

    # -- processes --

    def spawn(self, when: datetime, process: Process) -> None:
        if when < self.now:
            raise ValueError(f"cannot schedule in the past ({when} < {self.now})")
        heapq.heappush(self._queue, (when, next(self._seq), process))

    def later(self, seconds: int, process: Process) -> None:
        self.spawn(self.now + timedelta(seconds=seconds), process)

    def run(self) -> None:
        while self._queue:
            when, _, process = heapq.heappop(self._queue)
            if when > self.end:
                continue
            self.now = when
            try:
                delay = next(process)
            except StopIteration:
                continue
            step = delay if isinstance(delay, timedelta) else timedelta(seconds=delay)
            heapq.heappush(self._queue, (when + step, next(self._seq), process))

    # -- the API server --

    def create(self, obj: Obj) -> Obj:
        uid = obj["metadata"]["uid"]
        if uid in self.live:
            raise AssertionError(f"duplicate uid for {obj['kind']} {obj['metadata']['name']}")
        self.live[uid] = obj
        self._emit("ADDED", obj)
        return obj

    def update(self, obj: Obj) -> None:
        if obj["metadata"]["uid"] in self.live:
            self._emit("MODIFIED", obj)

    def delete(self, obj: Obj) -> None:
        if self.live.pop(obj["metadata"]["uid"], None) is not None:
            self._emit("DELETED", obj)

    def alive(self, obj: Obj) -> bool:
        return obj["metadata"]["uid"] in self.live

    def find(self, kind: str, namespace: str, name: str) -> Obj | None:
        return self.live.get(self.uid(kind, namespace, name))

    def owned(self, owner: Obj, kind: str) -> list[Obj]:
        uid = owner["metadata"]["uid"]
        return [
            o
            for o in self.live.values()
            if o["kind"] == kind
            and any(r["uid"] == uid for r in o["metadata"].get("ownerReferences", ()))
        ]

    def pods_on(self, node: str) -> list[Obj]:
        return [
            o
            for o in self.live.values()
            if o["kind"] == "Pod" and o["spec"].get("nodeName") == node
        ]

    def _emit(self, type_: str, obj: Obj) -> None:
        if self.now >= self.watch_start:
            self._log.append((self.now, next(self._seq), type_, _sorted_copy(obj)))

    def list_everything(self) -> Process:
        """The watch starts: every object alive arrives as ADDED (Events within their TTL)."""
        cutoff = self.now - _EVENT_TTL
        for uid, obj in list(self.live.items()):
            if obj["kind"] == "Event" and _event_last_seen(obj) < cutoff:
                del self.live[uid]  # expired
        order = {kind: i for i, kind in enumerate(_KIND_ORDER)}
        for obj in sorted(
            self.live.values(),
            key=lambda o: (
                order[o["kind"]],
                o["metadata"].get("namespace", ""),
                o["metadata"]["name"],
            ),
        ):
            self._emit("ADDED", obj)
        yield from ()

    def watch_events(self) -> list[Obj]:
        self._log.sort(key=lambda entry: (entry[0], entry[1]))
        rv = _RV_BASE
        events = []
        for i, (when, _, type_, obj) in enumerate(self._log):
            rv += 1 + _pick(29, self.seed, "rv", i)
            obj["metadata"]["resourceVersion"] = str(rv)
            events.append({"type": type_, "object": obj, "timestamp": _ts(when)})
        return events

    # -- Events --

    def record(
        self,
        involved: Obj,
        reason: str,
        message: str,
        *,
        type_: str = "Normal",
        component: str = "kubelet",
        host: str | None = None,
        field_path: str | None = None,
    ) -> None:
        """A core/v1 Event as client-go's recorder writes it: identical occurrences
        bump ``count``; a spam filter (burst 25, then one per 5 minutes) drops floods."""
        key = (component, host or "", involved["metadata"]["uid"], type_, reason, message)
        tokens, last = self._spam.get(key, (25.0, self.now))
        tokens = min(25.0, tokens + (self.now - last).total_seconds() / 300)
        if tokens < 1:
            self._spam[key] = (tokens, self.now)
            return
        self._spam[key] = (tokens - 1, self.now)
        event = self._recorded.get(key)
        if event is not None and self.alive(event):
            event["count"] += 1
            event["lastTimestamp"] = _ts(self.now)
            _touch(event, _event_manager(component), self.now, ("count",), ("lastTimestamp",))
            self.update(event)
            return
        event = _core_event(self, involved, reason, message, type_, component, host, field_path)
        self._recorded[key] = event
        self.create(event)

    def record_scheduler(
        self, pod: Obj, reason: str, message: str, *, type_: str, action: str
    ) -> None:
        """An events.k8s.io/v1 Event from the scheduler (``eventTime``, ``series``)."""
        key = ("default-scheduler", pod["metadata"]["uid"], reason, message)
        event = self._recorded.get(key)
        if event is not None and self.alive(event):
            series = event.setdefault("series", {"count": 1})
            series["count"] += 1
            series["lastObservedTime"] = _micro(
                self.now + timedelta(microseconds=_pick(999_999, key, self.now))
            )
            _touch(event, "kube-scheduler", self.now, ("series",), api_version="events.k8s.io/v1")
            self.update(event)
            return
        event = _scheduler_event(self, pod, reason, message, type_, action)
        self._recorded[key] = event
        self.create(event)


# == builders ======================================================================


def _meta(
    sim: _Sim,
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
    meta: Obj = {"name": name}
    if generate_name:
        meta["generateName"] = generate_name
    if namespace:
        meta["namespace"] = namespace
    meta["uid"] = sim.uid(kind, namespace, name)
    meta["resourceVersion"] = ""  # assigned in stream order
    if generation is not None:
        meta["generation"] = generation
    meta["creationTimestamp"] = _ts(created)
    if labels:
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    if owner is not None:
        meta["ownerReferences"] = [_owner_ref(owner)]
    if finalizers:
        meta["finalizers"] = list(finalizers)
    meta["managedFields"] = []
    return meta


def _owner_ref(owner: Obj) -> Obj:
    return {
        "apiVersion": owner["apiVersion"],
        "blockOwnerDeletion": True,
        "controller": True,
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
    }


def _ref(obj: Obj, field_path: str | None = None) -> Obj:
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


# -- Namespace, ConfigMap, Secret, Service, PVC ----------------------------------


def _namespace(sim: _Sim, name: str, created: datetime, manager: str) -> Obj:
    obj = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": _meta(
            sim, "Namespace", name, "", created, labels={"kubernetes.io/metadata.name": name}
        ),
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }
    _touch(obj, manager, created, ("metadata", "labels"))
    return obj


def _applied(obj: Obj, **body: Any) -> str:
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
    return _compact(manifest)


def _config_map(
    sim: _Sim, namespace: str, name: str, data: Mapping[str, str], created: datetime, manager: str
) -> Obj:
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(sim, "ConfigMap", name, namespace, created),
        "data": dict(data),
    }
    if manager == "helm":
        obj["metadata"]["labels"] = {"app.kubernetes.io/managed-by": "Helm"}
        obj["metadata"]["annotations"] = _helm_annotations(name, namespace)
    if manager == "kubectl-client-side-apply":
        obj["metadata"]["annotations"] = {_LAST_APPLIED: _applied(obj, data=dict(data))}
    _touch(obj, manager, created, ("data",), ("metadata", "annotations"), ("metadata", "labels"))
    return obj


def _set_applied_config_map(sim: _Sim, obj: Obj, data: Mapping[str, str]) -> None:
    obj["data"] = dict(data)
    obj["metadata"]["annotations"][_LAST_APPLIED] = _applied(obj, data=dict(data))
    _touch(obj, "kubectl-client-side-apply", sim.now, ("data",), ("metadata", "annotations"))


def _applied_secret(
    sim: _Sim, namespace: str, name: str, plain: Mapping[str, str], created: datetime
) -> Obj:
    """A Secret written with ``kubectl apply`` of a ``stringData`` manifest: the API
    server stores base64 ``data``; the last-applied annotation keeps the plain values."""
    obj = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _meta(sim, "Secret", name, namespace, created),
        "type": "Opaque",
        "data": {},
    }
    _set_applied_secret(sim, obj, plain, created)
    return obj


def _set_applied_secret(sim: _Sim, obj: Obj, plain: Mapping[str, str], when: datetime) -> None:
    obj["data"] = {key: _b64(value) for key, value in plain.items()}
    obj["metadata"]["annotations"] = {
        _LAST_APPLIED: _applied(obj, stringData=dict(plain), type="Opaque")
    }
    _touch(
        obj, "kubectl-client-side-apply", when, ("data",), ("metadata", "annotations"), ("type",)
    )


def _helm_annotations(release: str, namespace: str) -> dict[str, str]:
    return {"meta.helm.sh/release-name": release, "meta.helm.sh/release-namespace": namespace}


def _helm_release(
    sim: _Sim, release: str, namespace: str, number: int, status: str, when: datetime
) -> Obj:
    """Helm 3 keeps each release revision in a Secret of type helm.sh/release.v1."""
    name = f"sh.helm.release.v1.{release}.v{number}"
    blob = base64.b64encode(_digest(sim.seed, name) * 12).decode()
    obj = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _meta(
            sim,
            "Secret",
            name,
            namespace,
            when,
            labels={
                "modifiedAt": str(int(when.timestamp())),
                "name": release,
                "owner": "helm",
                "status": status,
                "version": str(number),
            },
        ),
        "type": "helm.sh/release.v1",
        "data": {"release": "SDRzSUFBQUFBQUFDLy" + blob},
    }
    _touch(obj, "helm", when, ("data",), ("metadata", "labels"), ("type",))
    return obj


def _set_release_status(sim: _Sim, release: Obj, status: str) -> None:
    release["metadata"]["labels"]["status"] = status
    release["metadata"]["labels"]["modifiedAt"] = str(int(sim.now.timestamp()))
    _touch(release, "helm", sim.now, ("data",), ("metadata", "labels"), ("type",))
    sim.update(release)


def _service(
    sim: _Sim,
    namespace: str,
    name: str,
    *,
    selector: Mapping[str, str],
    ports: list[Obj],
    created: datetime,
    manager: str,
    labels: Mapping[str, str] | None = None,
    cluster_ip: str | None = None,
    load_balancer_ip: str | None = None,
) -> Obj:
    ip = (
        "None"
        if cluster_ip == "None"
        else cluster_ip
        or (f"10.96.{_pick(250, namespace, name) + 1}.{_pick(250, name, namespace) + 2}")
    )
    spec: Obj = {
        "clusterIP": ip,
        "clusterIPs": [ip],
        "internalTrafficPolicy": "Cluster",
        "ipFamilies": ["IPv4"],
        "ipFamilyPolicy": "SingleStack",
        "ports": ports,
        "selector": dict(selector),
        "sessionAffinity": "None",
        "type": "ClusterIP",
    }
    status: Obj = {"loadBalancer": {}}
    if load_balancer_ip:
        spec.update(type="LoadBalancer", externalTrafficPolicy="Cluster")
        spec["allocateLoadBalancerNodePorts"] = True
        for port in ports:
            port["nodePort"] = 30000 + _pick(2767, namespace, name, port["port"])
        status = {"loadBalancer": {"ingress": [{"ip": load_balancer_ip, "ipMode": "VIP"}]}}
    obj = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(sim, "Service", name, namespace, created, labels=labels),
        "spec": spec,
        "status": status,
    }
    if manager == "helm":
        obj["metadata"]["annotations"] = _helm_annotations(
            (labels or {}).get("app.kubernetes.io/instance", name), namespace
        )
    if manager in ("kubectl-client-side-apply", "argocd-controller"):
        applied_ports = [{k: v for k, v in p.items() if k != "nodePort"} for p in ports]
        body: Obj = {"spec": {"ports": applied_ports, "selector": dict(selector)}}
        if cluster_ip == "None":
            body["spec"]["clusterIP"] = "None"
        obj["metadata"]["annotations"] = {_LAST_APPLIED: _applied(obj, **body)}
    _touch(obj, manager, created, ("metadata", "labels"), ("metadata", "annotations"), ("spec",))
    if load_balancer_ip:
        _touch(obj, "metallb-controller", created, ("status",), subresource="status")
    return obj


def _pvc(
    sim: _Sim,
    namespace: str,
    name: str,
    *,
    size: str,
    storage_class: str,
    created: datetime,
    manager: str,
    bound: bool,
    labels: Mapping[str, str] | None = None,
) -> Obj:
    obj: Obj = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": _meta(
            sim,
            "PersistentVolumeClaim",
            name,
            namespace,
            created,
            labels=labels,
            finalizers=["kubernetes.io/pvc-protection"],
        ),
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": size}},
            "storageClassName": storage_class,
            "volumeMode": "Filesystem",
        },
        "status": {"phase": "Pending"},
    }
    if manager == "kubectl-client-side-apply":
        obj["metadata"]["annotations"] = {
            _LAST_APPLIED: _applied(
                obj,
                spec={
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": size}},
                    "storageClassName": storage_class,
                },
            )
        }
    _touch(obj, manager, created, ("metadata", "annotations"), ("metadata", "labels"), ("spec",))
    if bound:
        bound_at = created + timedelta(seconds=3)
        obj["metadata"].setdefault("annotations", {}).update(
            {
                "pv.kubernetes.io/bind-completed": "yes",
                "pv.kubernetes.io/bound-by-controller": "yes",
                "volume.beta.kubernetes.io/storage-provisioner": "driver.longhorn.io",
                "volume.kubernetes.io/storage-provisioner": "driver.longhorn.io",
            }
        )
        obj["spec"]["volumeName"] = f"pvc-{obj['metadata']['uid']}"
        obj["status"] = {
            "accessModes": ["ReadWriteOnce"],
            "capacity": {"storage": size},
            "phase": "Bound",
        }
        _touch(obj, _KCM, bound_at, ("metadata", "annotations"), ("spec", "volumeName"))
        _touch(obj, _KCM, bound_at, ("status",), subresource="status")
    return obj


# -- Node -------------------------------------------------------------------------


@dataclass(frozen=True)
class _NodeInfo:
    name: str
    ip: str
    pod_cidr: str
    pool: str = "general"
    control_plane: bool = False


_NODE_HEALTHY = (
    (
        "MemoryPressure",
        "False",
        "KubeletHasSufficientMemory",
        "kubelet has sufficient memory available",
    ),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status. AppArmor enabled"),
)


def _node(sim: _Sim, info: _NodeInfo, created: datetime) -> Obj:
    labels = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": info.name,
        "kubernetes.io/os": "linux",
    }
    spec: Obj = {"podCIDR": info.pod_cidr, "podCIDRs": [info.pod_cidr]}
    if info.control_plane:
        labels["node-role.kubernetes.io/control-plane"] = ""
        labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
        spec["taints"] = [{"effect": "NoSchedule", "key": "node-role.kubernetes.io/control-plane"}]
    else:
        labels["node.example.com/pool"] = info.pool
    cpu, memory = ("2", "8123456Ki") if info.control_plane else ("8", "32761536Ki")
    ready_since = created + timedelta(seconds=40)
    conditions = [
        {
            "lastHeartbeatTime": _ts(ready_since),
            "lastTransitionTime": _ts(ready_since),
            "message": message,
            "reason": reason,
            "status": status,
            "type": type_,
        }
        for type_, status, reason, message in _NODE_HEALTHY
    ]
    images = [
        ("registry.k8s.io/kube-proxy", _KUBE_VERSION, 28_620_000),
        ("registry.k8s.io/pause", "3.9", 321_520),
        ("docker.io/longhornio/longhorn-manager", "v1.6.1", 111_482_000),
    ]
    obj = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": _meta(
            sim,
            "Node",
            info.name,
            "",
            created,
            labels=labels,
            annotations={
                "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///var/run/containerd/containerd.sock",
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        ),
        "spec": spec,
        "status": {
            "addresses": [
                {"address": info.ip, "type": "InternalIP"},
                {"address": info.name, "type": "Hostname"},
            ],
            "allocatable": {
                "cpu": cpu,
                "ephemeral-storage": "94580335255",
                "hugepages-1Gi": "0",
                "hugepages-2Mi": "0",
                "memory": memory,
                "pods": "110",
            },
            "capacity": {
                "cpu": cpu,
                "ephemeral-storage": "102626232Ki",
                "hugepages-1Gi": "0",
                "hugepages-2Mi": "0",
                "memory": memory,
                "pods": "110",
            },
            "conditions": conditions,
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "images": [
                {
                    "names": [f"{repo}@sha256:{_hex(64, repo, tag)}", f"{repo}:{tag}"],
                    "sizeBytes": size,
                }
                for repo, tag, size in images
            ],
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": str(uuid5(_UID_ROOT, f"boot/{info.name}")),
                "containerRuntimeVersion": "containerd://1.7.13",
                "kernelVersion": "5.15.0-105-generic",
                "kubeProxyVersion": _KUBE_VERSION,
                "kubeletVersion": _KUBE_VERSION,
                "machineID": _hex(32, "machine", info.name),
                "operatingSystem": "linux",
                "osImage": "Ubuntu 22.04.4 LTS",
                "systemUUID": str(uuid5(_UID_ROOT, f"system/{info.name}")),
            },
        },
    }
    _touch(
        obj,
        "kubeadm",
        created,
        ("metadata", "annotations", "kubeadm.alpha.kubernetes.io/cri-socket"),
        *([("metadata", "labels")] if info.control_plane else []),
    )
    _touch(
        obj,
        "kubelet",
        created,
        ("metadata", "annotations", "volumes.kubernetes.io/controller-managed-attach-detach"),
        ("metadata", "labels"),
    )
    _touch(
        obj,
        _KCM,
        created + timedelta(seconds=20),
        ("metadata", "annotations", "node.alpha.kubernetes.io/ttl"),
        ("spec", "podCIDR"),
        ("spec", "podCIDRs"),
    )
    _touch(obj, "kubelet", ready_since, ("status",), subresource="status")
    sim.images[info.name] = set()
    return obj


# -- Events -----------------------------------------------------------------------


def _event_manager(component: str) -> str:
    return {"kubelet": "kubelet", "default-scheduler": "kube-scheduler"}.get(component, _KCM)


def _event_name(sim: _Sim, involved: Obj, *salt: object) -> str:
    nanos = int(sim.now.timestamp()) * 1_000_000_000 + _pick(999_999_999, sim.seed, *salt)
    return f"{involved['metadata']['name']}.{nanos:x}"


def _core_event(
    sim: _Sim,
    involved: Obj,
    reason: str,
    message: str,
    type_: str,
    component: str,
    host: str | None,
    field_path: str | None,
) -> Obj:
    namespace = involved["metadata"].get("namespace") or "default"
    name = _event_name(sim, involved, involved["metadata"]["uid"], reason, message, sim.now)
    source = {"component": component}
    if host:
        source["host"] = host
    obj = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": _meta(sim, "Event", name, namespace, sim.now),
        "count": 1,
        "eventTime": None,
        "firstTimestamp": _ts(sim.now),
        "involvedObject": _ref(involved, field_path),
        "lastTimestamp": _ts(sim.now),
        "message": message,
        "reason": reason,
        "reportingComponent": component,
        "reportingInstance": host or "",
        "source": source,
        "type": type_,
    }
    _touch(
        obj,
        _event_manager(component),
        sim.now,
        *[(key,) for key in ("count", "firstTimestamp", "involvedObject", "lastTimestamp")],
        *[(key,) for key in ("message", "reason", "reportingComponent", "reportingInstance")],
        ("source",),
        ("type",),
    )
    return obj


def _scheduler_event(
    sim: _Sim, pod: Obj, reason: str, message: str, type_: str, action: str
) -> Obj:
    """How an events.k8s.io/v1 Event looks through the core/v1 API."""
    emitted = sim.now - timedelta(microseconds=1 + _pick(900_000, pod["metadata"]["uid"], reason))
    name = _event_name(sim, pod, pod["metadata"]["uid"], reason, message)
    obj = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": _meta(
            sim, "Event", name, pod["metadata"]["namespace"], emitted.replace(microsecond=0)
        ),
        "action": action,
        "eventTime": _micro(emitted),
        "firstTimestamp": None,
        "involvedObject": _ref(pod),
        "lastTimestamp": None,
        "message": message,
        "reason": reason,
        "reportingComponent": "default-scheduler",
        "reportingInstance": "default-scheduler-control-plane-1",
        "source": {},
        "type": type_,
    }
    _touch(
        obj,
        "kube-scheduler",
        sim.now,
        ("action",),
        ("eventTime",),
        ("note",),
        ("reason",),
        ("regarding",),
        ("reportingController",),
        ("reportingInstance",),
        ("type",),
        api_version="events.k8s.io/v1",
    )
    return obj


def _event_last_seen(event: Obj) -> datetime:
    stamps = [event.get("lastTimestamp"), event.get("firstTimestamp")]
    stamps.append((event.get("series") or {}).get("lastObservedTime"))
    stamps.append(event.get("eventTime"))
    seconds = [s[:19] + "Z" for s in stamps if isinstance(s, str)]
    return max(_parse(s) for s in seconds)


# -- workloads: apps, pod templates, Deployment, ReplicaSet, StatefulSet --------------


@dataclass(frozen=True)
class _App:
    """One application as its owner deploys it (a helm chart, an argocd app, a manifest)."""

    namespace: str
    name: str
    repo: str
    replicas: int
    manager: str  # helm | argocd-controller | kubectl-client-side-apply | kubeadm
    history: tuple[tuple[float, str], ...]  # (days ago, version) of each rollout
    port: int = 8080
    cpu: str = "100m"
    memory: str = "128Mi"
    memory_limit: str = "256Mi"
    max_surge: int | str = "25%"
    max_unavailable: int | str = "25%"
    progress_deadline: int = 600
    probes: tuple[tuple[str, int | str], ...] = (("/healthz", "http"), ("/ready", "http"))
    env: tuple[tuple[str, str], ...] = ()
    config: str | None = None  # envFrom this ConfigMap
    db_secret: str | None = None  # DB_USER / DB_PASSWORD from this Secret
    node_pool: str | None = None
    labels: tuple[tuple[str, str], ...] = ()  # selector override (kubeadm addons)
    service_account: str | None = None
    args: tuple[str, ...] = ()
    ports: tuple[tuple[str, int, str], ...] = ()
    config_volume: tuple[str, str] | None = None  # (ConfigMap, mountPath)
    priority_class: str | None = None

    def image(self, version: str) -> str:
        return f"{self.repo}:{version}"

    def selector(self) -> dict[str, str]:
        if self.labels:
            return dict(self.labels)
        if self.manager == "helm":
            return {"app.kubernetes.io/instance": self.name, "app.kubernetes.io/name": self.name}
        return {"app": self.name}

    def object_labels(self, version: str) -> dict[str, str]:
        labels = self.selector()
        if self.manager == "helm":
            labels.update(
                {
                    "app.kubernetes.io/managed-by": "Helm",
                    "app.kubernetes.io/version": version,
                    "helm.sh/chart": f"{self.name}-{version}",
                }
            )
        if self.manager == "argocd-controller":
            labels["app.kubernetes.io/instance"] = self.namespace
        return labels


def _probe(path: str, port: int | str, delay: int) -> Obj:
    return {
        "failureThreshold": 3,
        "httpGet": {"path": path, "port": port, "scheme": "HTTP"},
        "initialDelaySeconds": delay,
        "periodSeconds": 10,
        "successThreshold": 1,
        "timeoutSeconds": 1,
    }


def _container(app: _App, version: str, *, defaults: bool = True) -> Obj:
    """The app's container; ``defaults=False`` gives it as written in the manifest."""
    c: Obj = {"name": app.name, "image": app.image(version)}
    if app.args:
        c["args"] = list(app.args)
    env = [{"name": k, "value": v} for k, v in app.env]
    if app.db_secret:
        env += [
            {"name": var, "valueFrom": {"secretKeyRef": {"key": key, "name": app.db_secret}}}
            for var, key in (("DB_USER", "username"), ("DB_PASSWORD", "password"))
        ]
    if env:
        c["env"] = env
    if app.config:
        c["envFrom"] = [{"configMapRef": {"name": app.config}}]
    ports = app.ports or (("http", app.port, "TCP"),)
    c["ports"] = [{"containerPort": p, "name": n, "protocol": proto} for n, p, proto in ports]
    if app.probes:
        (live_path, live_port), (ready_path, ready_port) = app.probes
        c["livenessProbe"] = _probe(live_path, live_port, 10)
        c["readinessProbe"] = _probe(ready_path, ready_port, 5)
    c["resources"] = {
        "limits": {"memory": app.memory_limit},
        "requests": {"cpu": app.cpu, "memory": app.memory},
    }
    if app.config_volume:
        c["volumeMounts"] = [
            {"mountPath": app.config_volume[1], "name": "config-volume", "readOnly": True}
        ]
    if defaults:
        c["imagePullPolicy"] = "IfNotPresent"
        c["terminationMessagePath"] = "/dev/termination-log"
        c["terminationMessagePolicy"] = "FallbackToLogsOnError" if app.manager == "helm" else "File"
    return c


def _template(app: _App, version: str) -> Obj:
    meta: Obj = {"creationTimestamp": None, "labels": app.selector()}
    if app.probes and app.manager != "kubeadm":
        meta["annotations"] = {"prometheus.io/port": str(app.port), "prometheus.io/scrape": "true"}
    spec: Obj = {
        "containers": [_container(app, version)],
        "dnsPolicy": "Default" if app.name == "coredns" else "ClusterFirst",
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "securityContext": {},
        "terminationGracePeriodSeconds": 30,
    }
    if app.node_pool:
        spec["nodeSelector"] = {"node.example.com/pool": app.node_pool}
    if app.service_account:
        spec["serviceAccount"] = spec["serviceAccountName"] = app.service_account
    if app.priority_class:
        spec["priorityClassName"] = app.priority_class
    if app.name == "coredns":
        spec["tolerations"] = [
            {"key": "CriticalAddonsOnly", "operator": "Exists"},
            {"effect": "NoSchedule", "key": "node-role.kubernetes.io/control-plane"},
        ]
    if app.config_volume:
        spec["volumes"] = [
            {
                "configMap": {
                    "defaultMode": 420,
                    "items": [{"key": "Corefile", "path": "Corefile"}],
                    "name": app.config_volume[0],
                },
                "name": "config-volume",
            }
        ]
    return {"metadata": meta, "spec": spec}


def _template_hash(template: Obj) -> str:
    text = json.dumps(template, sort_keys=True)
    return _token(9 + _pick(2, text), text)


def _deployment(sim: _Sim, app: _App, version: str) -> Obj:
    created = sim.now
    annotations: dict[str, str] = {}
    if app.manager == "helm":
        annotations.update(_helm_annotations(app.name, app.namespace))
    obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(
            sim,
            "Deployment",
            app.name,
            app.namespace,
            created,
            labels=app.object_labels(version),
            annotations=annotations,
            generation=1,
        ),
        "spec": {
            "progressDeadlineSeconds": app.progress_deadline,
            "replicas": app.replicas,
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": app.selector()},
            "strategy": {
                "rollingUpdate": {"maxSurge": app.max_surge, "maxUnavailable": app.max_unavailable},
                "type": "RollingUpdate",
            },
            "template": _template(app, version),
        },
        "status": {},
    }
    _write_deployment_spec(sim, obj, app, version)
    return obj


def _write_deployment_spec(sim: _Sim, deploy: Obj, app: _App, version: str) -> None:
    """The app's owner (helm, argocd, kubectl, kubeadm) writes labels and spec."""
    meta = deploy["metadata"]
    meta["labels"] = app.object_labels(version)
    deploy["spec"]["template"] = _template(app, version)
    owned = [("metadata", "labels"), ("spec",)]
    if app.manager in ("argocd-controller", "kubectl-client-side-apply"):
        container = _container(app, version, defaults=False)
        meta.setdefault("annotations", {})[_LAST_APPLIED] = _applied(
            deploy,
            spec={
                "replicas": app.replicas,
                "selector": {"matchLabels": app.selector()},
                "template": {
                    "metadata": {"labels": app.selector()},
                    "spec": {"containers": [container]},
                },
            },
        )
        owned.append(("metadata", "annotations", _LAST_APPLIED))
    if app.manager == "helm":
        owned += [("metadata", "annotations", key) for key in _helm_annotations("", "")]
    _touch(deploy, app.manager, sim.now, *owned)


def _replica_set(sim: _Sim, deploy: Obj, revision: int) -> Obj:
    template = copy.deepcopy(deploy["spec"]["template"])
    pod_hash = _template_hash(template)
    template["metadata"]["labels"]["pod-template-hash"] = pod_hash
    name = f"{deploy['metadata']['name']}-{pod_hash}"
    desired = deploy["spec"]["replicas"]
    annotations = {
        k: v for k, v in deploy["metadata"].get("annotations", {}).items() if k != _LAST_APPLIED
    }
    annotations.update(
        {
            "deployment.kubernetes.io/desired-replicas": str(desired),
            "deployment.kubernetes.io/max-replicas": str(desired + _surge(deploy)),
            "deployment.kubernetes.io/revision": str(revision),
        }
    )
    obj = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": _meta(
            sim,
            "ReplicaSet",
            name,
            deploy["metadata"]["namespace"],
            sim.now,
            labels=template["metadata"]["labels"],
            annotations=annotations,
            owner=deploy,
            generation=1,
        ),
        "spec": {
            "replicas": 0,
            "selector": {
                "matchLabels": {
                    **deploy["spec"]["selector"]["matchLabels"],
                    "pod-template-hash": pod_hash,
                }
            },
            "template": template,
        },
        "status": {"replicas": 0},
    }
    _touch(
        obj,
        _KCM,
        sim.now,
        ("metadata", "annotations"),
        ("metadata", "labels"),
        ("metadata", "ownerReferences"),
        ("spec",),
    )
    return obj


def _statefulset(sim: _Sim, app: _App, version: str, *, claim: Obj) -> Obj:
    """A one-replica StatefulSet whose pod mounts ``claim`` (a volumeClaimTemplate
    when the claim has no name yet, else an existing PVC)."""
    template = _template(app, version)
    template["spec"]["containers"][0]["volumeMounts"] = [
        {"mountPath": claim["mountPath"], "name": claim["volume"]}
    ]
    spec: Obj = {
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
        "podManagementPolicy": "OrderedReady",
        "replicas": app.replicas,
        "revisionHistoryLimit": 10,
        "selector": {"matchLabels": app.selector()},
        "serviceName": app.name,
        "template": template,
        "updateStrategy": {"rollingUpdate": {"partition": 0}, "type": "RollingUpdate"},
    }
    if claim.get("template"):
        spec["volumeClaimTemplates"] = [
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"creationTimestamp": None, "name": claim["volume"]},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": claim["size"]}},
                    "storageClassName": claim["class"],
                    "volumeMode": "Filesystem",
                },
                "status": {"phase": "Pending"},
            }
        ]
    else:
        template["spec"]["volumes"] = [
            {"name": claim["volume"], "persistentVolumeClaim": {"claimName": claim["name"]}}
        ]
    annotations = _helm_annotations(app.name, app.namespace) if app.manager == "helm" else {}
    obj = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": _meta(
            sim,
            "StatefulSet",
            app.name,
            app.namespace,
            sim.now,
            labels=app.object_labels(version),
            annotations=annotations,
            generation=1,
        ),
        "spec": spec,
        "status": {"availableReplicas": 0, "replicas": 0},
    }
    if app.manager == "kubectl-client-side-apply":
        obj["metadata"]["annotations"] = {
            _LAST_APPLIED: _applied(
                obj,
                spec={
                    "replicas": app.replicas,
                    "selector": {"matchLabels": app.selector()},
                    "serviceName": app.name,
                    "template": {
                        "metadata": {"labels": app.selector()},
                        "spec": {
                            "containers": [_container(app, version, defaults=False)],
                            "volumes": template["spec"].get("volumes", []),
                        },
                    },
                },
            )
        }
    _touch(
        obj, app.manager, sim.now, ("metadata", "labels"), ("metadata", "annotations"), ("spec",)
    )
    return obj


# -- Pod ----------------------------------------------------------------------------


def _pod(
    sim: _Sim,
    owner: Obj,
    template: Obj,
    name: str,
    *,
    generate_name: str | None = None,
    extra_labels: Mapping[str, str] | None = None,
    finalizers: list[str] | None = None,
) -> Obj:
    """A pod as a controller creates it, after admission (service account token
    volume, default tolerations, priority): Pending, not yet scheduled."""
    tpl = copy.deepcopy(template)
    labels = {**tpl["metadata"].get("labels", {}), **(extra_labels or {})}
    spec = tpl["spec"]
    token_volume = f"kube-api-access-{_token(5, sim.seed, 'sa', name)}"
    for container in spec["containers"]:
        container.setdefault("volumeMounts", []).append(
            {"mountPath": _SA_MOUNT, "name": token_volume, "readOnly": True}
        )
    spec.setdefault("volumes", []).append(
        {
            "name": token_volume,
            "projected": {
                "defaultMode": 420,
                "sources": [
                    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                    {
                        "configMap": {
                            "items": [{"key": "ca.crt", "path": "ca.crt"}],
                            "name": "kube-root-ca.crt",
                        }
                    },
                    {
                        "downwardAPI": {
                            "items": [
                                {
                                    "fieldRef": {
                                        "apiVersion": "v1",
                                        "fieldPath": "metadata.namespace",
                                    },
                                    "path": "namespace",
                                }
                            ]
                        }
                    },
                ],
            },
        }
    )
    account = spec.get("serviceAccountName", "default")
    spec["serviceAccount"] = spec["serviceAccountName"] = account
    spec["enableServiceLinks"] = True
    spec["preemptionPolicy"] = "PreemptLowerPriority"
    spec["priority"] = 2_000_000_000 if spec.get("priorityClassName") else 0
    spec["tolerations"] = [
        *spec.get("tolerations", []),
        *(
            {
                "effect": "NoExecute",
                "key": f"node.kubernetes.io/{key}",
                "operator": "Exists",
                "tolerationSeconds": 300,
            }
            for key in ("not-ready", "unreachable")
        ),
    ]
    obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": _meta(
            sim,
            "Pod",
            name,
            owner["metadata"]["namespace"],
            sim.now,
            labels=labels,
            annotations=tpl["metadata"].get("annotations"),
            owner=owner,
            generate_name=generate_name,
            finalizers=finalizers,
        ),
        "spec": spec,
        "status": {"phase": "Pending", "qosClass": "Burstable"},
    }
    _touch(
        obj,
        _KCM,
        sim.now,
        *([("metadata", "generateName")] if generate_name else []),
        ("metadata", "annotations"),
        ("metadata", "labels"),
        ("metadata", "ownerReferences"),
        ("spec",),
    )
    return obj


def _cstatus(pod: Obj) -> Obj:
    return pod["status"]["containerStatuses"][0]


def _container_spec(pod: Obj) -> Obj:
    return pod["spec"]["containers"][0]


def _image_id(image: str) -> str:
    repo = image.rsplit(":", 1)[0]
    return f"{repo}@sha256:{_hex(64, 'image', image)}"


def _container_id(pod: Obj, restarts: int) -> str:
    return f"containerd://{_hex(64, pod['metadata']['uid'], restarts)}"


def _is_ready(pod: Obj) -> bool:
    return any(
        c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", ())
    )


def _is_active(pod: Obj) -> bool:
    return not pod["metadata"].get("deletionTimestamp") and pod["status"]["phase"] not in (
        "Succeeded",
        "Failed",
    )


_POD_CONDITION_ORDER = (
    "PodReadyToStartContainers",
    "Initialized",
    "Ready",
    "ContainersReady",
    "PodScheduled",
    "DisruptionTarget",
)


def _pod_conditions(
    pod: Obj, when: datetime, *, sandbox: bool, ready: bool, completed: bool = False
) -> None:
    conditions = pod["status"].setdefault("conditions", [])
    name = _container_spec(pod)["name"]
    reason, message = (
        ("PodCompleted", None)
        if completed
        else ("ContainersNotReady", f"containers with unready status: [{name}]")
    )
    for type_, ok in (
        ("PodReadyToStartContainers", sandbox),
        ("Initialized", True),
        ("Ready", ready),
        ("ContainersReady", ready),
    ):
        not_ready = type_ in ("Ready", "ContainersReady") and not ok
        _condition(
            conditions,
            type_,
            "True" if ok else "False",
            when,
            reason=reason if not_ready else None,
            message=message if not_ready else None,
            lastProbeTime=None,
        )
    conditions.sort(key=lambda c: _POD_CONDITION_ORDER.index(c["type"]))


def _kubelet_update(sim: _Sim, pod: Obj) -> None:
    _touch(pod, "kubelet", sim.now, ("status",), subresource="status")
    sim.update(pod)
    _sync_owner(sim, pod)


def _kubelet_alive(sim: _Sim, pod: Obj) -> bool:
    return (
        sim.alive(pod)
        and not pod["metadata"].get("deletionTimestamp")
        and pod["spec"].get("nodeName") not in sim.down
    )


# -- Job, CronJob -----------------------------------------------------------------


def _cronjob(sim: _Sim, name: str, namespace: str, image: str, schedule: str) -> Obj:
    container = {
        "args": ["--since=1h", "--to=s3://reports/hourly/"],
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "name": name,
        "resources": {
            "limits": {"memory": "256Mi"},
            "requests": {"cpu": "100m", "memory": "128Mi"},
        },
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    }
    obj = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": _meta(sim, "CronJob", name, namespace, sim.now, generation=1),
        "spec": {
            "concurrencyPolicy": "Forbid",
            "failedJobsHistoryLimit": 1,
            "jobTemplate": {
                "metadata": {"creationTimestamp": None},
                "spec": {
                    "backoffLimit": 2,
                    "template": {
                        "metadata": {"creationTimestamp": None, "labels": {"app": name}},
                        "spec": {
                            "containers": [container],
                            "dnsPolicy": "ClusterFirst",
                            "nodeSelector": {"node.example.com/pool": "batch"},
                            "restartPolicy": "OnFailure",
                            "schedulerName": "default-scheduler",
                            "securityContext": {},
                            "terminationGracePeriodSeconds": 30,
                        },
                    },
                },
            },
            "schedule": schedule,
            "successfulJobsHistoryLimit": 3,
            "suspend": False,
        },
        "status": {},
    }
    applied_container = {k: container[k] for k in ("args", "image", "name", "resources")}
    obj["metadata"]["annotations"] = {
        _LAST_APPLIED: _applied(
            obj,
            spec={
                "concurrencyPolicy": "Forbid",
                "jobTemplate": {
                    "spec": {
                        "backoffLimit": 2,
                        "template": {
                            "metadata": {"labels": {"app": name}},
                            "spec": {
                                "containers": [applied_container],
                                "nodeSelector": {"node.example.com/pool": "batch"},
                                "restartPolicy": "OnFailure",
                            },
                        },
                    }
                },
                "schedule": schedule,
            },
        )
    }
    _touch(obj, "kubectl-client-side-apply", sim.now, ("metadata", "annotations"), ("spec",))
    return obj


def _job(sim: _Sim, cron: Obj, scheduled: datetime) -> Obj:
    name = f"{cron['metadata']['name']}-{int(scheduled.timestamp()) // 60}"
    namespace = cron["metadata"]["namespace"]
    uid = sim.uid("Job", namespace, name)
    labels = {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": name,
        "controller-uid": uid,
        "job-name": name,
    }
    spec = copy.deepcopy(cron["spec"]["jobTemplate"]["spec"])
    spec["template"]["metadata"]["labels"].update(labels)
    spec.update(
        completionMode="NonIndexed",
        completions=1,
        manualSelector=False,
        parallelism=1,
        podReplacementPolicy="TerminatingOrFailed",
        selector={"matchLabels": {"batch.kubernetes.io/controller-uid": uid}},
        suspend=False,
    )
    obj = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _meta(
            sim,
            "Job",
            name,
            namespace,
            sim.now,
            labels=labels,
            annotations={"batch.kubernetes.io/cronjob-scheduled-timestamp": _ts(scheduled)},
            owner=cron,
            generation=1,
        ),
        "spec": spec,
        "status": {},
    }
    _touch(
        obj,
        _KCM,
        sim.now,
        ("metadata", "annotations"),
        ("metadata", "ownerReferences"),
        ("spec", "backoffLimit"),
        ("spec", "template"),
    )
    return obj


# == controllers ===================================================================


def _scaled(value: int | str, total: int, *, up: bool) -> int:
    if isinstance(value, int):
        return value
    fraction = int(value.rstrip("%")) * total
    return -(-fraction // 100) if up else fraction // 100


def _surge(deploy: Obj) -> int:
    rolling = deploy["spec"]["strategy"]["rollingUpdate"]
    return _scaled(rolling["maxSurge"], deploy["spec"]["replicas"], up=True)


def _max_unavailable(deploy: Obj) -> int:
    rolling = deploy["spec"]["strategy"]["rollingUpdate"]
    unavailable = _scaled(rolling["maxUnavailable"], deploy["spec"]["replicas"], up=False)
    return 1 if unavailable == 0 and _surge(deploy) == 0 else unavailable


def _revision(obj: Obj) -> int:
    return int(obj["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision", 0))


def _sync_owner(sim: _Sim, pod: Obj) -> None:
    """Status writers reacting to a pod change (the informers' event handlers)."""
    for ref in pod["metadata"].get("ownerReferences", ()):
        owner = sim.live.get(ref["uid"])
        if owner is None:
            continue
        if owner["kind"] == "ReplicaSet":
            deploy = sim.live.get(owner["metadata"]["ownerReferences"][0]["uid"])
            if deploy is not None:
                _sync_deployment(sim, deploy)
        elif owner["kind"] == "StatefulSet":
            _sync_statefulset(sim, owner)


def _sync_replica_set(sim: _Sim, rs: Obj) -> None:
    pods = [p for p in sim.owned(rs, "Pod") if _is_active(p)]
    ready = sum(_is_ready(p) for p in pods)
    status: Obj = {"observedGeneration": rs["metadata"]["generation"], "replicas": len(pods)}
    if pods:
        status["fullyLabeledReplicas"] = len(pods)
    if ready:
        status["availableReplicas"] = status["readyReplicas"] = ready
    if status != rs["status"]:
        rs["status"] = status
        _touch(rs, _KCM, sim.now, ("status",), subresource="status")
        sim.update(rs)


def _deployment_condition(
    conditions: list[Obj],
    type_: str,
    status: str,
    when: datetime,
    reason: str,
    message: str,
    *,
    progressed: bool = False,
) -> None:
    cond = next((c for c in conditions if c["type"] == type_), None)
    before = dict(cond) if cond else None
    _condition(conditions, type_, status, when, reason=reason, message=message)
    cond = next(c for c in conditions if c["type"] == type_)
    if (
        progressed
        or before is None
        or {**before, "lastUpdateTime": None} != {**cond, "lastUpdateTime": None}
    ):
        cond["lastUpdateTime"] = _ts(when)


def _sync_deployment(
    sim: _Sim,
    deploy: Obj,
    *,
    progressing: tuple[str, str, str] | None = None,
    progressed: bool = False,
) -> None:
    """The deployment controller's status write, from its ReplicaSets' pods."""
    replica_sets = sim.owned(deploy, "ReplicaSet")
    for rs in replica_sets:
        _sync_replica_set(sim, rs)
    revision = _revision(deploy)
    new = next((rs for rs in replica_sets if _revision(rs) == revision), None)
    desired = deploy["spec"]["replicas"]
    available = sum(rs["status"].get("availableReplicas", 0) for rs in replica_sets)
    counts = (
        ("replicas", sum(rs["status"]["replicas"] for rs in replica_sets)),
        ("updatedReplicas", new["status"]["replicas"] if new else 0),
        ("readyReplicas", sum(rs["status"].get("readyReplicas", 0) for rs in replica_sets)),
        ("availableReplicas", available),
        (
            "unavailableReplicas",
            max(sum(rs["spec"]["replicas"] for rs in replica_sets) - available, 0),
        ),
    )
    status: Obj = {"observedGeneration": deploy["metadata"]["generation"]}
    status.update((key, value) for key, value in counts if value)
    conditions = copy.deepcopy(deploy["status"].get("conditions", []))
    if available >= desired - _max_unavailable(deploy):
        _deployment_condition(
            conditions,
            "Available",
            "True",
            sim.now,
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
        )
    else:
        _deployment_condition(
            conditions,
            "Available",
            "False",
            sim.now,
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
        )
    if progressing:
        cond_status, reason, message = progressing
        _deployment_condition(
            conditions, "Progressing", cond_status, sim.now, reason, message, progressed=progressed
        )
    status["conditions"] = sorted(conditions, key=lambda c: c["type"])
    if status != deploy["status"]:
        deploy["status"] = status
        _touch(deploy, _KCM, sim.now, ("status",), subresource="status")
        sim.update(deploy)


def _sync_statefulset(sim: _Sim, sts: Obj) -> None:
    pods = [p for p in sim.owned(sts, "Pod") if _is_active(p)]
    ready = sum(_is_ready(p) for p in pods)
    revision = f"{sts['metadata']['name']}-{_template_hash(sts['spec']['template'])}"
    status: Obj = {
        "availableReplicas": ready,
        "collisionCount": 0,
        "currentReplicas": len(pods),
        "currentRevision": revision,
        "observedGeneration": sts["metadata"]["generation"],
        "replicas": len(pods),
        "updateRevision": revision,
        "updatedReplicas": len(pods),
    }
    if ready:
        status["readyReplicas"] = ready
    if status != sts["status"]:
        sts["status"] = status
        _touch(sts, _KCM, sim.now, ("status",), subresource="status")
        sim.update(sts)


# -- replica set controller ---------------------------------------------------------


def _reconcile_replica_set(sim: _Sim, rs: Obj) -> None:
    """Create or delete pods until the ReplicaSet has ``spec.replicas`` active ones."""
    pods = [p for p in sim.owned(rs, "Pod") if _is_active(p)]
    missing = rs["spec"]["replicas"] - len(pods)
    rs_name = rs["metadata"]["name"]
    for _ in range(missing):
        number = sim.next_number(rs["metadata"]["uid"])
        name = f"{rs_name}-{_token(5, sim.seed, rs_name, number)}"
        pod = sim.create(_pod(sim, rs, rs["spec"]["template"], name, generate_name=f"{rs_name}-"))
        sim.record(
            rs, "SuccessfulCreate", f"Created pod: {name}", component="replicaset-controller"
        )
        sim.later(1, _pod_lifecycle(sim, pod))
    if missing < 0:
        # The controller's ranking: unscheduled, not running, not ready, doubled up
        # on a node with more of this ReplicaSet's pods, restarted more, newer: first.
        per_node: dict[str | None, int] = {}
        for pod in pods:
            per_node[pod["spec"].get("nodeName")] = per_node.get(pod["spec"].get("nodeName"), 0) + 1
        victims = sorted(
            pods,
            key=lambda p: (
                bool(p["spec"].get("nodeName")),
                p["status"]["phase"] == "Running",
                _is_ready(p),
                -per_node[p["spec"].get("nodeName")],
                -sum(c.get("restartCount", 0) for c in p["status"].get("containerStatuses", ())),
                -_parse(p["metadata"]["creationTimestamp"]).timestamp(),
            ),
        )
        for pod in victims[:-missing]:
            sim.record(
                rs,
                "SuccessfulDelete",
                f"Deleted pod: {pod['metadata']['name']}",
                component="replicaset-controller",
            )
            _start_termination(sim, pod)
    _sync_owner_of_rs(sim, rs)


def _sync_owner_of_rs(sim: _Sim, rs: Obj) -> None:
    deploy = sim.live.get(rs["metadata"]["ownerReferences"][0]["uid"])
    if deploy is not None:
        _sync_deployment(sim, deploy)


def _scale(sim: _Sim, deploy: Obj, rs: Obj, replicas: int) -> None:
    old = rs["spec"]["replicas"]
    rs["spec"]["replicas"] = replicas
    rs["metadata"]["generation"] += 1
    rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] = str(
        deploy["spec"]["replicas"]
    )
    _touch(rs, _KCM, sim.now, ("metadata", "annotations"), ("spec", "replicas"))
    sim.update(rs)
    name = rs["metadata"]["name"]
    direction = "up" if replicas > old else "down"
    message = f"Scaled {direction} replica set {name} to {replicas}" + (
        f" from {old}" if old else ""
    )
    sim.record(deploy, "ScalingReplicaSet", message, component="deployment-controller")
    _reconcile_replica_set(sim, rs)


def _start_termination(sim: _Sim, pod: Obj, grace: int = 30) -> None:
    pod["metadata"]["deletionTimestamp"] = _ts(sim.now + timedelta(seconds=grace))
    pod["metadata"]["deletionGracePeriodSeconds"] = grace
    sim.update(pod)
    sim.later(1, _kubelet_terminate(sim, pod))


def _kubelet_terminate(sim: _Sim, pod: Obj) -> Process:
    """The kubelet stops a pod being deleted, then confirms the deletion."""
    node = pod["spec"].get("nodeName")
    if node is None:
        sim.delete(pod)
        return
    if node in sim.down:
        return  # nobody confirms: the pod stays Terminating
    name = _container_spec(pod)["name"]
    sim.record(
        pod,
        "Killing",
        f"Stopping container {name}",
        host=node,
        field_path=f"spec.containers{{{name}}}",
    )
    yield 2 + _pick(3, pod["metadata"]["uid"])
    if not pod["status"].get("containerStatuses"):
        sim.delete(pod)
        _sync_owner(sim, pod)
        return
    cs = _cstatus(pod)
    running = cs["state"].get("running")
    if running:
        cs["state"] = {
            "terminated": {
                "containerID": cs["containerID"],
                "exitCode": 0,
                "finishedAt": _ts(sim.now),
                "reason": "Completed",
                "startedAt": running["startedAt"],
            }
        }
    cs.update(ready=False, started=False)
    pod["status"]["phase"] = "Succeeded"
    _pod_conditions(pod, sim.now, sandbox=False, ready=False, completed=True)
    _kubelet_update(sim, pod)
    yield 1
    sim.delete(pod)
    _sync_owner(sim, pod)


# -- deployment controller ------------------------------------------------------------


def _rollout(sim: _Sim, deploy: Obj) -> Process:
    """The deployment controller during a rolling update: new ReplicaSet up, old
    ones down, within maxSurge / maxUnavailable, until done; past
    ``progressDeadlineSeconds`` without progress it reports ProgressDeadlineExceeded."""
    template_hash = _template_hash(deploy["spec"]["template"])
    replica_sets = sim.owned(deploy, "ReplicaSet")
    new = next(
        (
            rs
            for rs in replica_sets
            if rs["metadata"]["labels"]["pod-template-hash"] == template_hash
        ),
        None,
    )
    if new is None:
        revision = max((_revision(rs) for rs in replica_sets), default=0) + 1
        new = sim.create(_replica_set(sim, deploy, revision))
        annotations = deploy["metadata"].setdefault("annotations", {})
        annotations["deployment.kubernetes.io/revision"] = str(revision)
        _touch(
            deploy, _KCM, sim.now, ("metadata", "annotations", "deployment.kubernetes.io/revision")
        )
        sim.update(deploy)
    new_name = new["metadata"]["name"]
    _sync_deployment(
        sim,
        deploy,
        progressing=("True", "NewReplicaSetCreated", f'Created new replica set "{new_name}"'),
    )
    last_progress = sim.now
    exceeded = False
    available_before = -1
    while True:
        desired = deploy["spec"]["replicas"]
        progressed = _rolling_step(sim, deploy, new)
        available = new["status"].get("availableReplicas", 0)
        if available > available_before >= 0:
            progressed = True
        available_before = available
        olds = [rs for rs in sim.owned(deploy, "ReplicaSet") if rs is not new]
        if available == desired and not any(rs["spec"]["replicas"] for rs in olds):
            _sync_deployment(
                sim,
                deploy,
                progressing=(
                    "True",
                    "NewReplicaSetAvailable",
                    f'ReplicaSet "{new_name}" has successfully progressed.',
                ),
                progressed=True,
            )
            return
        if progressed and not exceeded:
            last_progress = sim.now
            _sync_deployment(
                sim,
                deploy,
                progressing=(
                    "True",
                    "ReplicaSetUpdated",
                    f'ReplicaSet "{new_name}" is progressing.',
                ),
                progressed=True,
            )
        deadline = deploy["spec"]["progressDeadlineSeconds"]
        if not exceeded and (sim.now - last_progress).total_seconds() > deadline:
            exceeded = True
            _sync_deployment(
                sim,
                deploy,
                progressing=(
                    "False",
                    "ProgressDeadlineExceeded",
                    f'ReplicaSet "{new_name}" has timed out progressing.',
                ),
            )
        yield 5


def _rolling_step(sim: _Sim, deploy: Obj, new: Obj) -> bool:
    desired = deploy["spec"]["replicas"]
    replica_sets = sim.owned(deploy, "ReplicaSet")
    olds = sorted(
        (rs for rs in replica_sets if rs is not new and rs["spec"]["replicas"] > 0),
        key=lambda rs: rs["metadata"]["creationTimestamp"],
    )
    total = sum(rs["spec"]["replicas"] for rs in replica_sets)
    changed = False
    if new["spec"]["replicas"] < desired:
        allowed = desired + _surge(deploy) - total
        if allowed > 0:
            _scale(sim, deploy, new, min(desired, new["spec"]["replicas"] + allowed))
            changed = True
    if olds:
        total = sum(rs["spec"]["replicas"] for rs in sim.owned(deploy, "ReplicaSet"))
        min_available = desired - _max_unavailable(deploy)
        new_unavailable = new["spec"]["replicas"] - new["status"].get("availableReplicas", 0)
        room = total - min_available - new_unavailable
        available = sum(rs["status"].get("availableReplicas", 0) for rs in replica_sets)
        room = min(room, available - min_available)
        for rs in olds:
            if room <= 0:
                break
            step = min(rs["spec"]["replicas"], room)
            _scale(sim, deploy, rs, rs["spec"]["replicas"] - step)
            room -= step
            changed = True
    return changed


# -- scheduler ------------------------------------------------------------------------


def _tolerates(pod: Obj, taint: Obj) -> bool:
    for tol in pod["spec"].get("tolerations", ()):
        key_ok = (tol.get("operator") == "Exists" and not tol.get("key")) or tol.get(
            "key"
        ) == taint["key"]
        if key_ok and tol.get("effect") in (None, taint["effect"]):
            return True
    return False


def _feasible(pod: Obj, node: Obj) -> bool:
    ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
    if ready["status"] != "True":
        return False
    if any(not _tolerates(pod, t) for t in node["spec"].get("taints", ())):
        return False
    labels = node["metadata"]["labels"]
    return all(labels.get(k) == v for k, v in pod["spec"].get("nodeSelector", {}).items())


def _app_labels(pod: Obj) -> dict[str, str]:
    skip = ("pod-template-hash", "controller-revision-hash", "statefulset.kubernetes.io/pod-name")
    return {k: v for k, v in pod["metadata"].get("labels", {}).items() if k not in skip}


def _unschedulable(sim: _Sim, pod: Obj) -> str | None:
    n = len(sim.nodes)
    for volume in pod["spec"].get("volumes", ()):
        claim = volume.get("persistentVolumeClaim")
        if claim is None:
            continue
        pvc = sim.find("PersistentVolumeClaim", pod["metadata"]["namespace"], claim["claimName"])
        if pvc is None or pvc["status"]["phase"] != "Bound":
            return (
                f"0/{n} nodes are available: pod has unbound immediate PersistentVolumeClaims. "
                f"preemption: 0/{n} nodes are available: {n} Preemption is not helpful "
                "for scheduling."
            )
    return None


def _schedule(sim: _Sim, pod: Obj) -> Generator[int | timedelta, None, str | None]:
    """kube-scheduler: bind to the feasible node with the fewest pods of the same
    app (then the fewest pods), or report why not and retry every 5 minutes.
    Returns the node name (``None`` if the pod went away)."""
    while True:
        if not sim.alive(pod) or pod["metadata"].get("deletionTimestamp"):
            return None
        problem = _unschedulable(sim, pod)
        if problem is None:
            break
        if _condition(
            pod["status"].setdefault("conditions", []),
            "PodScheduled",
            "False",
            sim.now,
            reason="Unschedulable",
            message=problem,
            lastProbeTime=None,
        ):
            _touch(pod, "kube-scheduler", sim.now, ("status", "conditions"), subresource="status")
            sim.update(pod)
        sim.record_scheduler(pod, "FailedScheduling", problem, type_="Warning", action="Scheduling")
        yield 300
    app = _app_labels(pod)

    def load(node: str) -> tuple[int, int, int]:
        pods = [p for p in sim.pods_on(node) if _is_active(p)]
        return (sum(_app_labels(p) == app for p in pods), len(pods), -_NODE_INDEX[node])

    candidates = [name for name, node in sim.nodes.items() if _feasible(pod, node)]
    node = min(candidates, key=load)
    pod["spec"]["nodeName"] = node
    _condition(
        pod["status"].setdefault("conditions", []),
        "PodScheduled",
        "True",
        sim.now,
        lastProbeTime=None,
    )
    sim.update(pod)
    ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
    sim.record_scheduler(
        pod,
        "Scheduled",
        f"Successfully assigned {ns}/{name} to {node}",
        type_="Normal",
        action="Binding",
    )
    return node


# -- kubelet --------------------------------------------------------------------------


def _pod_lifecycle(sim: _Sim, pod: Obj) -> Process:
    node = yield from _schedule(sim, pod)
    if node is None:
        return
    yield 1
    yield from _kubelet_run(sim, pod)


def _kubelet_run(sim: _Sim, pod: Obj) -> Process:
    if not _kubelet_alive(sim, pod):
        return
    node = pod["spec"]["nodeName"]
    container = _container_spec(pod)
    image = container["image"]
    status = pod["status"]
    status.update(
        hostIP=sim.nodes[node]["status"]["addresses"][0]["address"], startTime=_ts(sim.now)
    )
    status["hostIPs"] = [{"ip": status["hostIP"]}]
    status["containerStatuses"] = [
        {
            "image": image,
            "imageID": "",
            "lastState": {},
            "name": container["name"],
            "ready": False,
            "restartCount": 0,
            "started": False,
            "state": {"waiting": {"reason": "ContainerCreating"}},
        }
    ]
    _pod_conditions(pod, sim.now, sandbox=False, ready=False)
    _kubelet_update(sim, pod)
    yield 2
    if not _kubelet_alive(sim, pod):
        return
    cidr = sim.nodes[node]["spec"]["podCIDR"].rsplit(".", 1)[0]
    status["podIP"] = f"{cidr}.{2 + _pick(250, pod['metadata']['uid'])}"
    status["podIPs"] = [{"ip": status["podIP"]}]
    behaviour = sim.behaviour.get(image, _Runs())
    if isinstance(behaviour, _MissingImage):
        yield from _image_pull_backoff(sim, pod)
        return
    yield from _pull(sim, pod)
    _start_container(sim, pod, restarts=0)
    if isinstance(behaviour, _Runs):
        if container.get("readinessProbe"):
            yield behaviour.ready_after
            if not _kubelet_alive(sim, pod):
                return
            _cstatus(pod)["ready"] = True
            _pod_conditions(pod, sim.now, sandbox=True, ready=True)
            _kubelet_update(sim, pod)
    elif isinstance(behaviour, _Completes):
        yield behaviour.runtime + _pick(30, pod["metadata"]["uid"])
        if _kubelet_alive(sim, pod):
            _complete(sim, pod)
    else:
        yield from _crash_loop(sim, pod, behaviour, first_in=behaviour.runtime)


def _container_event(sim: _Sim, pod: Obj, reason: str, message: str, type_: str = "Normal") -> None:
    name = _container_spec(pod)["name"]
    sim.record(
        pod,
        reason,
        message,
        type_=type_,
        host=pod["spec"]["nodeName"],
        field_path=f"spec.containers{{{name}}}",
    )


def _pull(sim: _Sim, pod: Obj) -> Process:
    node = pod["spec"]["nodeName"]
    image = _container_spec(pod)["image"]
    if image in sim.images[node]:
        _container_event(
            sim, pod, "Pulled", f'Container image "{image}" already present on machine'
        )
        return
    _container_event(sim, pod, "Pulling", f'Pulling image "{image}"')
    millis = 1200 + _pick(3800, image, node)
    yield millis // 1000 + 1
    took = f"{millis / 1000:.3f}s"
    _container_event(
        sim,
        pod,
        "Pulled",
        f'Successfully pulled image "{image}" in {took} ({took} including waiting)',
    )
    sim.images[node].add(image)


def _start_container(sim: _Sim, pod: Obj, *, restarts: int, last: Obj | None = None) -> None:
    container = _container_spec(pod)
    name = container["name"]
    _container_event(sim, pod, "Created", f"Created container {name}")
    _container_event(sim, pod, "Started", f"Started container {name}")
    ready = not container.get("readinessProbe")
    pod["status"]["phase"] = "Running"
    pod["status"]["containerStatuses"] = [
        {
            "containerID": _container_id(pod, restarts),
            "image": container["image"],
            "imageID": _image_id(container["image"]),
            "lastState": last or {},
            "name": name,
            "ready": ready,
            "restartCount": restarts,
            "started": True,
            "state": {"running": {"startedAt": _ts(sim.now)}},
        }
    ]
    _pod_conditions(pod, sim.now, sandbox=True, ready=ready)
    _kubelet_update(sim, pod)


def _complete(sim: _Sim, pod: Obj) -> None:
    cs = _cstatus(pod)
    cs["state"] = {
        "terminated": {
            "containerID": cs["containerID"],
            "exitCode": 0,
            "finishedAt": _ts(sim.now),
            "reason": "Completed",
            "startedAt": cs["state"]["running"]["startedAt"],
        }
    }
    cs.update(ready=False, started=False)
    pod["status"]["phase"] = "Succeeded"
    _pod_conditions(pod, sim.now, sandbox=False, ready=False, completed=True)
    _kubelet_update(sim, pod)


def _crash_loop(sim: _Sim, pod: Obj, crash: _Crashes, *, first_in: int) -> Process:
    """The container dies; the kubelet restarts it after a back-off doubling from
    10s to 5m; ``status`` shows CrashLoopBackOff with the last termination."""
    backoff = 10
    yield first_in
    container = _container_spec(pod)
    name, ns, pod_name = container["name"], pod["metadata"]["namespace"], pod["metadata"]["name"]
    uid = pod["metadata"]["uid"]
    while _kubelet_alive(sim, pod):
        cs = _cstatus(pod)
        restarts = cs["restartCount"]
        terminated: Obj = {
            "containerID": cs["containerID"],
            "exitCode": crash.exit_code,
            "finishedAt": _ts(sim.now),
            "reason": crash.reason,
            "startedAt": cs["state"]["running"]["startedAt"],
        }
        if crash.message and container["terminationMessagePolicy"] == "FallbackToLogsOnError":
            terminated["message"] = crash.message
        cs.update(
            lastState={"terminated": terminated},
            ready=False,
            started=False,
            state={
                "waiting": {
                    "message": f"back-off {_go_duration(backoff)} restarting failed "
                    f"container={name} pod={pod_name}_{ns}({uid})",
                    "reason": "CrashLoopBackOff",
                }
            },
        )
        _pod_conditions(pod, sim.now, sandbox=True, ready=False)
        _kubelet_update(sim, pod)
        node = pod["spec"]["nodeName"]
        if crash.oom_process:
            pid = 20_000 + _pick(40_000, uid, restarts)
            sim.record(
                sim.nodes[node],
                "SystemOOM",
                f"System OOM encountered, victim process: {crash.oom_process}, pid: {pid}",
                type_="Warning",
                host=node,
            )
        _container_event(
            sim,
            pod,
            "BackOff",
            f"Back-off restarting failed container {name} in pod {pod_name}_{ns}({uid})",
            "Warning",
        )
        yield backoff
        if not _kubelet_alive(sim, pod):
            return
        image = container["image"]
        _container_event(
            sim, pod, "Pulled", f'Container image "{image}" already present on machine'
        )
        _start_container(sim, pod, restarts=restarts + 1, last={"terminated": terminated})
        backoff = min(backoff * 2, 300)
        yield crash.runtime + (_pick(crash.jitter, uid, restarts) if crash.jitter else 0)


def _image_pull_backoff(sim: _Sim, pod: Obj) -> Process:
    """ErrImagePull, then ImagePullBackOff, retried with a back-off up to 5 minutes."""
    image = _container_spec(pod)["image"]
    not_found = (
        f'rpc error: code = NotFound desc = failed to pull and unpack image "{image}": '
        f'failed to resolve reference "{image}": {image}: not found'
    )
    backoff = 10
    while _kubelet_alive(sim, pod):
        _container_event(sim, pod, "Pulling", f'Pulling image "{image}"')
        yield 1
        if not _kubelet_alive(sim, pod):
            return
        _container_event(
            sim, pod, "Failed", f'Failed to pull image "{image}": {not_found}', "Warning"
        )
        _container_event(sim, pod, "Failed", "Error: ErrImagePull", "Warning")
        _cstatus(pod)["state"] = {"waiting": {"message": not_found, "reason": "ErrImagePull"}}
        _pod_conditions(pod, sim.now, sandbox=True, ready=False)
        _kubelet_update(sim, pod)
        yield 1 + _pick(10, pod["metadata"]["uid"], backoff)
        if not _kubelet_alive(sim, pod):
            return
        back_off = f'Back-off pulling image "{image}"'
        _container_event(sim, pod, "BackOff", back_off)
        _container_event(sim, pod, "Failed", "Error: ImagePullBackOff", "Warning")
        _cstatus(pod)["state"] = {"waiting": {"message": back_off, "reason": "ImagePullBackOff"}}
        _kubelet_update(sim, pod)
        yield backoff
        backoff = min(backoff * 2, 300)


def _heartbeats(sim: _Sim, name: str) -> Process:
    """The kubelet reports node status; only heartbeat times change."""
    yield _pick(600, sim.seed, name)
    node = sim.nodes[name]
    while name not in sim.down:
        for cond in node["status"]["conditions"]:
            cond["lastHeartbeatTime"] = _ts(sim.now)
        _touch(node, "kubelet", sim.now, ("status",), subresource="status")
        sim.update(node)
        yield 600 + _pick(300, sim.seed, name, sim.now)


# == scenario ======================================================================

_NODES = (
    _NodeInfo("control-plane-1", "10.0.0.10", "10.244.0.0/24", control_plane=True),
    _NodeInfo("worker-1", "10.0.1.11", "10.244.1.0/24"),
    _NodeInfo("worker-2", "10.0.1.12", "10.244.2.0/24", pool="batch"),
    _NodeInfo("worker-3", "10.0.1.13", "10.244.3.0/24"),
)

COREDNS = _App(
    "kube-system",
    "coredns",
    "registry.k8s.io/coredns/coredns",
    2,
    "kubeadm",
    history=((62.99, "v1.11.1"),),
    port=53,
    cpu="100m",
    memory="70Mi",
    memory_limit="170Mi",
    max_unavailable=1,
    probes=(("/health", 8080), ("/ready", 8181)),
    labels=(("k8s-app", "kube-dns"),),
    service_account="coredns",
    args=("-conf", "/etc/coredns/Corefile"),
    ports=(("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP")),
    config_volume=("coredns", "/etc/coredns"),
    priority_class="system-cluster-critical",
)
CHECKOUT = _App(
    "shop",
    "checkout",
    "registry.example.com/shop/checkout",
    3,
    "helm",
    history=((41, "1.4.1"), (6, "1.4.2")),
    cpu="200m",
    memory="256Mi",
    memory_limit="512Mi",
    max_surge=1,
    max_unavailable=1,
    progress_deadline=1200,
    config="checkout-config",
)
FRONTEND = _App(
    "shop",
    "frontend",
    "registry.example.com/shop/frontend",
    2,
    "helm",
    history=((41, "2.8.0"), (3, "2.8.1")),
    port=3000,
    memory_limit="384Mi",
)
CART = _App(
    "shop",
    "cart",
    "registry.example.com/shop/cart",
    2,
    "helm",
    history=((41, "1.11.4"), (9, "1.12.0")),
    env=(("LOG_LEVEL", "info"), ("REDIS_ADDR", "cart-redis:6379")),
)
PAYMENT_API = _App(
    "payments",
    "payment-api",
    "registry.example.com/payments/payment-api",
    2,
    "argocd-controller",
    history=((34, "v2.2.4"), (2, "v2.3.0")),
    cpu="250m",
    memory="256Mi",
    memory_limit="512Mi",
    db_secret="payment-db-credentials",
    env=(("FRAUD_CHECK_URL", "http://fraud-check.payments:8080"),),
)
FRAUD_CHECK = _App(
    "payments",
    "fraud-check",
    "registry.example.com/payments/fraud-check",
    1,
    "argocd-controller",
    history=((34, "0.9.3"), (12, "0.9.4")),
)
ETL_WORKER = _App(
    "data",
    "etl-worker",
    "registry.example.com/data/etl-worker",
    1,
    "kubectl-client-side-apply",
    history=((20, "3.0.2"), (5, "3.1.0")),
    cpu="250m",
    memory="256Mi",
    memory_limit="512Mi",
    probes=(),
    node_pool="batch",
    env=(("BATCH_SIZE", "5000"), ("SOURCE", "s3://events-raw/")),
)
PROMETHEUS = _App(
    "monitoring",
    "prometheus",
    "quay.io/prometheus/prometheus",
    1,
    "helm",
    history=((40, "v2.51.2"),),
    port=9090,
    cpu="500m",
    memory="2Gi",
    memory_limit="4Gi",
    probes=(("/-/healthy", "http"), ("/-/ready", "http")),
    service_account="prometheus",
    args=("--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.retention.time=15d"),
)
POSTGRES = _App(
    "data",
    "postgres",
    "docker.io/library/postgres",
    1,
    "kubectl-client-side-apply",
    history=((0, "16.2"),),
    port=5432,
    cpu="500m",
    memory="1Gi",
    memory_limit="2Gi",
    probes=(),
    ports=(("postgres", 5432, "TCP"),),
    env=(("PGDATA", "/var/lib/postgresql/data/pgdata"),),
)
_NODE_INDEX = {info.name: i for i, info in enumerate(_NODES)}
_DEPLOYMENTS = (COREDNS, CHECKOUT, FRONTEND, CART, PAYMENT_API, FRAUD_CHECK, ETL_WORKER)

_OLD_DATABASE_URL = (
    "postgres://checkout@orders-db.data.svc.cluster.local:5432/orders?sslmode=require"
)
_NEW_DATABASE_URL = (
    "postgres://checkout@postgres.data.svc.cluster.local:5432/orders?sslmode=require"
)
_CHECKOUT_PANIC = (
    "panic: connect to database: dial tcp: lookup postgres.data.svc.cluster.local "
    "on 10.96.0.10:53: no such host\n\ngoroutine 1 [running]:\nmain.main()\n"
    "\t/src/cmd/checkout/main.go:57 +0x2a5\n"
)


def _scenario(sim: _Sim) -> None:
    """Everything that happens, in the order it happens."""
    ago = sim.ago
    sim.spawn(ago(days=63), _bootstrap_cluster(sim))
    for app in _DEPLOYMENTS:
        days, version = app.history[0]
        sim.spawn(ago(days=days), _install(sim, app, version))
        for days, version in app.history[1:]:
            sim.spawn(ago(days=days), _upgrade(sim, app, version))
    sim.spawn(ago(days=40), _install_prometheus(sim))
    sim.spawn(ago(days=20), _install_report_cron(sim))
    sim.spawn(ago(days=19), _create_old_postgres_volume(sim))
    schedule_minute = (sim.anchor.minute + 30) % 60
    first = (sim.watch_start - timedelta(hours=4)).replace(minute=schedule_minute, second=0)
    for hour in range(12):
        sim.spawn(first + timedelta(hours=hour), _cron_run(sim, first + timedelta(hours=hour)))

    # -6h: the watch starts with a list of everything; kubelets keep heartbeating.
    sim.spawn(sim.watch_start, sim.list_everything())
    for info in _NODES:
        sim.spawn(sim.watch_start, _heartbeats(sim, info.name))

    # -4h30m: a routine, successful helm upgrade of shop/cart.
    sim.spawn(ago(hours=4, minutes=30), _upgrade(sim, CART, "1.12.1"))

    # -3h: config and credentials change.
    sim.spawn(ago(hours=3), _edit_checkout_config(sim))
    sim.spawn(ago(hours=3) + timedelta(seconds=41), _rotate_payment_db_password(sim))

    # -2h50m: checkout 1.5.0 cannot resolve its new database host and exits 1.
    sim.behaviour[CHECKOUT.image("1.5.0")] = _Crashes(
        runtime=2, exit_code=1, reason="Error", message=_CHECKOUT_PANIC
    )
    sim.spawn(ago(hours=2, minutes=50), _upgrade(sim, CHECKOUT, "1.5.0"))

    # -2h: etl-worker outgrows its 512Mi limit.
    sim.spawn(ago(hours=2), _etl_worker_oom(sim))

    # -1h30m: argocd syncs payment-api to a tag with a letter O.
    sim.behaviour[PAYMENT_API.image("v2.3.O")] = _MissingImage()
    sim.spawn(ago(hours=1, minutes=30), _upgrade(sim, PAYMENT_API, "v2.3.O"))

    # -1h: postgres asks for a StorageClass that does not exist.
    sim.spawn(ago(hours=1), _deploy_postgres(sim))

    # -41m: worker-3's kubelet dies; -40m the node controller notices; -35m evictions.
    sim.spawn(ago(minutes=41), _kubelet_dies(sim, "worker-3"))
    sim.spawn(ago(minutes=40), _node_lost(sim, "worker-3"))


def _bootstrap_cluster(sim: _Sim) -> Process:
    for info in _NODES:
        sim.nodes[info.name] = sim.create(_node(sim, info, sim.now))
        yield 60
    sim.create(_namespace(sim, "kube-system", sim.now, "kube-apiserver"))
    corefile = (
        ".:53 {\n    errors\n    health {\n       lameduck 5s\n    }\n    ready\n"
        "    kubernetes cluster.local in-addr.arpa ip6.arpa {\n       pods insecure\n"
        "       fallthrough in-addr.arpa ip6.arpa\n       ttl 30\n    }\n"
        "    prometheus :9153\n    forward . /etc/resolv.conf {\n       max_concurrent 1000\n"
        "    }\n    cache 30\n    loop\n    reload\n    loadbalance\n}\n"
    )
    sim.create(
        _config_map(sim, "kube-system", "coredns", {"Corefile": corefile}, sim.now, "kubeadm")
    )
    sim.create(
        _service(
            sim,
            "kube-system",
            "kube-dns",
            selector={"k8s-app": "kube-dns"},
            ports=[
                {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153},
            ],
            created=sim.now,
            manager="kubeadm",
            labels={
                "k8s-app": "kube-dns",
                "kubernetes.io/cluster-service": "true",
                "kubernetes.io/name": "CoreDNS",
            },
            cluster_ip="10.96.0.10",
        )
    )
    for name, days, manager in (
        ("shop", 41, "kubectl-create"),
        ("payments", 34, "argocd-controller"),
        ("data", 20, "kubectl-client-side-apply"),
        ("monitoring", 40, "helm"),
    ):
        sim.spawn(sim.ago(days=days) - timedelta(minutes=5), _create_namespace(sim, name, manager))


def _create_namespace(sim: _Sim, name: str, manager: str) -> Process:
    sim.create(_namespace(sim, name, sim.now, manager))
    yield from ()


def _app_service(sim: _Sim, app: _App) -> Obj:
    ports = [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http"}]
    return _service(
        sim,
        app.namespace,
        app.name,
        selector=app.selector(),
        ports=ports,
        created=sim.now,
        manager=app.manager,
        labels=app.object_labels(app.history[0][1]),
        load_balancer_ip="10.0.2.50" if app.name == "frontend" else None,
    )


def _install(sim: _Sim, app: _App, version: str) -> Process:
    """The first release of an app: its config, its Service, its Deployment."""
    if app.config:
        sim.create(
            _config_map(
                sim,
                app.namespace,
                app.config,
                {"DATABASE_URL": _OLD_DATABASE_URL, "LOG_LEVEL": "info"},
                sim.now,
                "kubectl-client-side-apply",
            )
        )
    if app.db_secret:
        sim.create(
            _applied_secret(
                sim,
                app.namespace,
                app.db_secret,
                {"password": "pw-initial-7f3b9c", "username": "payments"},
                sim.now,
            )
        )
    if app.manager == "helm":
        sim.create(_helm_release(sim, app.name, app.namespace, 1, "deployed", sim.now))
    yield 1
    if app.manager != "kubeadm" and app.name != "etl-worker":
        sim.create(_app_service(sim, app))
    deploy = sim.create(_deployment(sim, app, version))
    yield from _rollout(sim, deploy)


def _upgrade(sim: _Sim, app: _App, version: str) -> Process:
    """A new version through the app's owner: helm upgrade, argocd sync, kubectl apply."""
    deploy = sim.find("Deployment", app.namespace, app.name)
    assert deploy is not None
    release = previous = None
    if app.manager == "helm":
        releases = [
            o
            for o in sim.live.values()
            if o["kind"] == "Secret"
            and o["metadata"].get("labels", {}).get("name") == app.name
            and o["metadata"]["labels"].get("owner") == "helm"
        ]
        previous = max(releases, key=lambda o: int(o["metadata"]["labels"]["version"]))
        number = int(previous["metadata"]["labels"]["version"]) + 1
        release = sim.create(
            _helm_release(sim, app.name, app.namespace, number, "pending-upgrade", sim.now)
        )
        for old in releases:
            if int(old["metadata"]["labels"]["version"]) < number - 1:
                sim.delete(old)  # helm keeps the last revisions only
        yield 1
    _write_deployment_spec(sim, deploy, app, version)
    deploy["metadata"]["generation"] += 1
    sim.update(deploy)
    if release is not None and previous is not None:
        sim.later(2, _helm_finish(sim, previous, release))
    yield 1
    yield from _rollout(sim, deploy)


def _helm_finish(sim: _Sim, previous: Obj, release: Obj) -> Process:
    _set_release_status(sim, previous, "superseded")
    _set_release_status(sim, release, "deployed")
    yield from ()


def _install_prometheus(sim: _Sim) -> Process:
    app = PROMETHEUS
    version = app.history[0][1]
    sim.create(
        _config_map(
            sim,
            app.namespace,
            "prometheus-server",
            {
                "prometheus.yml": "global:\n  scrape_interval: 30s\nscrape_configs:\n"
                "  - job_name: kubernetes-pods\n    kubernetes_sd_configs:\n      - role: pod\n"
            },
            sim.now,
            "helm",
        )
    )
    sim.create(_helm_release(sim, app.name, app.namespace, 1, "deployed", sim.now))
    sim.create(
        _service(
            sim,
            app.namespace,
            app.name,
            selector=app.selector(),
            ports=[{"name": "http", "port": 9090, "protocol": "TCP", "targetPort": "http"}],
            created=sim.now,
            manager="helm",
            labels=app.object_labels(version),
        )
    )
    sts = _statefulset(
        sim,
        app,
        version,
        claim={
            "volume": "storage",
            "template": True,
            "size": "50Gi",
            "class": "longhorn",
            "mountPath": "/prometheus",
        },
    )
    sts["spec"]["template"]["spec"]["nodeSelector"] = {"kubernetes.io/hostname": "worker-1"}
    sim.create(sts)
    yield 1
    sim.create(
        _pvc(
            sim,
            app.namespace,
            "storage-prometheus-0",
            size="50Gi",
            storage_class="longhorn",
            created=sim.now,
            manager=_KCM,
            bound=True,
            labels=app.selector(),
        )
    )
    yield from _statefulset_pod(sim, sts, claim_name="storage-prometheus-0")


def _statefulset_pod(sim: _Sim, sts: Obj, *, claim_name: str | None = None) -> Process:
    name = f"{sts['metadata']['name']}-0"
    revision = f"{sts['metadata']['name']}-{_template_hash(sts['spec']['template'])}"
    pod = _pod(
        sim,
        sts,
        sts["spec"]["template"],
        name,
        extra_labels={
            "apps.kubernetes.io/pod-index": "0",
            "controller-revision-hash": revision,
            "statefulset.kubernetes.io/pod-name": name,
        },
    )
    pod["spec"]["hostname"] = name
    pod["spec"]["subdomain"] = sts["spec"]["serviceName"]
    if claim_name:
        pod["spec"]["volumes"].insert(
            0, {"name": "storage", "persistentVolumeClaim": {"claimName": claim_name}}
        )
    sim.create(pod)
    sim.record(
        sts,
        "SuccessfulCreate",
        f"create Pod {name} in StatefulSet {sts['metadata']['name']} successful",
        component="statefulset-controller",
    )
    _sync_statefulset(sim, sts)
    yield from _pod_lifecycle(sim, pod)


def _create_old_postgres_volume(sim: _Sim) -> Process:
    """The volume of an earlier postgres, still bound (on the ``longhorn`` class)."""
    sim.create(
        _pvc(
            sim,
            "data",
            "postgres-data-old",
            size="50Gi",
            storage_class="longhorn",
            created=sim.now,
            manager="kubectl-client-side-apply",
            bound=True,
            labels={"app": "postgres"},
        )
    )
    yield from ()


# -- the hourly CronJob ---------------------------------------------------------------


def _install_report_cron(sim: _Sim) -> Process:
    minute = (sim.anchor.minute + 30) % 60
    image = "registry.example.com/data/report-export:1.0.3"
    sim.behaviour[image] = _Completes(runtime=45)
    sim.create(_cronjob(sim, "report-export", "data", image, f"{minute} * * * *"))
    yield from ()


def _cron_run(sim: _Sim, scheduled: datetime) -> Process:
    """The CronJob controller starts a Job; the job controller runs its pod; the
    CronJob controller notes completion and prunes history to three Jobs."""
    cron = sim.find("CronJob", "data", "report-export")
    assert cron is not None
    yield 1
    job = sim.create(_job(sim, cron, scheduled))
    job_name = job["metadata"]["name"]
    sim.record(cron, "SuccessfulCreate", f"Created job {job_name}", component="cronjob-controller")
    cron["status"]["active"] = [
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "name": job_name,
            "namespace": "data",
            "resourceVersion": "",
            "uid": job["metadata"]["uid"],
        }
    ]
    cron["status"]["lastScheduleTime"] = _ts(scheduled)
    _touch(cron, _KCM, sim.now, ("status",), subresource="status")
    sim.update(cron)

    pod_name = f"{job_name}-{_token(5, sim.seed, job_name)}"
    pod = sim.create(
        _pod(
            sim,
            job,
            job["spec"]["template"],
            pod_name,
            generate_name=f"{job_name}-",
            finalizers=["batch.kubernetes.io/job-tracking"],
        )
    )
    sim.record(job, "SuccessfulCreate", f"Created pod: {pod_name}", component="job-controller")
    job["status"] = {
        "active": 1,
        "ready": 0,
        "startTime": _ts(sim.now),
        "terminating": 0,
        "uncountedTerminatedPods": {},
    }
    _touch(job, _KCM, sim.now, ("status",), subresource="status")
    sim.update(job)
    yield from _pod_lifecycle(sim, pod)
    if pod["status"]["phase"] != "Succeeded":
        return
    yield 1
    pod["metadata"].pop("finalizers", None)
    _touch(pod, _KCM, sim.now, ("metadata", "labels"), ("metadata", "ownerReferences"), ("spec",))
    sim.update(pod)
    job["status"] = {
        "completionTime": _ts(sim.now),
        "conditions": [
            {
                "lastProbeTime": _ts(sim.now),
                "lastTransitionTime": _ts(sim.now),
                "status": "True",
                "type": "Complete",
            }
        ],
        "ready": 0,
        "startTime": job["status"]["startTime"],
        "succeeded": 1,
        "terminating": 0,
        "uncountedTerminatedPods": {},
    }
    _touch(job, _KCM, sim.now, ("status",), subresource="status")
    sim.update(job)
    sim.record(job, "Completed", "Job completed", component="job-controller")
    yield 1
    cron["status"].pop("active", None)
    cron["status"]["lastSuccessfulTime"] = _ts(sim.now)
    _touch(cron, _KCM, sim.now, ("status",), subresource="status")
    sim.update(cron)
    sim.record(
        cron,
        "SawCompletedJob",
        f"Saw completed job: {job_name}, status: Complete",
        component="cronjob-controller",
    )
    jobs = sorted(sim.owned(cron, "Job"), key=lambda j: j["metadata"]["creationTimestamp"])
    for old in jobs[: max(0, len(jobs) - 3)]:
        sim.record(
            cron,
            "SuccessfulDelete",
            f"Deleted job {old['metadata']['name']}",
            component="cronjob-controller",
        )
        sim.delete(old)
        yield 1
        for old_pod in sim.owned(old, "Pod"):  # the garbage collector
            sim.delete(old_pod)


# -- the incident ---------------------------------------------------------------------


def _edit_checkout_config(sim: _Sim) -> Process:
    config = sim.find("ConfigMap", "shop", "checkout-config")
    assert config is not None
    _set_applied_config_map(sim, config, {"DATABASE_URL": _NEW_DATABASE_URL, "LOG_LEVEL": "debug"})
    sim.update(config)
    yield from ()


def _rotate_payment_db_password(sim: _Sim) -> Process:
    secret = sim.find("Secret", "payments", "payment-db-credentials")
    assert secret is not None
    _set_applied_secret(
        sim, secret, {"password": DEMO_SECRET_CANARY, "username": "payments"}, sim.now
    )
    sim.update(secret)
    yield from ()


def _etl_worker_oom(sim: _Sim) -> Process:
    deploy = sim.find("Deployment", "data", "etl-worker")
    assert deploy is not None
    oom = _Crashes(
        runtime=200, exit_code=137, reason="OOMKilled", oom_process="python3", jitter=120
    )
    for rs in sim.owned(deploy, "ReplicaSet"):
        for pod in sim.owned(rs, "Pod"):
            if _kubelet_alive(sim, pod):
                sim.spawn(sim.now, _crash_loop(sim, pod, oom, first_in=0))
    sim.behaviour[deploy["spec"]["template"]["spec"]["containers"][0]["image"]] = oom
    yield from ()


def _deploy_postgres(sim: _Sim) -> Process:
    """``kubectl apply -f postgres/``: credentials, a headless Service, a PVC on a
    StorageClass that does not exist, and the StatefulSet that needs it."""
    app = POSTGRES
    sim.create(
        _applied_secret(
            sim,
            "data",
            "postgres-credentials",
            {"POSTGRES_PASSWORD": "pg-bootstrap-2f8e1a", "POSTGRES_USER": "orders"},
            sim.now,
        )
    )
    sim.create(
        _service(
            sim,
            "data",
            "postgres",
            selector=app.selector(),
            ports=[{"name": "postgres", "port": 5432, "protocol": "TCP", "targetPort": 5432}],
            created=sim.now,
            manager=app.manager,
            labels=app.selector(),
            cluster_ip="None",
        )
    )
    pvc = sim.create(
        _pvc(
            sim,
            "data",
            "postgres-data",
            size="100Gi",
            storage_class="fast-ssd",
            created=sim.now,
            manager=app.manager,
            bound=False,
            labels=app.selector(),
        )
    )
    sim.spawn(sim.now, _provisioning_fails(sim, pvc))
    sts = _statefulset(
        sim,
        app,
        app.history[0][1],
        claim={"volume": "data", "name": "postgres-data", "mountPath": "/var/lib/postgresql/data"},
    )
    container = sts["spec"]["template"]["spec"]["containers"][0]
    container.setdefault("env", []).append(
        {
            "name": "POSTGRES_PASSWORD",
            "valueFrom": {
                "secretKeyRef": {"key": "POSTGRES_PASSWORD", "name": "postgres-credentials"}
            },
        }
    )
    sim.create(sts)
    yield 1
    yield from _statefulset_pod(sim, sts)


def _provisioning_fails(sim: _Sim, pvc: Obj) -> Process:
    """The PV controller retries every 15 seconds (its spam filter thins the events)."""
    message = 'storageclass.storage.k8s.io "fast-ssd" not found'
    while pvc["status"]["phase"] == "Pending" and sim.alive(pvc):
        sim.record(
            pvc,
            "ProvisioningFailed",
            message,
            type_="Warning",
            component="persistentvolume-controller",
        )
        yield 15


def _kubelet_dies(sim: _Sim, node: str) -> Process:
    sim.down.add(node)
    yield from ()


def _node_lost(sim: _Sim, name: str) -> Process:
    """The node lifecycle controller: status Unknown, pods not ready, unreachable
    taints; after the pods' 300s toleration, the taint manager evicts them; their
    ReplicaSets replace them elsewhere. The kubelet never confirms, so an operator
    force-deletes the Terminating pods."""
    node = sim.nodes[name]
    for cond in node["status"]["conditions"]:
        cond.update(
            lastTransitionTime=_ts(sim.now),
            message="Kubelet stopped posting node status.",
            reason="NodeStatusUnknown",
            status="Unknown",
        )
    _touch(node, _KCM, sim.now, ("status", "conditions"), subresource="status")
    sim.update(node)
    sim.record(
        node,
        "NodeNotReady",
        f"Node {name} status is now: NodeNotReady",
        component="node-controller",
    )
    for pod in sim.pods_on(name):
        ready = next((c for c in pod["status"].get("conditions", ()) if c["type"] == "Ready"), None)
        if not _is_active(pod) or ready is None or ready["status"] == "False":
            continue
        ready.update(status="False", lastTransitionTime=_ts(sim.now))
        _touch(pod, _KCM, sim.now, ("status", "conditions"), subresource="status")
        sim.update(pod)
        sim.record(
            pod, "NodeNotReady", "Node is not ready", type_="Warning", component="node-controller"
        )
        _sync_owner(sim, pod)
    yield 1
    node["spec"]["taints"] = [
        {"effect": effect, "key": "node.kubernetes.io/unreachable", "timeAdded": _ts(sim.now)}
        for effect in ("NoSchedule", "NoExecute")
    ]
    _touch(node, _KCM, sim.now, ("spec", "taints"))
    sim.update(node)
    yield 300
    evicted = []
    for pod in sim.pods_on(name):
        if not _is_active(pod):
            continue
        ns, pod_name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        _condition(
            pod["status"]["conditions"],
            "DisruptionTarget",
            "True",
            sim.now,
            reason="DeletionByTaintManager",
            message="Taint manager: deleting due to NoExecute taint",
            lastProbeTime=None,
        )
        _touch(pod, _KCM, sim.now, ("status", "conditions"), subresource="status")
        sim.update(pod)
        sim.record(
            pod,
            "TaintManagerEviction",
            f"Marking for deletion Pod {ns}/{pod_name}",
            component="taint-eviction-controller",
        )
        _start_termination(sim, pod)
        evicted.append(pod)
        for ref in pod["metadata"].get("ownerReferences", ()):
            owner = sim.live.get(ref["uid"])
            if owner is not None and owner["kind"] == "ReplicaSet":
                _reconcile_replica_set(sim, owner)
        yield 1
    yield 120
    for pod in evicted:  # kubectl delete pod --force --grace-period=0
        pod["metadata"]["deletionGracePeriodSeconds"] = 0
        sim.delete(pod)
        _sync_owner(sim, pod)
        yield 1
