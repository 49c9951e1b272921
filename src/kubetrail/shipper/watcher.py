"""One resource's list+watch loop, turning changes into event documents.

The loop, per resource (one thread each)::

    list (paginated)  ──►  watch from the list's resourceVersion  ──► … renew …
         ▲                         │ 410 Gone / too old
         └──── relist and diff ◄───┘

- **First start**: the list's objects are *snapshots* (``snapshot: true``):
  they existed before watching began and are not changes.
- **Restart after a crash**: the checkpoint says up to which resourceVersion
  events are durable; the list only rebuilds the state silently and the watch
  resumes from the checkpoint, so the API server replays what was lost.
- **410 Gone**: relist and compare with the known state (uid → resourceVersion):
  new objects become creates, changed ones updates, vanished ones deletes, all
  marked ``gap: true`` (observed after a gap, time approximate).
- **Drops and stalls**: a connection that ends or sends nothing (not even a
  bookmark) for ``stall_timeout`` seconds is reopened from the last
  resourceVersion, with exponential backoff and jitter on errors.
- **Heartbeat churn**: an update whose only differences are resourceVersion,
  managedFields times and condition heartbeat/probe times is counted and
  suppressed (``suppress_heartbeats``).

State per object is ``uid → (resourceVersion, digest, namespace, name)``, never
the object: enough to diff a relist, synthesise a delete, and spot churn.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

import orjson

from kubetrail.events.normalize import NormalizeError, normalize
from kubetrail.events.redact import RedactionPolicy
from kubetrail.events.timing import utcnow
from kubetrail.shipper.config import ResourceSpec
from kubetrail.shipper.kube import Kube, KubeError
from kubetrail.shipper.metrics import Metrics

log = logging.getLogger("kubetrail.shipper")

LIST_PAGE = 500
_VOLATILE_CONDITION_KEYS = frozenset({"lastHeartbeatTime", "lastProbeTime"})
_VOLATILE_METADATA = frozenset({"resourceVersion", "managedFields"})
_TYPE_KEYS = frozenset({"kind", "apiVersion"})


class Gone(Exception):
    """The watch's resourceVersion is too old (410): relist."""


@dataclass(slots=True)
class Change:
    """What a watcher hands to delivery: a document (``None`` for a position-only
    marker such as a bookmark) and the resourceVersion it brings the resource to."""

    resource: str
    rv: str
    doc: dict[str, Any] | None


@dataclass(slots=True)
class _Known:
    rv: str
    digest: int
    namespace: str
    name: str


Emit = Callable[[Change], None]


class _Identity(NamedTuple):  # a tuple: built on every event
    uid: str
    rv: str
    namespace: str
    name: str


def _identity(obj: Any) -> _Identity | None:
    """Who an object is, or ``None`` when it is not shaped like a Kubernetes object
    (a broken aggregated API server or proxy must not stop the watch)."""
    if not isinstance(obj, dict):
        return None
    meta = obj.get("metadata")
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        return None
    uid = meta.get("uid") or ""
    rv = meta.get("resourceVersion") or ""
    namespace = meta.get("namespace") or ""
    name = meta.get("name") or ""
    if not (isinstance(uid, str) and isinstance(namespace, str) and isinstance(name, str)):
        return None
    if not isinstance(rv, str):
        if isinstance(rv, bool) or not isinstance(rv, int):
            return None
        rv = str(rv)
    return _Identity(uid, rv, namespace, name)


def churn_digest(obj: Mapping[str, Any]) -> int:
    """A digest of the object without what heartbeats change: resourceVersion,
    managedFields (bookkeeping of who wrote when) and condition heartbeat/probe times.

    Keys are not sorted: the API server serialises an object's fields in a stable
    order (struct order, sorted maps), and a reordering would at worst let one
    churn update through."""
    # kind/apiVersion never change for an object, and list items lack them (the
    # watcher adds them at the end): leave them out so the order cannot differ
    stripped = {k: v for k, v in obj.items() if k not in _TYPE_KEYS}
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        stripped["metadata"] = {k: v for k, v in meta.items() if k not in _VOLATILE_METADATA}
    status = obj.get("status")
    if isinstance(status, dict) and isinstance(status.get("conditions"), list):
        stripped["status"] = {
            **status,
            "conditions": [
                {k: v for k, v in c.items() if k not in _VOLATILE_CONDITION_KEYS}
                if isinstance(c, dict)
                else c
                for c in status["conditions"]
            ],
        }
    return hash(orjson.dumps(stripped))


