"""The filter parameters ``/api/v1/events`` and ``/api/v1/summary`` share, declared once:
:data:`EventFiltersDep` gives a route them as :class:`~kubetrail.queries.events.EventParams`
(not yet checked; :func:`~kubetrail.queries.events.event_query` checks them).

A coroutine, like :mod:`kubetrail.api.deps`, so that FastAPI runs it on the event loop.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from kubetrail.api.responses import TIME_PARAMETER
from kubetrail.queries.events import EventParams

_TIME = "RFC3339 time, e.g. 2024-01-01T12:00:00Z"
_MULTI = " Repeat the parameter to match any of several values."


async def event_filters(
    start: Annotated[
        str | None,
        Query(
            description=f"Inclusive lower bound; {_TIME}. Default: end - 24h.",
            json_schema_extra=TIME_PARAMETER,
        ),
    ] = None,
    end: Annotated[
        str | None,
        Query(
            description=f"Inclusive upper bound; {_TIME}. Default: now.",
            json_schema_extra=TIME_PARAMETER,
        ),
    ] = None,
    namespace: Annotated[
        list[str], Query(description="Namespace; `_` selects cluster-scoped objects." + _MULTI)
    ] = [],  # noqa: B006 - FastAPI copies defaults
    resourceType: Annotated[
        list[str], Query(description="Plural resource type, e.g. pods." + _MULTI)
    ] = [],  # noqa: B006
    verb: Annotated[list[str], Query(description="create, update or delete." + _MULTI)] = [],  # noqa: B006
    name: Annotated[list[str], Query(description="Object name (resourceName)." + _MULTI)] = [],  # noqa: B006
    kind: Annotated[list[str], Query(description="Object kind, e.g. Pod." + _MULTI)] = [],  # noqa: B006
    signal: Annotated[
        list[str],
        Query(
            description="Signal, e.g. pod.waiting:CrashLoopBackOff; a trailing * matches a prefix."
            + _MULTI
        ),
    ] = [],  # noqa: B006
    user: Annotated[
        list[str],
        Query(
            description="Who made the change: the user the API server's audit log names "
            "(e.g. alice@example.com, system:serviceaccount:argocd:argocd-application-"
            "controller), or system:k8s-watcher where no audit event was joined." + _MULTI
        ),
    ] = [],  # noqa: B006
    q: Annotated[
        str | None,
        Query(
            description="Full-text search: every word must occur; a trailing * matches a prefix."
        ),
    ] = None,
    snapshot: Annotated[
        bool | None,
        Query(description="true: only listings (state when watching began); false: only changes."),
    ] = None,
) -> EventParams:
    return EventParams(
        start=start,
        end=end,
        namespace=tuple(namespace),
        resource_type=tuple(resourceType),
        verb=tuple(verb),
        name=tuple(name),
        kind=tuple(kind),
        signal=tuple(signal),
        user=tuple(user),
        q=q,
        snapshot=snapshot,
    )


EventFiltersDep = Annotated[EventParams, Depends(event_filters)]
