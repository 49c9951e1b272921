"""The store directly: ``kubetrail mcp --store URL`` answers in-process.

The MCP server opens the store itself and asks it what the REST API would:
the diagnostics, :func:`~kubetrail.queries.events.event_query` for
``search_events`` (the API's own validation of its parameters) and
:func:`~kubetrail.queries.history.object_history` and
:func:`~kubetrail.queries.summary.summarize`, so it answers what the
API would, with the API's validation and messages, without an API in between.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubetrail.config import Settings
from kubetrail.diagnostics import InvalidParams, run_check
from kubetrail.mcp.backends.base import (
    ApiUnavailable,
    InvalidArguments,
    NotFound,
    accepted_forms,
    change_window,
    not_stored,
    tool_check_params,
)
from kubetrail.queries import EventParams, InvalidParameter, ObjectKey, event_query, object_history
from kubetrail.queries.events import time_range
from kubetrail.queries.summary import SummaryOptions, summarize
from kubetrail.store.base import Store, StoreError


class StoreBackend:
    """Answers from a store opened in this process (``kubetrail mcp --store URL``)."""

    def __init__(self, store: Store, *, location: str, settings: Settings | None = None) -> None:
        self.store = store
        self.location = location
        # the API's limits on a page of events (the API reads them from the environment)
        self.settings = settings or Settings()

    def run_check(self, name: str, args: Mapping[str, Any]) -> dict[str, Any]:
        params = tool_check_params(name, args)
        try:
            return run_check(self.store, name, params).to_dict()
        except InvalidParams as exc:
            raise InvalidArguments(str(exc)) from None
        except StoreError as exc:
            raise self._unavailable(exc) from None

    def changes(
        self, range: str | None, namespace: str | None, limit: int | None
    ) -> dict[str, Any]:
        window = change_window(range)
        return self.run_check(
            "analyze_recent_changes",
            {"time_window": window, "namespace": namespace, "limit": limit},
        )

    def search_events(self, params: Mapping[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        try:
            query = event_query(
                EventParams.from_mapping(params),
                default_limit=self.settings.default_limit,
                max_limit=self.settings.max_query_limit,
            )
        except InvalidParameter as exc:
            raise InvalidArguments(accepted_forms(str(exc))) from None
        try:
            page = self.store.search(query)
        except StoreError as exc:
            raise self._unavailable(exc) from None
        docs: list[dict[str, Any]] = [dict(d) for d in page.items]
        return docs, page.next.encode() if page.next else None

    def object_history(
        self,
        namespace: str,
        resource_type: str,
        name: str,
        *,
        start: str | None = None,
        end: str | None = None,
    ) -> dict[str, Any]:
        try:
            start_dt, end_dt = time_range(start, end, default_window=None)
            history = object_history(
                self.store,
                ObjectKey.from_path(namespace, resource_type, name),
                start=start_dt,
                end=end_dt,
                limit=self.settings.default_limit,
            )
        except InvalidParameter as exc:
            raise InvalidArguments(accepted_forms(str(exc))) from None
        except StoreError as exc:
            raise self._unavailable(exc) from None
        if history is None:
            raise NotFound(not_stored(namespace, resource_type, name))
        return history.to_dict()

    def summarize(self, params: Mapping[str, Any]) -> dict[str, Any]:
        try:
            query = event_query(
                EventParams.from_mapping(params),
                default_limit=self.settings.default_limit,
                max_limit=self.settings.max_query_limit,
            )
            options = SummaryOptions.from_mapping(params)
        except InvalidParameter as exc:
            raise InvalidArguments(accepted_forms(str(exc))) from None
        try:
            return summarize(self.store, query.filter, options).to_dict()
        except StoreError as exc:
            raise self._unavailable(exc) from None

    def count_events(
        self, params: Mapping[str, Any], *, by: str = "verb", top: int = 3
    ) -> tuple[int, dict[str, int]] | None:
        filters = {k: v for k, v in params.items() if k not in ("limit", "cursor", "fields")}
        summary = self.summarize({**filters, "by": by, "top": top})
        return int(summary["total"]), dict(summary["counts"].get(by) or {})

    def health(self) -> dict[str, Any]:
        h = self.store.health()
        return {"status": "ok" if h.ok else "unavailable", "store": {"kind": h.store, **h.detail}}

    def close(self) -> None:
        self.store.close()

    def _unavailable(self, exc: StoreError) -> ApiUnavailable:
        return ApiUnavailable(f"the store {self.location} cannot answer: {exc}")
