"""A fake Kubernetes API server that speaks the real HTTP protocol on a loopback port.

There is no cluster on the machines this project is built and tested on, so the shipper is tested
against this server instead. It is not a mock of the `kubernetes` Python client: it is an HTTP/1.1
server that answers the same URLs with the same JSON shapes as a kube-apiserver, so any client
(the `kubernetes` package, `kubectl`, raw `urllib3`) connects to it through a generated kubeconfig
exactly as it would to a cluster, with bearer-token authentication.

What it serves
--------------
- **Discovery**: `/version`, `/api` (APIVersions), `/api/v1` (APIResourceList), `/apis`
  (APIGroupList with `preferredVersion`), `/apis/{group}` (APIGroup) and `/apis/{group}/{version}`
  (APIResourceList). Resources carry `name`, `singularName`, `namespaced`, `kind`, `verbs`,
  `shortNames`, `storageVersionHash`, and subresource entries such as `pods/status` (a name with a
  slash), plus resources that cannot be listed or watched (`bindings`: create only), so a client
  must filter discovery the way it has to against a real cluster.
- **List** with `limit` / `continue` (opaque token carrying the list resourceVersion and the last
  key; a token whose resourceVersion has been compacted answers `410 Expired` like etcd), items
  sorted by namespace and name like etcd keys. As in a real server, items of built-in kinds come
  *without* `kind`/`apiVersion` (only the list has them); items of CRD-served kinds keep them (the
  real server serves custom resources as unstructured objects, which keep their type fields).
- **Watch** (`watch=true|1`): a chunked `application/json` stream of one JSON object per line,
  `{"type": "ADDED|MODIFIED|DELETED|BOOKMARK|ERROR", "object": {...}}`. With `resourceVersion=X`
  it replays the history after X and then streams live; without one (or with `"0"`) it first sends
  a synthetic `ADDED` for every current object. When X is older than the compaction point it
  answers HTTP 200 with a single `ERROR` event carrying a `410 Expired` Status ("too old resource
  version: X (Y)") and closes the stream, which is what the watch cache of a real server does.
  `allowWatchBookmarks=true` adds `BOOKMARK` events (only `kind`, `apiVersion` and
  `metadata.resourceVersion`) every `bookmark_interval` seconds once the watcher is caught up; the
  bookmark carries the server-wide resourceVersion, as etcd revisions are global. `timeoutSeconds`
  ends the stream cleanly (final zero-length chunk). Lines are framed in HTTP chunks of about
  4 KB (one event per chunk when events are bigger), as a Go server's response buffer does, and a
  backlog is sent in batches of up to 1000 events per socket write. `sendInitialEvents=true` sends the initial
  `ADDED` events followed by a bookmark annotated `k8s.io/initial-events-end` (when bookmarks
  are allowed).
- **Single objects**: GET `.../{plural}/{name}` (and `/status`), and minimal POST (create), PUT
  (replace) and DELETE, which go through the same path as `apply` so watchers see them.
- **CRDs**: a `CustomResourceDefinition` stored through `apply` (or POSTed) registers its storage
  version (the `served` + `storage` one) in discovery and serves list/watch of its objects; its
  deletion first deletes every custom object (watchers get `DELETED` events), then removes the
  resource from discovery and ends the open watches on it.

The control API (in-process, for tests)
---------------------------------------
`apply(event_type, obj)` is how state changes: it assigns the next server-wide
`metadata.resourceVersion`, fills `uid`/`creationTimestamp` when missing, stores or removes the
object, appends the pre-serialized watch line to that resource's history and wakes its watchers.
`compact(before_rv)` drops history like etcd compaction; `history_limit` trims it like the watch
cache's ring buffer. Fault injection: `drop_watches()` (close connections mid-stream, no final
chunk), `expire_watches()` (send a 410 ERROR mid-stream), `fail_next(n, status)`,
`pause_watches()` / `resume_watches()` (a stalled stream: nothing, not even bookmarks, is sent).
Assertions: `requests` (every request: method, path, query), `watch_count()`, `wait_for_watches()`.
`load_recording()` / `play_recording()` feed `{"type", "object"[, "timestamp"]}` lines (the format
`kubetrail demo --write-events` writes) through `apply`.

Simplifications (documented, deliberate)
----------------------------------------
- `resourceVersion` / `resourceVersionMatch` on a *list* are ignored: a list always serves the
  current state. Pages after the first (with `continue`) serve the current objects after the last
  key, not a snapshot at the token's resourceVersion, but report the token's resourceVersion, so a
  watch started from it replays (at least once) whatever changed since the first page.
- `labelSelector`, `fieldSelector`, `resourceVersionMatch`, `dryRun`, PATCH and aggregated
  discovery (`apidiscovery.k8s.io/v2`) are not implemented: selectors are ignored, PATCH answers
  405, discovery always answers the legacy (`APIResourceList`) shapes, which clients accept.
- A watch from a resourceVersion newer than the server's just waits for it, without bookmarks,
  as kube-apiserver 1.34 does for a plain watch (measured); the real server answers a *list*
  at such a version, after 3 s, with 504 "Too large resource version" (reason `Timeout`, cause
  `ResourceVersionTooLarge`), and a watch-list (`sendInitialEvents`) with that Status as an
  `ERROR` event: `fail_next(status=504, ...)` and `send_raw` play those.
- One version per (group, plural) holds objects: a CRD serves only its storage version. Core
  `events` and `events.k8s.io` `events` are separate stores (one storage in a real cluster).
- No admission, validation, defaulting, generation/observedGeneration or finalizers.
- All requests, `/version` included, need the bearer token (anonymous access is off).
"""

from __future__ import annotations

import base64
import bisect
import contextlib
import hashlib
import http.server
import re
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlsplit

import orjson
import yaml

