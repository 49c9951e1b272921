"""What the REST API and the MCP server ask of a store, written once.

The API's routes and the MCP server's store backend parse their own input and
format their own output; between the two they share the questions:

- :mod:`~kubetrail.queries.events`: the parameters of ``GET /api/v1/events``
  (REST names) → a validated :class:`~kubetrail.store.base.EventQuery`;
- :mod:`~kubetrail.queries.history`: one object's stored versions with the
  paths that changed, and the Kubernetes Events about it;
  :mod:`~kubetrail.queries.history_view` turns them into what changed (before → after);
- :mod:`~kubetrail.queries.fields`: the ``fields=`` sparse fieldset, validated;
- :mod:`~kubetrail.queries.summary`: how many events match, counted by a few keys, and
  the newest of them.

The checks' parameters, descriptions and windows are the diagnostics' own
(:mod:`kubetrail.diagnostics.catalog`): this package and ``diagnostics`` are
siblings over the store and do not import each other.
"""

from kubetrail.queries.events import (
    CLUSTER_SCOPE,
    EventParams,
    InvalidParameter,
    event_query,
)
from kubetrail.queries.history import ObjectHistory, ObjectKey, object_history

__all__ = [
    "CLUSTER_SCOPE",
    "EventParams",
    "InvalidParameter",
    "ObjectHistory",
    "ObjectKey",
    "event_query",
    "object_history",
]