class Watcher:
    def __init__(
        self,
        resource: ResourceSpec,
        *,
        kube: Kube,
        emit: Emit,
        policy: RedactionPolicy,
        metrics: Metrics,
        resume_rv: str | None = None,
        namespaces: tuple[str, ...] = (),
        suppress_heartbeats: bool = True,
        watch_timeout: int = 300,
        stall_timeout: float = 90.0,
        on_crd_change: Callable[[], None] | None = None,
    ) -> None:
        self.resource = resource
        self.key = resource.key
        self.kube = kube
        self.emit = emit
        self.policy = policy
        self.metrics = metrics
        self.resume_rv = resume_rv
        self.namespaces = namespaces or (None,)
        self.suppress = suppress_heartbeats
        self.watch_timeout = watch_timeout
        self.stall_timeout = stall_timeout
        self.on_crd_change = on_crd_change
        self.known: dict[str, _Known] = {}
        self.synced = threading.Event()  # set once the first list is through
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        for ns in self.namespaces:
            t = threading.Thread(
                target=self._run, args=(ns,), name=f"watch-{self.key}-{ns or 'all'}", daemon=True
            )
            self._threads.append(t)
            t.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        for t in self._threads:
            t.join(timeout)

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def alive(self) -> bool:
        """Every watch thread of this resource is still running."""
        return bool(self._threads) and all(t.is_alive() for t in self._threads)

    # -- the loop ------------------------------------------------------------------

    def _run(self, namespace: str | None) -> None:
        rv: str | None = None
        mode = "resume" if self.resume_rv else "initial"
        backoff = 0.5
        while not self._stop.is_set():
            try:
                if rv is None:
                    rv = self._list(namespace, mode)
                    if mode == "resume" and self.resume_rv:
                        rv = self.resume_rv
                    self.synced.set()
                rv = self._watch(namespace, rv)
                backoff = 0.5
            except Gone:
                self.metrics.relists.labels(self.key).inc()
                log.info("watch expired, relisting", extra={"resource": self.key})
                rv, mode = None, "gap"
            except Exception as exc:
                if self._stop.is_set():
                    return
                if isinstance(exc, KubeError) and exc.status in (403, 404):
                    # gone from the API (a CRD deleted) or not permitted: stop, say it once
                    log.warning("cannot watch %s: %s", self.key, exc, extra={"resource": self.key})
                    self.synced.set()
                    return
                # anything else, a bug included, must not end this resource's watch for good
                self.metrics.watch_restarts.labels(self.key).inc()
                delay = backoff * (0.5 + random.random())
                if isinstance(exc, KubeError):
                    log.info(
                        "watch of %s interrupted (%s); retrying in %.1fs", self.key, exc, delay
                    )
                else:  # the type only: an exception's text may quote a value of the object
                    log.error(
                        "watch of %s failed unexpectedly (%s); retrying in %.1fs",
                        self.key,
                        type(exc).__name__,
                        delay,
                    )
                self._stop.wait(delay)
                backoff = min(backoff * 2, 30.0)
                if rv is None and mode == "initial" and self.known:
                    mode = "gap"

    def _list(self, namespace: str | None, mode: str) -> str:
        """List everything (paginated); emit per ``mode``; return the list's resourceVersion."""
        path = self.resource.list_path(namespace)
        seen: set[str] = set()
        cont = ""
        list_rv = ""
        while True:
            query: list[tuple[str, Any]] = [("limit", LIST_PAGE)]
            if cont:
                query.append(("continue", cont))
            try:
                page = self.kube.get(path, query, timeout=60)
            except KubeError as exc:
                if exc.status == 410 and cont:
                    cont = ""  # the continue token expired: start the list again
                    seen.clear()
                    continue
                raise
            page_meta = page.get("metadata") if isinstance(page, dict) else None
            page_meta = page_meta if isinstance(page_meta, dict) else {}
            items = page.get("items") if isinstance(page, dict) else None
            list_rv = str(page_meta.get("resourceVersion") or list_rv)
            for item in items if isinstance(items, list) else []:
                ident = _identity(item)
                if ident is None:
                    self._malformed("a listed object", item)
                    continue
                item.setdefault("kind", self.resource.kind)
                item.setdefault("apiVersion", self.resource.api_version)
                if ident.uid:
                    seen.add(ident.uid)
                    self._listed(item, ident, mode)
            cont = page_meta.get("continue") or ""
            if not isinstance(cont, str):
                cont = ""
            if not cont:
                break
        if mode == "gap":
            for uid in [
                u for u in self.known if u not in seen and self._in_scope(self.known[u], namespace)
            ]:
                gone = self.known.pop(uid)
                tombstone: dict[str, Any] = {
                    "apiVersion": self.resource.api_version,
                    "kind": self.resource.kind,
                    "metadata": {
                        "name": gone.name,
                        "namespace": gone.namespace or None,
                        "uid": uid,
                        "resourceVersion": gone.rv,
                    },
                }
                if not gone.namespace:
                    del tombstone["metadata"]["namespace"]
                self._emit("DELETED", tombstone, rv=list_rv, gap=True)
        if list_rv and mode != "resume":
            # after a resume the watch replays from the checkpoint: moving it to the
            # list's position now would skip what is being replayed
            self.emit(Change(self.key, list_rv, None))
        return list_rv

    @staticmethod
    def _in_scope(known: _Known, namespace: str | None) -> bool:
        return namespace is None or known.namespace == namespace

    def _listed(self, obj: dict[str, Any], ident: _Identity, mode: str) -> None:
        uid, rv = ident.uid, ident.rv
        digest = churn_digest(obj)
        before = self.known.get(uid)
        self.known[uid] = _Known(rv, digest, ident.namespace, ident.name)
        if mode == "initial":
            self._emit("ADDED", obj, rv=rv, snapshot=True)
        elif mode == "gap":
            if before is None:
                self._emit("ADDED", obj, rv=rv, gap=True)
            elif before.rv != rv and not (self.suppress and before.digest == digest):
                self._emit("MODIFIED", obj, rv=rv, gap=True)

    def _watch(self, namespace: str | None, rv: str) -> str:
        query: list[tuple[str, Any]] = [
            ("watch", "1"),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", self.watch_timeout),
        ]
        if rv:
            query.append(("resourceVersion", rv))
        received = self.metrics.received.labels(self.key)
        for line in self.kube.stream_lines(
            self.resource.list_path(namespace), query, read_timeout=self.stall_timeout
        ):
            if self._stop.is_set():
                return rv
            try:
                event = orjson.loads(line)
                kind = event["type"]
                obj = event["object"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                log.warning("undecodable watch line from %s skipped", self.key)
                continue
            if kind == "ERROR":
                status = obj if isinstance(obj, dict) else {}
                code = status.get("code")
                code = code if isinstance(code, int) else 0
                if code == 410 or status.get("reason") in ("Expired", "Gone"):
                    raise Gone()
                raise KubeError(f"watch error: {status.get('message')}", status=code)
            ident = _identity(obj)
            if ident is None or not isinstance(kind, str):
                self._malformed("a watch event", obj)
                continue
            new_rv = ident.rv or rv
            if kind == "BOOKMARK":
                rv = new_rv
                self.emit(Change(self.key, rv, None))
                continue
            received.inc()
            obj.setdefault("kind", self.resource.kind)
            obj.setdefault("apiVersion", self.resource.api_version)
            self._event(kind, obj, ident)
            rv = new_rv
        return rv

    def _malformed(self, what: str, value: Any) -> None:
        # never the value itself in a log line: it may hold a Secret
        log.warning(
            "%s: skipped %s (a JSON %s) that is not a Kubernetes object: no metadata map, "
            "or a uid, name, namespace or resourceVersion that is not a string",
            self.key,
            what,
            type(value).__name__,
        )

    def _event(self, kind: str, obj: dict[str, Any], ident: _Identity) -> None:
        uid, rv = ident.uid, ident.rv
        if kind == "DELETED":
            self.known.pop(uid, None)
            self._emit("DELETED", obj, rv=rv)
        else:
            digest = churn_digest(obj)
            before = self.known.get(uid)
            self.known[uid] = _Known(rv, digest, ident.namespace, ident.name)
            # Churn is a *new* version equal to the previous one but for heartbeats.
            # The same version again (a replay after a restart, whose listing already
            # showed it) is not churn: it is the version itself and must be stored.
            if (
                kind == "MODIFIED"
                and self.suppress
                and before is not None
                and before.rv != rv
                and before.digest == digest
            ):
                self.metrics.suppressed.labels(self.key).inc()
                self.emit(Change(self.key, rv, None))
                return
            self._emit(kind, obj, rv=rv)
        if self.on_crd_change is not None:
            self.on_crd_change()

    def _emit(
        self, kind: str, obj: dict[str, Any], *, rv: str, snapshot: bool = False, gap: bool = False
    ) -> None:
        try:
            doc = normalize(
                kind,
                obj,
                observed_at=utcnow(),
                snapshot=snapshot,
                plural=self.resource.plural,
                policy=self.policy,
            )
        except NormalizeError as exc:
            log.warning("%s: object skipped: %s", self.key, exc)
            self.emit(Change(self.key, rv, None))
            return
        except Exception as exc:
            # A bug of ours on one object: restarting the watch would meet it again and
            # stall every later change of this resource, so it costs this object only.
            # The type only: an exception's text may quote a value of the object.
            log.error("%s: object skipped: cannot normalise (%s)", self.key, type(exc).__name__)
            self.emit(Change(self.key, rv, None))
            return
        if gap:
            doc["gap"] = True
        self.emit(Change(self.key, rv, cast(dict[str, Any], doc)))
