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
- **A restart the server cannot replay** (410 before anything was replayed, or a
  checkpoint newer than the cluster's resourceVersion: a rebuilt or restored
  cluster): the silent listing knows nothing of what changed while the shipper was
  down, so the relist is compared with what the store holds instead
  (:mod:`kubetrail.shipper.stored`); objects at or below a still valid checkpoint
  count as unchanged.
- **Too large resourceVersion** (the server has not reached it: answered "Too large
  resource version", or found newer than the server's current one when a watch is
  reopened after an error, since a plain watch from such a version waits silently):
  said at warning level, then relist and compare as after a 410.
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
from kubetrail.shipper.stored import StoredStateUnavailable, StoredVersion

log = logging.getLogger("kubetrail.shipper")

LIST_PAGE = 500
_VOLATILE_CONDITION_KEYS = frozenset({"lastHeartbeatTime", "lastProbeTime"})
_VOLATILE_METADATA = frozenset({"resourceVersion", "managedFields"})
_TYPE_KEYS = frozenset({"kind", "apiVersion"})


class Gone(Exception):
    """The watch cannot go on from its resourceVersion (410: too old): relist.
    ``rv``: the position the watch had reached."""

    def __init__(self, rv: str, message: str = "410 Gone") -> None:
        super().__init__(message)
        self.rv = rv


class TooLarge(Gone):
    """The server has not reached the watch's resourceVersion: another (rebuilt,
    restored) cluster, or a server far behind. Relist."""


