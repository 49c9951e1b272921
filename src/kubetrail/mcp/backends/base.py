"""What every backend is: the protocol the MCP server calls, its errors, shared checks.

A backend answers in the REST API's vocabulary — query parameters named as in
``GET /api/v1/events``, reports as ``Report.to_dict()`` — so the server above
it does not care which one it has. Every failure is a :class:`BackendError`
whose message is one line a user can act on; the arguments of a check are
validated here, before any backend runs it, so that every backend (and an
events-only API) rejects a bad argument with the same message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from kubetrail.diagnostics import (
    CHANGE_RANGES,
    CHECKS,
    CheckParams,
    InvalidParams,
    UnknownCheck,
    check_params,
)


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

    def object_history(
        self,
        namespace: str,
        resource_type: str,
        name: str,
        *,
        start: str | None = None,
        end: str | None = None,
    ) -> dict[str, Any]:
        """``GET /api/v1/events/{ns|_}/{resourceType}/{name}?full=true`` (whole versions,
        between the RFC3339 times ``start`` and ``end`` when given); :class:`NotFound` if none."""
        ...

    def summarize(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """``GET /api/v1/summary`` with these parameters (the filters of ``/api/v1/events``,
        ``by``, ``top``, ``newest``): total, counts by key, the newest changes."""
        ...

    def count_events(
        self, params: Mapping[str, Any], *, by: str = "verb", top: int = 3
    ) -> tuple[int, dict[str, int]] | None:
        """How many events ``GET /api/v1/events`` with these filters matches in all, and
        the ``top`` most frequent values of ``by`` among them; ``None`` when the source
        cannot count (an events-only API: counting would mean fetching every event)."""
        ...

    def health(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


def tool_check_params(name: str, args: Mapping[str, Any]) -> CheckParams:
    """The :class:`CheckParams` of a tool call (:func:`kubetrail.diagnostics.check_params`),
    with the messages a model can act on: the accepted forms of a time, and what
    ``investigate_pod_startup`` needs."""
    limit = args.get("limit")
    try:
        params = check_params(
            name,
            namespace=args.get("namespace"),
            start_time=args.get("start_time"),
            end_time=args.get("end_time"),
            time_window=args.get("time_window"),
            limit=None if limit is None else int(limit),
            pod_name=args.get("pod_name"),
        )
    except UnknownCheck as exc:
        raise InvalidArguments(str(exc)) from None
    except InvalidParams as exc:
        raise InvalidArguments(accepted_forms(str(exc))) from None
    if CHECKS[name].needs_pod:
        missing = [p for p in ("pod_name", "namespace") if not args.get(p)]
        if missing:
            raise InvalidArguments(
                f"{name} needs {' and '.join(missing)}: the pod's name and its namespace, "
                "e.g. pod_name='checkout-7d9f8b6c4-x2k8q', namespace='shop'"
            )
    return params


def accepted_forms(message: str) -> str:
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


def not_stored(namespace: str, resource_type: str, name: str) -> str:
    """The message of :class:`NotFound` for an object's history."""
    where = f"{namespace}/{name}" if namespace not in ("", "_") else name
    return (
        f"nothing stored about {resource_type} {where}; cluster-scoped objects (nodes, "
        "persistentvolumes, storageclasses...) use namespace '_', resource types are plural "
        "(pods, deployments, persistentvolumeclaims)"
    )
