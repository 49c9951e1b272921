"""Where the MCP server gets its answers: the REST API, or a store opened directly.

The MCP server is a thin client. By default it talks to a kubetrail REST API
(``AUDIT_API_URL``, as the original toolkit did), so a laptop running Claude
Desktop needs no store credentials: :class:`RestBackend`. With ``--store URL``
it opens the store itself and runs the same diagnostics in-process:
:class:`StoreBackend`. Both speak the REST API's vocabulary — query parameters
named as in ``GET /api/v1/events``, reports as ``Report.to_dict()`` — so the
server above them does not care which one it has.

**Existing audit APIs.** An API that only implements ``GET /api/v1/events``
(the original Go watch server, or a kubetrail older than the diagnostics)
answers 404 for ``/api/v1/diagnostics``. The REST backend then fetches the
window's events page by page (at most :data:`FALLBACK_MAX_EVENTS`), re-normalises
them (which recomputes the signals from ``objectChanges`` and redacts Secrets
the old API may have stored in clear), loads them into a temporary embedded
store and runs the very same check there; the report says so in its notes.

Every failure is a :class:`BackendError` whose message is one line a user can
act on: the API is down (with the URL and the port-forward that usually fixes
it), a parameter is wrong (which one, and the accepted forms), the API answered
something else (status and a short excerpt of the body).
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import quote

import httpx

from kubetrail.diagnostics.model import (
    DEFAULT_LIMIT,
    CheckParams,
    InvalidParams,
    TimeRange,
)
from kubetrail.events.timing import InvalidTime, format_rfc3339, parse_rfc3339
from kubetrail.store.base import Cursor, EventFilter, EventQuery, Store, StoreError

log = logging.getLogger("kubetrail.mcp")

DEFAULT_API_URL = "http://localhost:8080"
PORT_FORWARD_HINT = "kubectl port-forward -n kubetrail svc/kubetrail-api 8080:8080"
#: Most events the events-only fallback fetches for one check.
FALLBACK_MAX_EVENTS = 20_000
FALLBACK_PAGE_SIZE = 1000
#: ``audit://changes/{time_range}`` and ``GET /api/v1/changes?range=``.
CHANGE_RANGES: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}
_EXCERPT = 200


class BackendError(Exception):
    """A question could not be answered; the message is one line a user can act on."""


class ApiUnavailable(BackendError):
    """The audit API (or the store) cannot be reached."""


class InvalidArguments(BackendError):
    """A parameter is missing or malformed; the message names it and the accepted forms."""


class NotFound(BackendError):
    """Nothing is stored about what was asked for."""


@runtime_checkable
class Backend(Protocol):
    """What the MCP server needs. Parameters use the REST API's names."""

    #: where the data comes from, for messages: the API URL or the store URL
    location: str

    def run_check(self, name: str, args: Mapping[str, Any]) -> dict[str, Any]:
        """Run one diagnostic. ``args``: namespace, start_time, end_time, time_window,
        limit, pod_name (absent or ``None`` = default). Returns ``Report.to_dict()``."""
        ...

    def changes(
        self, range: str | None, namespace: str | None, limit: int | None
    ) -> dict[str, Any]:
        """``analyze_recent_changes`` over the last ``range`` (1h, 24h, 7d)."""
        ...

    def search_events(self, params: Mapping[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        """``GET /api/v1/events`` with these parameters: (documents, next cursor)."""
        ...

    def object_history(self, namespace: str, resource_type: str, name: str) -> dict[str, Any]:
        """``GET /api/v1/events/{ns|_}/{resourceType}/{name}``; :class:`NotFound` if none."""
        ...

    def health(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


# -- shared: parameters ------------------------------------------------------------


def check_params(name: str, args: Mapping[str, Any]) -> CheckParams:
    """The :class:`CheckParams` of a call, validated here so that both backends
    (and an events-only API) reject a bad argument with the same message."""
    from kubetrail.diagnostics import CHECKS

    spec = CHECKS.get(name)
    if spec is None:
        raise InvalidArguments(f"unknown check {name!r}; known checks: {', '.join(sorted(CHECKS))}")
    try:
        rng = TimeRange.resolve(
            start_time=args.get("start_time") or None,
            end_time=args.get("end_time") or None,
            time_window=args.get("time_window") or None,
            default=spec.default_window,
        )
        limit = args.get("limit")
        params = CheckParams(
            range=rng,
            namespace=args.get("namespace") or None,
            limit=DEFAULT_LIMIT if limit is None else int(limit),
            pod_name=args.get("pod_name") or None,
        )
    except InvalidParams as exc:
        raise InvalidArguments(_accepted_forms(str(exc))) from None
    if spec.needs_pod:
        missing = [p for p in ("pod_name", "namespace") if not args.get(p)]
        if missing:
            raise InvalidArguments(
                f"{name} needs {' and '.join(missing)}: the pod's name and its namespace, "
                "e.g. pod_name='checkout-7d9f8b6c4-x2k8q', namespace='shop'"
            )
    return params


def _accepted_forms(message: str) -> str:
    """Make sure a time error says which forms are accepted."""
    if "time_window" in message or "RFC3339" in message or "e.g." in message:
        return message
    if "time" in message:
        return f"{message} (times are RFC3339, e.g. 2024-01-01T12:00:00Z)"
    return message


def change_window(range: str | None) -> str:
    """Validate ``range`` for the changes resource and endpoint (1h, 24h, 7d)."""
    value = (range or "24h").strip().lower()
    if value not in CHANGE_RANGES:
        raise InvalidArguments(
            f"time range {range!r} is not one of {', '.join(CHANGE_RANGES)} "
            "(for any other window use analyze_recent_changes with time_window, e.g. 30m, 2h, 3d)"
        )
    return value


# -- the store directly --------------------------------------------------------------


class StoreBackend:
    """Answers from a store opened in this process (``kubetrail mcp --store URL``)."""

    def __init__(self, store: Store, *, location: str) -> None:
        self.store = store
        self.location = location

    def run_check(self, name: str, args: Mapping[str, Any]) -> dict[str, Any]:
        from kubetrail.diagnostics import run_check

        params = check_params(name, args)
        try:
            return run_check(self.store, name, params).to_dict()
        except InvalidParams as exc:
            raise InvalidArguments(str(exc)) from None
        except StoreError as exc:
            raise ApiUnavailable(f"the store {self.location} cannot answer: {exc}") from None

    def changes(
        self, range: str | None, namespace: str | None, limit: int | None
    ) -> dict[str, Any]:
        window = change_window(range)
        return self.run_check(
            "analyze_recent_changes",
            {"time_window": window, "namespace": namespace, "limit": limit},
        )

    def search_events(self, params: Mapping[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        query = _event_query(params)
        try:
            page = self.store.search(query)
        except StoreError as exc:
            raise ApiUnavailable(f"the store {self.location} cannot answer: {exc}") from None
        return list(page.items), page.next.encode() if page.next else None

    def object_history(self, namespace: str, resource_type: str, name: str) -> dict[str, Any]:
        from kubetrail.store.history import ObjectRef, object_history

        ns = "" if namespace in ("", "_") else namespace
        try:
            history = object_history(
                self.store, ObjectRef(namespace=ns, resource_type=resource_type, name=name)
            )
        except StoreError as exc:
            raise ApiUnavailable(f"the store {self.location} cannot answer: {exc}") from None
        if history is None:
            raise NotFound(_not_stored(namespace, resource_type, name))
        return {
            "namespace": namespace or "_",
            "resourceType": resource_type,
            "name": name,
            "history": history.versions,
            "relatedEvents": history.events,
            "truncated": history.truncated,
        }

    def health(self) -> dict[str, Any]:
        h = self.store.health()
        return {"status": "ok" if h.ok else "unavailable", "store": {"kind": h.store, **h.detail}}

    def close(self) -> None:
        self.store.close()


def _not_stored(namespace: str, resource_type: str, name: str) -> str:
    where = f"{namespace}/{name}" if namespace not in ("", "_") else name
    return (
        f"nothing stored about {resource_type} {where}; cluster-scoped objects (nodes, "
        "persistentvolumes, storageclasses...) use namespace '_', resource types are plural "
        "(pods, deployments, persistentvolumeclaims)"
    )


def _tuple(value: Any) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value if v not in (None, ""))


def _tool_time(name: str, value: Any) -> datetime | None:
    try:
        return parse_rfc3339(value) if value else None
    except InvalidTime as exc:
        raise InvalidArguments(_accepted_forms(f"invalid {name}: {exc}")) from None


def _event_query(params: Mapping[str, Any]) -> EventQuery:
    """REST parameter names → an :class:`EventQuery` (what the API does for the events route)."""
    end = _tool_time("end_time", params.get("end"))
    start = _tool_time("start_time", params.get("start"))
    namespaces = tuple("" if n == "_" else n for n in _tuple(params.get("namespace")))
    snapshot = params.get("snapshot")
    if isinstance(snapshot, str):
        snapshot = snapshot.lower() == "true"
    cursor = params.get("cursor")
    try:
        after = Cursor.decode(cursor) if cursor else None
    except StoreError as exc:
        raise InvalidArguments(str(exc)) from None
    return EventQuery(
        filter=EventFilter(
            start=start,
            end=end,
            namespace=namespaces,
            resource_type=_tuple(params.get("resourceType")),
            name=_tuple(params.get("name")),
            kind=_tuple(params.get("kind")),
            verb=_tuple(params.get("verb")),
            signal=_tuple(params.get("signal")),
            text=params.get("q") or None,
            snapshot=snapshot if isinstance(snapshot, bool) else None,
        ),
        limit=int(params.get("limit") or 1000),
        after=after,
    )


# -- the REST API ----------------------------------------------------------------------


class RestBackend:
    """Answers from a kubetrail REST API (or an events-only audit API, see the module doc)."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.location = base_url.rstrip("/")
        headers = {"Accept": "application/json", "User-Agent": "kubetrail-mcp"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            base_url=self.location, headers=headers, timeout=timeout, transport=transport
        )
        self._events_only: bool | None = None  # learnt on the first 404 of /diagnostics

    @classmethod
    def from_env(cls, base_url: str | None = None) -> RestBackend:
        url = base_url or os.environ.get("AUDIT_API_URL") or DEFAULT_API_URL
        return cls(url, os.environ.get("KUBETRAIL_API_TOKEN") or None)

    # -- HTTP ------------------------------------------------------------------------

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> httpx.Response:
        clean = {k: v for k, v in (params or {}).items() if v is not None and v != ""}
        try:
            return self._http.get(path, params=clean)
        except httpx.TimeoutException:
            raise ApiUnavailable(
                f"the audit API at {self.location} did not answer GET {path} within "
                f"{self._http.timeout.read:.0f} s; try a shorter time_window or a namespace"
            ) from None
        except httpx.TransportError as exc:
            raise ApiUnavailable(self._unavailable(exc)) from None
        except httpx.InvalidURL as exc:  # a value no URL can carry
            raise InvalidArguments(
                f"the arguments cannot be sent to the audit API: {exc}"
            ) from None

    def _unavailable(self, exc: Exception) -> str:
        reason = str(exc) or type(exc).__name__
        return (
            f"the audit API at {self.location} is unavailable ({reason}). Is it running? "
            f"From outside the cluster run `{PORT_FORWARD_HINT}` and set "
            "AUDIT_API_URL=http://localhost:8080 (or start the MCP server with --store URL)"
        )

    def _fail(self, resp: httpx.Response) -> BackendError:
        """The error for a non-200 answer."""
        path = resp.request.url.path
        error, detail = _error_body(resp)
        if resp.status_code == 400:
            return InvalidArguments(_accepted_forms(_join(error, detail)))
        if resp.status_code in (401, 403):
            return BackendError(
                f"the audit API at {self.location} answered {resp.status_code} for GET {path}: "
                "set KUBETRAIL_API_TOKEN to the API's bearer token"
            )
        if resp.status_code == 404 and error:
            return NotFound(_join(error, detail))
        if resp.status_code == 503:
            return ApiUnavailable(
                f"the audit API at {self.location} answered 503: its store is unavailable "
                f"({_join(error, detail) or _excerpt(resp)})"
            )
        return BackendError(
            f"the audit API at {self.location} answered {resp.status_code} "
            f"{resp.reason_phrase} for GET {path}: {_excerpt(resp)}"
        )

    def _json(self, resp: httpx.Response) -> Any:
        try:
            return resp.json()
        except ValueError:
            raise BackendError(
                f"the audit API at {self.location} answered GET {resp.request.url.path} "
                f"with something that is not JSON: {_excerpt(resp)}"
            ) from None

    # -- Backend -----------------------------------------------------------------------

    def run_check(self, name: str, args: Mapping[str, Any]) -> dict[str, Any]:
        params = check_params(name, args)  # the same messages whatever the API is
        if self._events_only:
            return self._local_check(name, params)
        resp = self._get(f"/api/v1/diagnostics/{name}", _check_query(args))
        if resp.status_code == 200:
            self._events_only = False
            return self._json(resp)
        if resp.status_code == 404 and self._diagnostics_missing():
            return self._local_check(name, params)
        raise self._fail(resp)

    def _diagnostics_missing(self) -> bool:
        """After a 404: is it the whole diagnostics API that is missing?"""
        if self._events_only is None:
            resp = self._get("/api/v1/diagnostics")
            self._events_only = resp.status_code == 404
            if self._events_only:
                log.warning(
                    "%s has no /api/v1/diagnostics: evaluating checks locally from its events",
                    self.location,
                )
        return self._events_only

    def changes(
        self, range: str | None, namespace: str | None, limit: int | None
    ) -> dict[str, Any]:
        window = change_window(range)
        args = {"time_window": window, "namespace": namespace, "limit": limit}
        if self._events_only:
            params = check_params("analyze_recent_changes", args)
            return self._local_check("analyze_recent_changes", params)
        resp = self._get(
            "/api/v1/changes", {"range": window, "namespace": namespace, "limit": limit}
        )
        if resp.status_code == 200:
            return self._json(resp)
        if resp.status_code == 404:
            return self.run_check("analyze_recent_changes", args)
        raise self._fail(resp)

    def search_events(self, params: Mapping[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        resp = self._get("/api/v1/events", params)
        if resp.status_code != 200:
            raise self._fail(resp)
        body = self._json(resp)
        if not isinstance(body, list):
            raise BackendError(
                f"the audit API at {self.location} answered GET /api/v1/events with a JSON "
                f"{type(body).__name__}, not the array of events the contract specifies"
            )
        return body, resp.headers.get("X-Next-Cursor") or None

    def object_history(self, namespace: str, resource_type: str, name: str) -> dict[str, Any]:
        ns = namespace or "_"
        # each part is one path segment, whatever it holds ("/", "?", "..", controls)
        segments = "/".join(quote(part, safe="") for part in (ns, resource_type, name))
        resp = self._get(f"/api/v1/events/{segments}")
        if resp.status_code == 404:
            raise NotFound(_not_stored(ns, resource_type, name))
        if resp.status_code != 200:
            raise self._fail(resp)
        return self._json(resp)

    def health(self) -> dict[str, Any]:
        resp = self._get("/health")
        if resp.status_code not in (200, 503):
            raise self._fail(resp)
        return self._json(resp)

    def close(self) -> None:
        self._http.close()

    # -- the events-only fallback ---------------------------------------------------------

    def _local_check(self, name: str, params: CheckParams) -> dict[str, Any]:
        from kubetrail.diagnostics import run_check
        from kubetrail.store.sqlite import SQLiteStore

        fetch = self._fetch_documents(name, params)
        with tempfile.TemporaryDirectory(prefix="kubetrail-mcp-") as tmp:
            store = SQLiteStore(Path(tmp) / "fallback.db")
            try:
                if fetch.documents:
                    store.write(fetch.documents)
                report = run_check(store, name, params).to_dict()
            except InvalidParams as exc:
                raise InvalidArguments(str(exc)) from None
            finally:
                store.close()
        report.setdefault("notes", [])
        report["notes"].append(
            f"computed locally by the MCP server from {fetch.fetched} events fetched from "
            f"{self.location}/api/v1/events (this API has no /api/v1/diagnostics); "
            "signals were recomputed from each event's objectChanges"
        )
        report["notes"].extend(fetch.notes)
        report["fetchedEvents"] = fetch.fetched
        return report

    def _fetch_documents(self, name: str, params: CheckParams) -> _Fetched:
        from kubetrail.config import Settings
        from kubetrail.ingest.records import RecordError, to_documents

        policy = Settings.from_env().redaction_policy()
        rng = params.range
        query: dict[str, Any] = {
            "start": format_rfc3339(rng.start),
            "end": format_rfc3339(rng.end),
            "limit": FALLBACK_PAGE_SIZE,
        }
        if params.namespace and name in _NAMESPACE_LOCAL_CHECKS:
            query["namespace"] = params.namespace
        fetched = 0
        rejected = 0
        notes: list[str] = []
        docs: dict[str, dict[str, Any]] = {}
        while True:
            page, cursor = self.search_events(query)
            fetched += len(page)
            for raw in page:
                try:
                    for doc in to_documents(raw, policy=policy) if isinstance(raw, dict) else ():
                        docs[doc["id"]] = doc
                except RecordError:
                    rejected += 1
            if fetched >= FALLBACK_MAX_EVENTS:
                if cursor or len(page) >= FALLBACK_PAGE_SIZE:
                    notes.append(
                        f"stopped after fetching {fetched} events (the cap is "
                        f"{FALLBACK_MAX_EVENTS}): findings may be incomplete; narrow with "
                        "namespace= or a shorter time_window"
                    )
                break
            if cursor:
                query["cursor"] = cursor
                continue
            if len(page) < FALLBACK_PAGE_SIZE:
                break
            # no cursor support (the original API): continue from the last timestamp;
            # events repeated at that instant are deduplicated by id
            last = page[-1].get("timestamp") if isinstance(page[-1], dict) else None
            if not last or _same_instant(last, query["start"]):
                notes.append(
                    f"more than {FALLBACK_PAGE_SIZE} events share the timestamp {last}; the API "
                    "offers no cursor, so some of them were not fetched"
                )
                break
            query["start"] = last
        if rejected:
            notes.append(f"{rejected} fetched events could not be read and were skipped")
        return _Fetched(documents=list(docs.values()), fetched=fetched, notes=notes)


#: Checks whose findings and evidence live in the namespace asked for; the others
#: need cluster-scoped objects (nodes, volumes, storage classes) as well.
_NAMESPACE_LOCAL_CHECKS = frozenset({"check_pod_issues", "check_resource_limits"})


class _Fetched:
    __slots__ = ("documents", "fetched", "notes")

    def __init__(self, *, documents: list[dict[str, Any]], fetched: int, notes: list[str]) -> None:
        self.documents = documents
        self.fetched = fetched
        self.notes = notes


def _same_instant(a: str, b: str) -> bool:
    try:
        return parse_rfc3339(a) <= parse_rfc3339(b)
    except InvalidTime:
        return a == b


def _check_query(args: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("namespace", "start_time", "end_time", "time_window", "limit", "pod_name")
    return {k: args.get(k) for k in keys}


def _error_body(resp: httpx.Response) -> tuple[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        return "", None
    if isinstance(body, dict):
        return str(body.get("error") or ""), body.get("detail")
    return "", None


def _join(error: str, detail: Any) -> str:
    if detail is None or detail == "" or detail == []:
        return error
    if isinstance(detail, list) and all(isinstance(d, dict) for d in detail):
        detail = "; ".join(f"{d.get('parameter')}: {d.get('problem')}" for d in detail)
    elif isinstance(detail, dict):
        detail = ", ".join(f"{k}: {v}" for k, v in detail.items())
    return f"{error} ({detail})" if error else str(detail)


def _excerpt(resp: httpx.Response) -> str:
    text = re.sub(r"\s+", " ", resp.text or "").strip()
    if not text:
        return "(empty body)"
    return text if len(text) <= _EXCERPT else text[:_EXCERPT] + "…"