StoredLookup = Callable[[ResourceSpec, "str | None"], Mapping[str, StoredVersion]]


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
    digest: int | None  # None: not known (read from the store), never equal
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
        stored: StoredLookup | None = None,
        on_too_large: Callable[[], None] | None = None,
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
        self.stored = stored
        self.on_too_large = on_too_large
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
        resume = self.resume_rv or None  # the checkpoint, until the watch moves past it
        mode = "resume" if resume else "initial"
        rv: str | None = None
        floor: str | None = None  # a relist after a failed resume: unchanged at or below
        recheck = False  # reopening after an error: is the server still at or past rv?
        backoff = 0.5
        waiting_for_store = False
        while not self._stop.is_set():
            try:
                if rv is None:
                    if mode == "stored":
                        self._adopt_stored(namespace)
                        mode, waiting_for_store = "gap", False
                    rv = self._list(namespace, mode, resume=resume, floor=floor)
                    floor = None
                    if mode == "resume" and resume:
                        rv = resume
                    self.synced.set()
                elif recheck:
                    self._check_position(namespace, rv)
                recheck = False
                rv = self._watch(namespace, rv)
                backoff = 0.5
            except Gone as exc:
                self.metrics.relists.labels(self.key).inc()
                too_large = isinstance(exc, TooLarge)
                if mode == "resume" and exc.rv == resume:
                    # nothing replayed yet, and the listing was taken silently
                    log.warning(
                        "%s: cannot resume from the checkpoint %s (%s); comparing a new "
                        "listing with what the store holds",
                        self.key,
                        resume,
                        exc,
                        extra={"resource": self.key},
                    )
                    mode, floor = "stored", None if too_large else resume
                elif too_large:
                    if self.on_too_large is not None:
                        self.on_too_large()
                    log.warning("%s: %s; relisting", self.key, exc, extra={"resource": self.key})
                    mode = "gap"
                else:
                    log.info("watch expired, relisting", extra={"resource": self.key})
                    mode = "gap"
                rv, recheck = None, False
            except StoredStateUnavailable as exc:
                delay = backoff * (0.5 + random.random())
                if not waiting_for_store:
                    log.warning(
                        "%s: cannot compare the relist with the store yet (%s); retrying",
                        self.key,
                        exc,
                        extra={"resource": self.key},
                    )
                waiting_for_store = True
                self._stop.wait(delay)
                backoff = min(backoff * 2, 30.0)
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
                recheck = rv is not None

    def _adopt_stored(self, namespace: str | None) -> None:
        """Take what the store holds of this resource (in ``namespace``) as the known
        state the next listing is compared with. Without a store to ask, nothing is
        known: what is listed beyond the checkpoint reads as created."""
        state = self.stored(self.resource, namespace) if self.stored is not None else {}
        for uid in [u for u, k in self.known.items() if self._in_scope(k, namespace)]:
            self.known.pop(uid, None)
        for uid, version in state.items():
            self.known[uid] = _Known(version.rv, None, version.namespace, version.name)

    def _check_position(self, namespace: str | None, rv: str) -> None:
        """Before a watch reopens after an error: a server behind ``rv`` (rebuilt at the
        same address while the connection was down) would let a plain watch from it
        wait without a word, not even a bookmark."""
        try:
            page = self.kube.get(self.resource.list_path(namespace), [("limit", 1)], timeout=30)
        except KubeError as exc:
            if exc.status == 504 and _says_too_large(str(exc)):
                raise TooLarge(rv, f"the server answered: {exc}") from None
            raise
        meta = page.get("metadata") if isinstance(page, dict) else None
        current = meta.get("resourceVersion") if isinstance(meta, dict) else None
        if isinstance(current, str) and _newer(rv, current):
            raise TooLarge(rv, f"resourceVersion {rv} is newer than the server's {current}")

    def _list(
        self,
        namespace: str | None,
        mode: str,
        *,
        resume: str | None = None,
        floor: str | None = None,
    ) -> str:
        """List everything (paginated); emit per ``mode``; return the list's resourceVersion.
        ``resume``: the checkpoint a ``resume`` listing is followed by a watch from (a
        :class:`TooLarge` when the cluster has not reached it); ``floor``: in a ``gap``
        listing, objects at or below this resourceVersion count as unchanged."""
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
            if mode == "resume" and resume and not cont and _newer(resume, list_rv):
                raise TooLarge(
                    resume,
                    f"the checkpoint is newer than the cluster's resourceVersion {list_rv}: "
                    "the cluster was rebuilt or restored",
                )
            for item in items if isinstance(items, list) else []:
                ident = _identity(item)
                if ident is None:
                    self._malformed("a listed object", item)
                    continue
                item.setdefault("kind", self.resource.kind)
                item.setdefault("apiVersion", self.resource.api_version)
                if ident.uid:
                    seen.add(ident.uid)
                    self._listed(item, ident, mode, floor)
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

    def _listed(
        self, obj: dict[str, Any], ident: _Identity, mode: str, floor: str | None = None
    ) -> None:
        uid, rv = ident.uid, ident.rv
        digest = churn_digest(obj)
        before = self.known.get(uid)
        self.known[uid] = _Known(rv, digest, ident.namespace, ident.name)
        if mode == "initial":
            self._emit("ADDED", obj, rv=rv, snapshot=True)
        elif mode == "gap":
            if floor is not None and _at_or_below(rv, floor):
                return  # not written since the checkpoint: stored, or churn not stored
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
        lines = self.kube.stream_lines(
            self.resource.list_path(namespace), query, read_timeout=self.stall_timeout
        )
        try:
            for line in lines:
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
                    message = status.get("message")
                    if code == 410 or status.get("reason") in ("Expired", "Gone"):
                        raise Gone(rv)
                    if code == 504 and _says_too_large(message):
                        raise TooLarge(rv, f"the server answered: {message}")
                    raise KubeError(f"watch error: {message}", status=code)
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
        except KubeError as exc:
            if exc.status == 504 and _says_too_large(str(exc)):
                raise TooLarge(rv, f"the server answered: {exc}") from None
            raise
        finally:
            lines.close()  # now, not when collected: see Kube.stream_lines
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


def _says_too_large(message: Any) -> bool:
    """The API server's words for a resourceVersion it has not reached (status 504,
    reason Timeout, cause ResourceVersionTooLarge)."""
    return isinstance(message, str) and "too large resource version" in message.lower()


def _newer(rv: str, than: str) -> bool:
    """``rv`` is a later revision than ``than``. resourceVersions are opaque to clients,
    but every etcd-backed server's are its revision numbers; anything else compares as
    not newer."""
    return rv.isdigit() and than.isdigit() and int(rv) > int(than)


def _at_or_below(rv: str, than: str) -> bool:
    return rv.isdigit() and than.isdigit() and int(rv) <= int(than)