__all__ = ["DEFAULT_VERBS", "FakeApiServer", "RequestRecord", "status_body"]

DEFAULT_VERBS: tuple[str, ...] = (
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
)
_SUBRESOURCE_VERBS: dict[str, tuple[str, ...]] = {
    "status": ("get", "patch", "update"),
    "scale": ("get", "patch", "update"),
    "log": ("get",),
    "eviction": ("create",),
    "finalize": ("update",),
    "proxy": ("create", "delete", "get", "patch", "update"),
}
_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "AlreadyExists",
    410: "Expired",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}
_TRUE = {"1", "t", "T", "true", "TRUE", "True"}
_CRD_KEY = ("apiextensions.k8s.io", "customresourcedefinitions")
_WATCH_BATCH = 1000  # events taken from the history per send
_CHUNK_BYTES = 4096  # target size of one HTTP chunk of a watch stream


def status_body(code: int, message: str, reason: str | None = None, **extra: Any) -> dict:
    """A `meta/v1 Status` failure object, as the API server sends for errors."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason or _REASONS.get(code, "Unknown"),
        "code": code,
    }
    body.update(extra)
    return body


class RequestRecord(NamedTuple):
    """One request the server received (query values: the last one of each name)."""

    method: str
    path: str
    query: dict[str, str]


def _version_priority(version: str) -> tuple:
    """Kubernetes version ordering: GA > beta > alpha, then higher numbers first."""
    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not m:
        return (0, 0, 0, 0, version)
    stage = {None: 3, "beta": 2, "alpha": 1}[m[2]]
    return (1, stage, int(m[1]), int(m[3] or 0), "")


def _split_api_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rv_of(entry: tuple[int, str, bytes]) -> int:
    return entry[0]


@dataclass(eq=False)
class _Resource:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    verbs: tuple[str, ...]
    singular: str
    short_names: tuple[str, ...]
    subresources: tuple[str, ...]
    cond: threading.Condition
    custom: bool = False
    floor: int = 0  # a watch from an rv below this is answered 410
    # (namespace, name) -> (object, its serialized JSON)
    objects: dict[tuple[str, str], tuple[dict, bytes]] = field(default_factory=dict)
    # (rv, namespace, watch line) in rv order; history[0] has absolute index `trimmed`
    history: list[tuple[int, str, bytes]] = field(default_factory=list)
    trimmed: int = 0
    removed: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def discovery(self) -> list[dict]:
        entry: dict[str, Any] = {
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(self.verbs),
        }
        if self.short_names:
            entry["shortNames"] = list(self.short_names)
        digest = hashlib.sha256(f"{self.api_version}/{self.plural}".encode()).digest()
        entry["storageVersionHash"] = base64.b64encode(digest[:8]).decode()
        out = [entry]
        for sub in self.subresources:
            out.append(
                {
                    "name": f"{self.plural}/{sub}",
                    "singularName": "",
                    "namespaced": self.namespaced,
                    "kind": self.kind,
                    "verbs": list(_SUBRESOURCE_VERBS.get(sub, ("get",))),
                }
            )
        return out


@dataclass(eq=False)
class _Watch:
    resource: _Resource
    conn: socket.socket
    dropped: bool = False
    expire: bool = False
    raw: list[bytes] = field(default_factory=list)  # lines to send as they are


@dataclass(eq=False)
class _Failure:
    remaining: int
    status: int
    match: str | None
    message: str
    retry_after: int | None


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-kube-apiserver"
    sys_version = ""
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection, True)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.fake._track(self.connection, False)

    def do_GET(self) -> None:
        self.server.fake._handle(self, "GET")

    def do_POST(self) -> None:
        self.server.fake._handle(self, "POST")

    def do_PUT(self) -> None:
        self.server.fake._handle(self, "PUT")

    def do_DELETE(self) -> None:
        self.server.fake._handle(self, "DELETE")

    def do_PATCH(self) -> None:
        self.server.fake._handle(self, "PATCH")


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    fake: FakeApiServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # clients hanging up mid-response are normal here (watches are closed by clients)
        pass


def _default_resources(server: FakeApiServer) -> None:
    add = server.add_resource
    add("", "v1", "Pod", "pods", short_names=("po",), subresources=("status", "log", "eviction"))
    add("", "v1", "Node", "nodes", namespaced=False, short_names=("no",), subresources=("status",))
    add(
        "",
        "v1",
        "Namespace",
        "namespaces",
        namespaced=False,
        verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
        short_names=("ns",),
        subresources=("status", "finalize"),
    )
    add("", "v1", "Event", "events", short_names=("ev",), subresources=())
    add("", "v1", "ConfigMap", "configmaps", short_names=("cm",), subresources=())
    add("", "v1", "Secret", "secrets", subresources=())
    add("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", short_names=("pvc",))
    add(
        "",
        "v1",
        "Service",
        "services",
        verbs=("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"),
        short_names=("svc",),
        subresources=("status", "proxy"),
    )
    # not listable or watchable: clients must skip it
    add("", "v1", "Binding", "bindings", verbs=("create",), subresources=())
    add(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        short_names=("deploy",),
        subresources=("status", "scale"),
    )
    add(
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        short_names=("rs",),
        subresources=("status", "scale"),
    )
    add(
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        short_names=("sts",),
        subresources=("status", "scale"),
    )
    # batch is not in the minimal list of the shipper issue, but the demo recording has Jobs
    add("batch", "v1", "Job", "jobs")
    add("batch", "v1", "CronJob", "cronjobs", short_names=("cj",))
    add("events.k8s.io", "v1", "Event", "events", short_names=("ev",), subresources=())
    add("coordination.k8s.io", "v1", "Lease", "leases", subresources=())
    add(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        namespaced=False,
        short_names=("crd", "crds"),
    )


class FakeApiServer:
    """A kube-apiserver look-alike on `127.0.0.1:<free port>`; see the module docstring.

    Use as a context manager (or `start()` / `stop()`), then point a client at
    `write_kubeconfig(path)`.
    """

    def __init__(
        self,
        *,
        token: str = "test-token",
        bookmark_interval: float = 1.0,
        history_limit: int | None = None,
        initial_rv: int = 1,
        default_resources: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.token = token
        self.bookmark_interval = bookmark_interval
        #: seconds between a watch's ERROR event and the end of its stream: a real server
        #: writes the final chunk only when its handler returns, so a client that stops
        #: reading at the ERROR event may see it arrive on a connection it pooled again
        self.error_end_delay = 0.0
        self.history_limit = history_limit
        self.host = host
        self._port = port
        self._lock = threading.Lock()
        self._rv = int(initial_rv)
        self._compacted = 0  # continue tokens at an rv <= this are expired
        self._resources: dict[tuple[str, str, str], _Resource] = {}
        self._by_kind: dict[tuple[str, str], _Resource] = {}
        self._crds: dict[str, tuple[str, str, str]] = {}
        self._watches: set[_Watch] = set()
        self._conns: set[socket.socket] = set()
        self._failures: list[_Failure] = []
        self._paused = False
        self._stopping = False
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.requests: list[RequestRecord] = []
        self.errors: list[str] = []  # tracebacks of unexpected exceptions while serving
        if default_resources:
            _default_resources(self)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeApiServer:
        if self._httpd is not None:
            return self
        self._stopping = False
        httpd = _HTTPServer((self.host, self._port), _Handler)
        httpd.fake = self
        self._httpd = httpd
        self._port = httpd.server_address[1]
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """End open watches cleanly, close every connection and the listening socket."""
        if self._httpd is None:
            return
        with self._lock:
            self._stopping = True
            self._notify_all_locked()
        self._httpd.shutdown()
        deadline = time.monotonic() + 2.0
        while self._watches and time.monotonic() < deadline:
            time.sleep(0.01)
        for conn in list(self._conns):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> FakeApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self._port}"

    def write_kubeconfig(
        self, path: str | Path, token: str | None = None, *, namespace: str = "default"
    ) -> Path:
        """Write a kubeconfig (cluster, user with a bearer token, context, current-context)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake-user", "user": {"token": token or self.token}}],
            "contexts": [
                {
                    "name": "fake",
                    "context": {"cluster": "fake", "user": "fake-user", "namespace": namespace},
                }
            ],
            "current-context": "fake",
            "preferences": {},
        }
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    # ------------------------------------------------------------------ registry

    def add_resource(
        self,
        group: str,
        version: str,
        kind: str,
        plural: str,
        namespaced: bool = True,
        verbs: Iterable[str] = DEFAULT_VERBS,
        *,
        singular: str | None = None,
        short_names: Iterable[str] = (),
        subresources: Iterable[str] = ("status",),
    ) -> None:
        """Serve a resource (updates the description of an existing one, keeping its objects)."""
        with self._lock:
            self._add_resource_locked(
                group,
                version,
                kind,
                plural,
                namespaced=namespaced,
                verbs=tuple(verbs),
                singular=singular or kind.lower(),
                short_names=tuple(short_names),
                subresources=tuple(subresources),
                custom=False,
            )

    def remove_resource(self, group: str, version: str, plural: str) -> None:
        """Stop serving a resource: its objects go, its open watches end cleanly."""
        with self._lock:
            self._remove_resource_locked((group, version, plural))

    def _add_resource_locked(
        self, group: str, version: str, kind: str, plural: str, **kw: Any
    ) -> _Resource:
        key = (group, version, plural)
        res = self._resources.get(key)
        if res is None:
            res = _Resource(
                group=group,
                version=version,
                kind=kind,
                plural=plural,
                cond=threading.Condition(self._lock),
                floor=self._compacted,
                **kw,
            )
            self._resources[key] = res
        else:
            res.kind = kind
            for name, value in kw.items():
                setattr(res, name, value)
        self._reindex_locked()
        return res

    def _remove_resource_locked(self, key: tuple[str, str, str]) -> None:
        res = self._resources.pop(key, None)
        if res is None:
            raise KeyError(f"no resource {key}")
        res.removed = True
        res.cond.notify_all()
        self._reindex_locked()

    def _reindex_locked(self) -> None:
        self._by_kind = {}
        for res in sorted(self._resources.values(), key=lambda r: _version_priority(r.version)):
            # preferred (highest) version last, so it wins for a kind without a version match
            self._by_kind[(res.group, res.kind)] = res
        for res in self._resources.values():
            self._by_kind[(res.api_version, res.kind)] = res

    def _resolve(self, plural: str, group: str | None = None) -> _Resource:
        if group is None:
            plural, _, group = plural.partition(".")
        candidates = [
            r for r in self._resources.values() if r.plural == plural and r.group == group
        ]
        if not candidates:
            raise KeyError(f"no resource {plural!r} in group {group!r}")
        return max(candidates, key=lambda r: _version_priority(r.version))

    def _resource_for(self, obj: dict) -> _Resource:
        api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
        res = self._by_kind.get((api_version, kind))
        if res is None:
            res = self._by_kind.get((_split_api_version(api_version)[0], kind))
        if res is None:
            raise KeyError(f"no resource serves {api_version} {kind}")
        return res

    # ------------------------------------------------------------------ object store

    def apply(
        self, event_type: str, obj: dict, *, plural: str | None = None, group: str | None = None
    ) -> dict:
        """Record one change (ADDED, MODIFIED or DELETED) and stream it to watchers.

        The resource is found from `plural` (`"pods"`, `"deployments.apps"`, or with `group`)
        or else from the object's `apiVersion` and `kind`. Returns the stored object, with its new
        `metadata.resourceVersion`.
        """
        if event_type not in ("ADDED", "MODIFIED", "DELETED"):
            raise ValueError(f"event type must be ADDED, MODIFIED or DELETED, not {event_type!r}")
        with self._lock:
            if plural is not None:
                if group is None and "." not in plural and "apiVersion" in obj:
                    group = _split_api_version(obj["apiVersion"])[0]
                res = self._resolve(plural, group)
            else:
                res = self._resource_for(obj)
            if (res.group, res.plural) == _CRD_KEY:
                return self._apply_crd_locked(res, event_type, obj)
            return self._apply_locked(res, event_type, obj)

    def _apply_locked(self, res: _Resource, event_type: str, obj: dict) -> dict:
        meta = dict(obj.get("metadata") or {})
        name = meta.get("name")
        if not name:
            raise ValueError("object has no metadata.name")
        ns = (meta.get("namespace") or "default") if res.namespaced else ""
        if res.namespaced:
            meta["namespace"] = ns
        key = (ns, name)
        prev = res.objects.get(key)
        if not meta.get("uid"):
            meta["uid"] = prev[0]["metadata"]["uid"] if prev else str(uuid.uuid4())
        if not meta.get("creationTimestamp"):
            meta["creationTimestamp"] = (
                prev[0]["metadata"].get("creationTimestamp") if prev else None
            ) or _now()
        self._rv += 1
        rv = self._rv
        meta["resourceVersion"] = str(rv)
        stored = dict(obj)
        stored["apiVersion"] = res.api_version
        stored["kind"] = res.kind
        stored["metadata"] = meta
        raw = orjson.dumps(stored)
        if event_type == "DELETED":
            res.objects.pop(key, None)
        else:
            res.objects[key] = (stored, raw)
        res.history.append(
            (rv, ns, b'{"type":"' + event_type.encode() + b'","object":' + raw + b"}\n")
        )
        limit = self.history_limit
        if limit is not None and len(res.history) > limit + max(1, limit // 10):
            drop = len(res.history) - limit
            res.floor = max(res.floor, res.history[drop - 1][0])
            del res.history[:drop]
            res.trimmed += drop
        res.cond.notify_all()
        return stored

    def _apply_crd_locked(self, res: _Resource, event_type: str, crd: dict) -> dict:
        name = (crd.get("metadata") or {}).get("name", "")
        if event_type == "DELETED":
            self._unserve_crd_locked(name)
            return self._apply_locked(res, event_type, crd)
        served = _crd_served(crd)
        if served is not None and "status" not in crd:
            crd = dict(crd)
            crd["status"] = {
                "acceptedNames": (crd.get("spec") or {}).get("names", {}),
                "conditions": [
                    {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts"},
                    {"type": "Established", "status": "True", "reason": "InitialNamesAccepted"},
                ],
                "storedVersions": [served["version"]],
            }
        stored = self._apply_locked(res, event_type, crd)
        old_key = self._crds.get(name)
        if served is None:
            self._unserve_crd_locked(name)
            return stored
        key = (served["group"], served["version"], served["plural"])
        if old_key is not None and old_key != key:
            self._unserve_crd_locked(name)
        self._add_resource_locked(**served, custom=True)
        self._crds[name] = key
        return stored

    def _unserve_crd_locked(self, crd_name: str) -> None:
        key = self._crds.pop(crd_name, None)
        if key is None or key not in self._resources:
            return
        res = self._resources[key]
        for obj, _raw in list(res.objects.values()):
            self._apply_locked(res, "DELETED", obj)
        self._remove_resource_locked(key)

    def objects(self, plural: str, group: str | None = "") -> list[dict]:
        """The current objects of a resource (`"pods"`, or `"deployments", group="apps"`)."""
        with self._lock:
            if group == "" and "." in plural:
                group = None
            res = self._resolve(plural, group)
            return [orjson.loads(raw) for _key, (_obj, raw) in sorted(res.objects.items())]

    def current_rv(self) -> str:
        """The server-wide resourceVersion of the latest change."""
        with self._lock:
            return str(self._rv)

    def compact(self, before_rv: int | str | None = None) -> None:
        """Forget history below `before_rv` (default: all of it), like etcd compaction.

        A watch from a resourceVersion older than `before_rv - 1` then gets a 410 ERROR event,
        a continue token from a list at a resourceVersion below `before_rv` gets 410 Expired, and
        live watchers that have not yet been sent a forgotten event (e.g. while paused) get the
        410 ERROR when they next send.
        """
        with self._lock:
            before = self._rv + 1 if before_rv is None else int(before_rv)
            self._compacted = max(self._compacted, before - 1)
            for res in self._resources.values():
                cut = bisect.bisect_left(res.history, before, key=_rv_of)
                del res.history[:cut]
                res.trimmed += cut
                res.floor = max(res.floor, before - 1)
            self._notify_all_locked()

    # ------------------------------------------------------------------ fault injection

    def drop_watches(self, plural: str | None = None, group: str | None = "") -> int:
        """Abruptly close open watch connections (no final chunk); returns how many."""
        with self._lock:
            targets = self._select_watches_locked(plural, group)
            for w in targets:
                w.dropped = True
                self._watches.discard(w)
                with contextlib.suppress(OSError):
                    w.conn.shutdown(socket.SHUT_RDWR)
            self._notify_all_locked()
            return len(targets)

    def expire_watches(self, plural: str | None = None, group: str | None = "") -> int:
        """Send a 410 Expired ERROR event on open watches, then end them (as a real server does
        when etcd compacted past a watcher). Combine with `compact()` so resuming fails too."""
        with self._lock:
            targets = self._select_watches_locked(plural, group)
            for w in targets:
                w.expire = True
            self._notify_all_locked()
            return len(targets)

    def send_raw(
        self, lines: list[bytes], plural: str | None = None, group: str | None = ""
    ) -> int:
        """Send these lines, as they are (malformed ones included), on the open watches: what a
        broken aggregated API server or proxy might send. Returns how many watches got them."""
        with self._lock:
            targets = self._select_watches_locked(plural, group)
            for w in targets:
                w.raw.extend(line if line.endswith(b"\n") else line + b"\n" for line in lines)
            self._notify_all_locked()
            return len(targets)

    def pause_watches(self) -> None:
        """Stall every watch stream: events and bookmarks are held until `resume_watches()`."""
        with self._lock:
            self._paused = True

    def resume_watches(self) -> None:
        with self._lock:
            self._paused = False
            self._notify_all_locked()

    def fail_next(
        self,
        n: int = 1,
        status: int = 500,
        *,
        match: str | None = None,
        message: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Answer the next `n` requests (whose path contains `match`, if given) with an error
        Status of code `status`. Authentication is checked first.

        `retry_after` adds a `Retry-After` header (as the real server does on 429): note that
        urllib3, under the `kubernetes` client, then retries 429/503 by itself.
        """
        with self._lock:
            self._failures.append(
                _Failure(n, status, match, message or f"injected failure ({status})", retry_after)
            )

    def watch_count(self, plural: str | None = None, group: str | None = "") -> int:
        """How many watch streams are open (on one resource, or in total)."""
        with self._lock:
            return len(self._select_watches_locked(plural, group))

    def wait_for_watches(
        self,
        plural: str | None = None,
        count: int = 1,
        *,
        group: str | None = "",
        timeout: float = 5.0,
    ) -> bool:
        """Wait until at least `count` watches are open; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.watch_count(plural, group) >= count:
                return True
            time.sleep(0.01)
        return self.watch_count(plural, group) >= count

    def clear_requests(self) -> None:
        self.requests.clear()

    def _select_watches_locked(self, plural: str | None, group: str | None) -> list[_Watch]:
        if plural is None:
            return list(self._watches)
        if group == "" and "." in plural:
            group = None
        if group is None:
            plural, _, group = plural.partition(".")
        return [
            w for w in self._watches if w.resource.plural == plural and w.resource.group == group
        ]

    def _notify_all_locked(self) -> None:
        for res in self._resources.values():
            res.cond.notify_all()
        for w in self._watches:
            w.resource.cond.notify_all()

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    # ------------------------------------------------------------------ recordings

    def load_recording(
        self,
        source: str | Path | Iterable[dict | str | bytes],
        *,
        speed: float | None = None,
        max_sleep: float = 1.0,
        register_unknown: bool = False,
    ) -> int:
        """Apply recorded `{"type", "object"[, "timestamp"]}` events in order; returns how many.

        `source` is a JSON-lines file or an iterable of dicts or lines. With `speed`, sleeps
        between events for the recorded gap divided by `speed` (at most `max_sleep` seconds).
        A kind the registry does not serve raises KeyError unless `register_unknown`, which
        registers it with a guessed plural. BOOKMARK and ERROR records are skipped.
        """
        count = 0
        previous: float | None = None
        for record in _iter_records(source):
            if record.get("type") not in ("ADDED", "MODIFIED", "DELETED"):
                continue
            obj = record["object"]
            if speed:
                stamp = _parse_time(record.get("timestamp"))
                if stamp is not None and previous is not None and stamp > previous:
                    time.sleep(min((stamp - previous) / speed, max_sleep))
                if stamp is not None:
                    previous = stamp
            if register_unknown:
                with self._lock:
                    try:
                        self._resource_for(obj)
                        known = True
                    except KeyError:
                        known = False
                if not known:
                    group, version = _split_api_version(obj.get("apiVersion", "v1"))
                    kind = obj.get("kind", "")
                    namespaced = bool((obj.get("metadata") or {}).get("namespace"))
                    self.add_resource(group, version, kind, _guess_plural(kind), namespaced)
            self.apply(record["type"], obj)
            count += 1
        return count

    def play_recording(
        self, source: str | Path | Iterable[dict | str | bytes], *, speed: float = 1.0, **kw: Any
    ) -> threading.Thread:
        """`load_recording` paced by the recorded timestamps, in a background thread."""
        thread = threading.Thread(
            target=self.load_recording, args=(source,), kwargs={"speed": speed, **kw}, daemon=True
        )
        thread.start()
        return thread

    # ------------------------------------------------------------------ HTTP handling

    def _handle(self, h: _Handler, method: str) -> None:
        parts = urlsplit(h.path)
        path = parts.path.rstrip("/") or "/"
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        self.requests.append(RequestRecord(method, path, query))
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        if h.headers.get("Authorization") != f"Bearer {self.token}":
            return self._send(h, 401, status_body(401, "Unauthorized"))
        failure = self._take_failure(path)
        if failure is not None:
            extra = (
                None if failure.retry_after is None else {"Retry-After": str(failure.retry_after)}
            )
            return self._send(
                h, failure.status, status_body(failure.status, failure.message), extra
            )
        try:
            self._route(h, method, path, query, body)
        except _HttpError as err:
            self._send(h, err.code, status_body(err.code, err.message, **err.extra))
        except Exception as err:  # a bug in the fake: answer 500 and keep it for assertions
            self.errors.append(traceback.format_exc())
            self._send(h, 500, status_body(500, f"fake apiserver error: {err!r}"))

    def _take_failure(self, path: str) -> _Failure | None:
        with self._lock:
            for failure in self._failures:
                if failure.remaining > 0 and (failure.match is None or failure.match in path):
                    failure.remaining -= 1
                    if failure.remaining == 0:
                        self._failures.remove(failure)
                    return failure
        return None

    def _send(
        self, h: _Handler, code: int, body: Any, headers: dict[str, str] | None = None
    ) -> None:
        data = body if isinstance(body, bytes) else orjson.dumps(body)
        try:
            h.send_response(code)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            h.send_header("Cache-Control", "no-cache, private")
            for name, value in (headers or {}).items():
                h.send_header(name, value)
            h.end_headers()
            h.wfile.write(data)
        except OSError:
            h.close_connection = True

    def _route(self, h: _Handler, method: str, path: str, query: dict, body: bytes) -> None:
        segs = [s for s in path.split("/") if s]
        if method == "GET":
            discovery = self._discovery(segs)
            if discovery is not None:
                return self._send(h, 200, discovery)
        if len(segs) >= 2 and segs[0] == "api" and segs[1] == "v1":
            group, version, rest = "", "v1", segs[2:]
        elif len(segs) >= 3 and segs[0] == "apis":
            group, version, rest = segs[1], segs[2], segs[3:]
        else:
            raise _HttpError(404, "the server could not find the requested resource")
        if not rest:
            raise _HttpError(404, "the server could not find the requested resource")
        with self._lock:
            ns_res = None
            if rest[0] == "namespaces" and len(rest) >= 3:
                ns_res = self._resources.get((group, version, rest[2]))
                if ns_res is not None and not ns_res.namespaced:
                    ns_res = None
            if ns_res is not None:
                res, ns, name, sub = ns_res, rest[1], _at(rest, 3), _at(rest, 4)
                extra = rest[5:]
            else:
                res = self._resources.get((group, version, rest[0]))
                ns, name, sub, extra = None, _at(rest, 1), _at(rest, 2), rest[3:]
        if res is None or extra:
            raise _HttpError(404, "the server could not find the requested resource")
        if sub is not None and sub not in res.subresources:
            raise _HttpError(404, "the server could not find the requested resource")
        if name is None:
            if method == "GET":
                if query.get("watch") in _TRUE:
                    _require_verb(res, "watch")
                    return self._serve_watch(h, res, ns, query)
                _require_verb(res, "list")
                return self._send(h, 200, self._list(res, ns, query))
            if method == "POST":
                _require_verb(res, "create")
                return self._create(h, res, ns, body)
            raise _HttpError(
                405, f"the server does not allow this method on the requested resource ({method})"
            )
        if method == "GET":
            _require_verb(res, "get")
            return self._send(h, 200, self._get(res, ns or "", name))
        if method == "PUT":
            _require_verb(res, "update")
            return self._update(h, res, ns or "", name, body)
        if method == "DELETE":
            _require_verb(res, "delete")
            return self._delete(h, res, ns or "", name)
        raise _HttpError(
            405, f"the server does not allow this method on the requested resource ({method})"
        )

    def _discovery(self, segs: list[str]) -> dict | None:
        with self._lock:
            if segs == ["version"]:
                return {
                    "major": "1",
                    "minor": "31",
                    "gitVersion": "v1.31.0-fake",
                    "gitCommit": "0000000000000000000000000000000000000000",
                    "gitTreeState": "clean",
                    "buildDate": "2026-01-01T00:00:00Z",
                    "goVersion": "go1.22.5",
                    "compiler": "gc",
                    "platform": "linux/amd64",
                }
            if segs in (["healthz"], ["livez"], ["readyz"]):
                return {"status": "ok"}
            if segs == ["api"]:
                return {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [
                        {"clientCIDR": "0.0.0.0/0", "serverAddress": f"{self.host}:{self._port}"}
                    ],
                }
            if segs == ["api", "v1"]:
                return {
                    "kind": "APIResourceList",
                    "groupVersion": "v1",
                    "resources": self._resource_entries_locked("", "v1"),
                }
            if segs == ["apis"]:
                return {
                    "kind": "APIGroupList",
                    "apiVersion": "v1",
                    "groups": [self._group_locked(g) for g in self._groups_locked()],
                }
            if len(segs) == 2 and segs[0] == "apis":
                if segs[1] not in self._groups_locked():
                    return None
                return {"kind": "APIGroup", "apiVersion": "v1", **self._group_locked(segs[1])}
            if len(segs) == 3 and segs[0] == "apis":
                group, version = segs[1], segs[2]
                entries = self._resource_entries_locked(group, version)
                if not entries:
                    return None
                return {
                    "kind": "APIResourceList",
                    "apiVersion": "v1",
                    "groupVersion": f"{group}/{version}",
                    "resources": entries,
                }
        return None

    def _groups_locked(self) -> list[str]:
        groups: list[str] = []
        for res in self._resources.values():
            if res.group and res.group not in groups:
                groups.append(res.group)
        return groups

    def _group_locked(self, group: str) -> dict:
        versions = sorted(
            {r.version for r in self._resources.values() if r.group == group},
            key=_version_priority,
            reverse=True,
        )
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"name": group, "versions": entries, "preferredVersion": entries[0]}

    def _resource_entries_locked(self, group: str, version: str) -> list[dict]:
        out: list[dict] = []
        for res in self._resources.values():
            if res.group == group and res.version == version:
                out.extend(res.discovery())
        return out

    # ------------------------------------------------------------------ list / get / write

    def _list(self, res: _Resource, ns: str | None, query: dict) -> bytes:
        limit = int(query.get("limit") or 0)
        token = query.get("continue") or ""
        with self._lock:
            list_rv = self._rv
            start = None
            if token:
                token_rv, start = _decode_continue(token)
                if token_rv <= self._compacted:
                    fresh = _encode_continue(self._rv, start)
                    raise _HttpError(
                        410,
                        "The provided continue parameter is too old to display a consistent list "
                        "result. You can start a new list without the continue parameter, or use "
                        "the continue token in this response to retrieve the remainder of the "
                        "results. Continuing with the provided token results in an inconsistent "
                        "list - objects that were created, modified, or deleted between the time "
                        "the first chunk was returned and now may show up in the list.",
                        metadata={"continue": fresh},
                    )
                list_rv = token_rv
            keys = sorted(k for k in res.objects if ns is None or k[0] == ns)
            if start is not None:
                keys = keys[bisect.bisect_right(keys, start) :]
            page = keys[:limit] if limit > 0 else keys
            objs = [res.objects[k][0] for k in page]
        meta: dict[str, Any] = {"resourceVersion": str(list_rv)}
        if limit > 0 and len(keys) > limit:
            meta["continue"] = _encode_continue(list_rv, page[-1])
            meta["remainingItemCount"] = len(keys) - limit
        if res.custom:
            items = objs
        else:
            items = [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")} for o in objs]
        return orjson.dumps(
            {
                "kind": f"{res.kind}List",
                "apiVersion": res.api_version,
                "metadata": meta,
                "items": items,
            }
        )

    def _get(self, res: _Resource, ns: str, name: str) -> bytes:
        with self._lock:
            found = res.objects.get((ns, name))
        if found is None:
            raise _HttpError(
                404,
                f'{res.plural}{"." + res.group if res.group else ""} "{name}" not found',
                details={"name": name, "group": res.group, "kind": res.plural},
            )
        return found[1]

    def _decode_body(self, res: _Resource, ns: str | None, body: bytes) -> dict:
        try:
            obj = orjson.loads(body)
        except orjson.JSONDecodeError as err:
            raise _HttpError(400, f"invalid JSON body: {err}") from None
        if not isinstance(obj, dict):
            raise _HttpError(400, "the body must be a JSON object")
        if ns is not None and res.namespaced:
            obj["metadata"] = {**(obj.get("metadata") or {}), "namespace": ns}
        obj["apiVersion"] = res.api_version
        obj["kind"] = res.kind
        return obj

    def _write(self, res: _Resource, event_type: str, obj: dict) -> dict:
        with self._lock:
            if (res.group, res.plural) == _CRD_KEY:
                return self._apply_crd_locked(res, event_type, obj)
            return self._apply_locked(res, event_type, obj)

    def _create(self, h: _Handler, res: _Resource, ns: str | None, body: bytes) -> None:
        obj = self._decode_body(res, ns, body)
        name = (obj.get("metadata") or {}).get("name")
        if not name:
            raise _HttpError(
                422, "metadata.name: Required value: name is required", reason="Invalid"
            )
        with self._lock:
            exists = ((ns or "default") if res.namespaced else "", name) in res.objects
        if exists:
            raise _HttpError(409, f'{res.plural} "{name}" already exists')
        self._send(h, 201, self._write(res, "ADDED", obj))

    def _update(self, h: _Handler, res: _Resource, ns: str, name: str, body: bytes) -> None:
        obj = self._decode_body(res, ns or None, body)
        self._get(res, ns, name)  # 404 when missing
        obj["metadata"] = {**(obj.get("metadata") or {}), "name": name}
        self._send(h, 200, self._write(res, "MODIFIED", obj))

    def _delete(self, h: _Handler, res: _Resource, ns: str, name: str) -> None:
        obj = orjson.loads(self._get(res, ns, name))
        self._send(h, 200, self._write(res, "DELETED", obj))

    # ------------------------------------------------------------------ watch

    def _serve_watch(self, h: _Handler, res: _Resource, ns: str | None, query: dict) -> None:
        rv_param = query.get("resourceVersion") or ""
        bookmarks = query.get("allowWatchBookmarks") in _TRUE
        initial = query.get("sendInitialEvents") in _TRUE
        try:
            timeout = float(query["timeoutSeconds"]) if query.get("timeoutSeconds") else None
            since = None if rv_param in ("", "0") or initial else int(rv_param)
        except ValueError:
            raise _HttpError(400, f"invalid resourceVersion or timeoutSeconds: {query}") from None
        watch = _Watch(res, h.connection)
        pending: list[bytes] = []
        error_line = None
        with self._lock:
            if since is None:
                for key in sorted(res.objects):
                    if ns is None or key[0] == ns:
                        pending.append(b'{"type":"ADDED","object":' + res.objects[key][1] + b"}\n")
                if initial and bookmarks:
                    pending.append(self._bookmark_locked(res, initial_end=True))
                cursor = res.trimmed + len(res.history)
                last_rv = self._rv
            elif since < res.floor:
                error_line = _expired_line(since, res.floor)
            else:
                cursor = res.trimmed + bisect.bisect_right(res.history, since, key=_rv_of)
                last_rv = since
            if error_line is None:
                self._watches.add(watch)
        try:
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Transfer-Encoding", "chunked")
            h.send_header("Cache-Control", "no-cache, private")
            h.end_headers()
            if error_line is not None:
                h.wfile.write(_chunk(error_line))
                if self.error_end_delay:
                    time.sleep(self.error_end_delay)
                h.wfile.write(b"0\r\n\r\n")
                return
            self._watch_loop(h, watch, ns, pending, cursor, last_rv, bookmarks, timeout)
        except OSError:
            h.close_connection = True
        finally:
            with self._lock:
                self._watches.discard(watch)

    def _watch_loop(
        self,
        h: _Handler,
        watch: _Watch,
        ns: str | None,
        pending: list[bytes],
        cursor: int,
        last_rv: int,
        bookmarks: bool,
        timeout: float | None,
    ) -> None:
        res = watch.resource
        since = last_rv  # as a real server, nothing at or below the watch's resourceVersion
        now = time.monotonic()
        deadline = now + timeout if timeout is not None else None
        interval = self.bookmark_interval
        next_bookmark = now + interval if bookmarks else float("inf")
        while True:
            out: list[bytes] | None = None
            finish = False  # write the final chunk after `out`
            entries: list[tuple[int, str, bytes]] | None = None
            with self._lock:
                while True:
                    if watch.dropped:
                        h.close_connection = True
                        return
                    now = time.monotonic()
                    if self._stopping or (deadline is not None and now >= deadline):
                        finish = True
                        break
                    if not self._paused:
                        if watch.expire:
                            out = [_expired_line(last_rv, max(res.floor, last_rv + 1))]
                            finish = True
                            break
                        if watch.raw:
                            out, watch.raw = watch.raw, []
                            break
                        if pending:
                            out = pending[:_WATCH_BATCH]
                            del pending[:_WATCH_BATCH]
                            break
                        if cursor < res.trimmed:
                            out, finish = [_expired_line(last_rv, res.floor)], True
                            break
                        end = res.trimmed + len(res.history)
                        if cursor < end:
                            start = cursor - res.trimmed
                            entries = res.history[start : start + _WATCH_BATCH]
                            cursor += len(entries)
                            last_rv = max(last_rv, entries[-1][0])
                            break
                        if res.removed:
                            finish = True
                            break
                        # no bookmark behind the watch's own resourceVersion (a watch from
                        # one the server has not reached yet waits silently)
                        if now >= next_bookmark and self._rv >= last_rv:
                            out = [self._bookmark_locked(res)]
                            last_rv = self._rv
                            next_bookmark = now + interval
                            break
                    elif res.removed:
                        finish = True
                        break
                    wait = 1.0
                    if deadline is not None:
                        wait = min(wait, deadline - now)
                    if not self._paused and bookmarks:
                        wait = min(wait, next_bookmark - now)
                    res.cond.wait(max(wait, 0.001))
            if entries is not None:
                out = [e[2] for e in entries if (ns is None or e[1] == ns) and e[0] > since]
            if out:
                h.wfile.write(_frame(out))
            if finish:
                if self.error_end_delay and out and out[-1].startswith(b'{"type":"ERROR"'):
                    time.sleep(self.error_end_delay)
                h.wfile.write(b"0\r\n\r\n")
                return

    def _bookmark_locked(self, res: _Resource, *, initial_end: bool = False) -> bytes:
        meta: dict[str, Any] = {"resourceVersion": str(self._rv)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        obj = {"kind": res.kind, "apiVersion": res.api_version, "metadata": meta}
        return orjson.dumps({"type": "BOOKMARK", "object": obj}) + b"\n"


class _HttpError(Exception):
    def __init__(self, code: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra


def _require_verb(res: _Resource, verb: str) -> None:
    if verb not in res.verbs:
        raise _HttpError(
            405, f"the server does not allow this method on the requested resource ({verb})"
        )


def _at(items: list[str], index: int) -> str | None:
    return items[index] if len(items) > index else None


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n" % len(data) + data + b"\r\n"


def _frame(lines: list[bytes]) -> bytes:
    """Watch lines framed as HTTP chunks of about `_CHUNK_BYTES` (a big event is one chunk),
    like a Go server's 2-4 KB response buffer, but written with one send for the whole batch."""
    parts: list[bytes] = []
    group: list[bytes] = []
    size = 0
    for line in lines:
        group.append(line)
        size += len(line)
        if size >= _CHUNK_BYTES:
            parts.append(_chunk(b"".join(group)))
            group, size = [], 0
    if group:
        parts.append(_chunk(b"".join(group)))
    return b"".join(parts)


def _expired_line(rv: int, oldest: int) -> bytes:
    status = status_body(410, f"too old resource version: {rv} ({oldest})", "Expired")
    return orjson.dumps({"type": "ERROR", "object": status}) + b"\n"


def _encode_continue(rv: int, key: tuple[str, str]) -> str:
    raw = orjson.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": [key[0], key[1]]})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[int, tuple[str, str]]:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        return int(data["rv"]), (str(data["start"][0]), str(data["start"][1]))
    except (ValueError, KeyError, IndexError, TypeError):
        raise _HttpError(
            400, "continue key is not valid: incorrect encoded start resourceVersion"
        ) from None


def _crd_served(crd: dict) -> dict | None:
    """The resource a CRD serves: its storage version if served, else its first served one."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group, kind, plural = spec.get("group"), names.get("kind"), names.get("plural")
    if not (group and kind and plural):
        return None
    versions = [v for v in spec.get("versions") or [] if v.get("served", True)]
    if not versions and spec.get("version"):  # apiextensions v1beta1 shape
        versions = [{"name": spec["version"], "storage": True}]
    if not versions:
        return None
    chosen = next((v for v in versions if v.get("storage")), versions[0])
    subresources = chosen.get("subresources") or spec.get("subresources") or {}
    return {
        "group": group,
        "version": chosen["name"],
        "kind": kind,
        "plural": plural,
        "namespaced": spec.get("scope", "Namespaced") == "Namespaced",
        "verbs": DEFAULT_VERBS,
        "singular": names.get("singular") or kind.lower(),
        "short_names": tuple(names.get("shortNames") or ()),
        "subresources": tuple(s for s in ("status", "scale") if s in subresources),
    }


def _guess_plural(kind: str) -> str:
    lower = kind.lower()
    if lower.endswith(("s", "x", "z", "ch", "sh")):
        return lower + "es"
    if lower.endswith("y") and lower[-2:-1] not in "aeiou":
        return lower[:-1] + "ies"
    return lower + "s"


def _parse_time(value: Any) -> float | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _iter_records(source: str | Path | Iterable[dict | str | bytes]) -> Iterator[dict]:
    if isinstance(source, str | Path):
        with open(source, "rb") as fh:
            for line in fh:
                if line.strip():
                    yield orjson.loads(line)
        return
    for item in source:
        if isinstance(item, dict):
            yield item
        elif item.strip():
            yield orjson.loads(item)
