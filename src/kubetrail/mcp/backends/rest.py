"""The REST API: the MCP server as a thin client of ``kubetrail api``.

By default the MCP server talks to a kubetrail REST API (``AUDIT_API_URL``, as
the original toolkit did), so a laptop running Claude Desktop needs no store
credentials. Checks go to ``/api/v1/diagnostics/{check}`` (their arguments
validated here first, so the messages are the same whatever the API is),
searches to ``/api/v1/events``, histories to ``/api/v1/events/{ns}/{type}/{name}``
(``full=true``), summaries to ``/api/v1/summary``.
An API without ``/api/v1/diagnostics`` (an events-only audit API) gets its
checks (and summaries) evaluated here instead: :mod:`~kubetrail.mcp.backends.fallback`.

A failure says what to do: the API is down (with the URL and the port-forward
that usually fixes it), a parameter is wrong (which one, and the accepted
forms), the API answered something else (status and a short excerpt of the
body).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from kubetrail.diagnostics import CheckParams
from kubetrail.events.redact import DEFAULT_POLICY, RedactionPolicy
from kubetrail.mcp.backends.base import (
    ApiUnavailable,
    BackendError,
    InvalidArguments,
    NotFound,
    accepted_forms,
    change_window,
    not_stored,
    tool_check_params,
)

log = logging.getLogger("kubetrail.mcp")

PORT_FORWARD_HINT = "kubectl port-forward -n kubetrail svc/kubetrail-api 8080:8080"
_EXCERPT = 200


class RestBackend:
    """Answers from a kubetrail REST API (or an events-only audit API, see the module doc)."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
        policy: RedactionPolicy = DEFAULT_POLICY,
    ) -> None:
        self.location = base_url.rstrip("/")
        # an events-only API's documents are re-normalised here: redacted by this policy
        self.policy = policy
        headers = {"Accept": "application/json", "User-Agent": "kubetrail-mcp"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            base_url=self.location, headers=headers, timeout=timeout, transport=transport
        )
        self._events_only: bool | None = None  # learnt on the first 404 of /diagnostics
        self._summary_missing = False  # learnt on the first 404 of /summary

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
            return InvalidArguments(accepted_forms(_join(error, detail)))
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
        params = tool_check_params(name, args)  # the same messages whatever the API is
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
            params = tool_check_params("analyze_recent_changes", args)
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

    def object_history(
        self,
        namespace: str,
        resource_type: str,
        name: str,
        *,
        start: str | None = None,
        end: str | None = None,
    ) -> dict[str, Any]:
        ns = namespace or "_"
        # each part is one path segment, whatever it holds ("/", "?", "..", controls)
        segments = "/".join(quote(part, safe="") for part in (ns, resource_type, name))
        # the whole versions (the view is made here); an older API ignores full
        params = {"full": "true", "start": start, "end": end}
        resp = self._get(f"/api/v1/events/{segments}", params)
        if resp.status_code == 404:
            raise NotFound(not_stored(ns, resource_type, name))
        if resp.status_code != 200:
            raise self._fail(resp)
        return self._json(resp)

    def summarize(self, params: Mapping[str, Any]) -> dict[str, Any]:
        if not self._summary_missing:
            resp = self._get("/api/v1/summary", params)
            if resp.status_code == 200:
                return self._json(resp)
            if resp.status_code != 404:
                raise self._fail(resp)
            self._summary_missing = True  # the route has no 404 of its own: it is missing
            log.warning(
                "%s has no /api/v1/summary: summarising locally from its events", self.location
            )
        from kubetrail.mcp.backends.fallback import local_summary  # only for old APIs

        return local_summary(self, params, policy=self.policy)

    def count_events(
        self, params: Mapping[str, Any], *, by: str = "verb", top: int = 3
    ) -> tuple[int, dict[str, int]] | None:
        if self._summary_missing:
            return None  # counting by fetching every event would cost more than the answer
        filters = {k: v for k, v in params.items() if k not in ("limit", "cursor", "fields")}
        resp = self._get("/api/v1/summary", {**filters, "by": by, "top": top})
        if resp.status_code == 404:
            self._summary_missing = True
            return None
        if resp.status_code != 200:
            raise self._fail(resp)
        body = self._json(resp)
        total = body.get("total") if isinstance(body, dict) else None
        if not isinstance(total, int):
            return None
        counts = (body.get("counts") or {}).get(by) or {}
        return total, {str(k): int(v) for k, v in counts.items()}

    def health(self) -> dict[str, Any]:
        resp = self._get("/health")
        if resp.status_code not in (200, 503):
            raise self._fail(resp)
        return self._json(resp)

    def close(self) -> None:
        self._http.close()

    def _local_check(self, name: str, params: CheckParams) -> dict[str, Any]:
        from kubetrail.mcp.backends.fallback import local_check  # only for old APIs

        return local_check(self, name, params, policy=self.policy)


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
