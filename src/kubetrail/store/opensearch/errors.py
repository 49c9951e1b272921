"""What went wrong talking to OpenSearch, in one line a user can act on.

Every message about a failed OpenSearch request is worded here: the store's
(:class:`~kubetrail.store.base.StoreError` texts), ``kubetrail setup``'s and the
command line's. opensearch-py raises two kinds of error:

- a connection failure (:class:`opensearchpy.ConnectionError`, also a
  ``TransportError`` with the status ``"N/A"``): the reason is the innermost
  readable cause of the chain (``Connection refused``, ``TLS error: …``), never
  the urllib3 wrapper around it;
- an error answer (a ``TransportError`` with an HTTP status): the reason is
  ``<status> <type>: <reason>`` of the error body's first root cause, which
  names what actually failed where the top-level error of a search only says
  ``all shards failed``.

Messages never carry a request body, a traceback or a password (callers pass a
redacted URL).
"""

from __future__ import annotations

import ssl

from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import TransportError

from kubetrail.store.url import StoreURL

#: The longest reason kept from a free-text error (a body that is not JSON, say).
REASON_CHARS = 300


def root_reason(exc: BaseException) -> str:
    """The innermost readable cause of a connection failure (``Connection refused``).

    Works for any exception chain (opensearch-py's, httpx's): it follows
    ``reason``, ``info`` and then ``__cause__``/``__context__``.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    best = ""
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLError):
            return f"TLS error: {current.reason or current}"
        if isinstance(current, OSError) and current.strerror:
            best = current.strerror
        nxt = getattr(current, "reason", None)
        if not isinstance(nxt, BaseException):
            nxt = getattr(current, "info", None)
        if not isinstance(nxt, BaseException):
            nxt = current.__cause__ or current.__context__
        current = nxt
    if best:
        return best
    text = str(exc.info if isinstance(exc, OSConnectionError) else exc)
    return _first_line(text) if text else type(exc).__name__


def answer_reason(exc: TransportError) -> str:
    """``<type>: <reason>`` of an error answer's body (its first root cause), or its text."""
    info = exc.info
    if isinstance(info, dict):
        err = info.get("error")
        if isinstance(err, dict):
            causes = err.get("root_cause")
            root = causes[0] if isinstance(causes, list) and causes else err
            root = root if isinstance(root, dict) else err
            kind, why = root.get("type"), root.get("reason")
            if kind and why:
                return f"{kind}: {why}"
            return _first_line(str(why or kind or err))
        if err:
            return _first_line(str(err))
    if not exc.error and not info and isinstance(exc.status_code, int):
        # an answer without a body (every answer to HEAD): say what the status means
        return _NO_BODY.get(exc.status_code, "the answer has no body")
    return _first_line(str(exc.error or info or exc))


#: What an error status means when the answer carries no body to say it.
_NO_BODY = {
    401: "unauthorized (no details: the answer has no body)",
    403: "forbidden: the user lacks a permission (no details: the answer has no body)",
    404: "not found",
}


def reason(exc: BaseException) -> str:
    """Why a request failed, in one line: the root cause of a connection failure,
    ``<status> <type>: <reason>`` of an error answer, else the exception's first line."""
    if isinstance(exc, OSConnectionError):  # before TransportError: it is one
        return root_reason(exc)
    if isinstance(exc, TransportError):
        status = exc.status_code
        text = answer_reason(exc)
        return f"{status} {text}" if isinstance(status, int) else text
    text = str(exc)
    return _first_line(text) if text else type(exc).__name__


def describe_error(exc: BaseException, where: StoreURL | str) -> str:
    """One line for a failed request to the cluster at ``where`` (a store URL, shown
    without its password, or a name already redacted)."""
    shown = where.redacted() if isinstance(where, StoreURL) else where
    if isinstance(exc, OSConnectionError):
        return f"cannot reach OpenSearch at {shown}: {reason(exc)}"
    if isinstance(exc, TransportError):
        status = exc.status_code
        if status == 401:
            return f"OpenSearch at {shown} refused the credentials (401): {answer_reason(exc)}"
        if status == 403:  # authenticated, but not allowed this request
            return f"OpenSearch at {shown} denied the request (403): {answer_reason(exc)}"
        return f"OpenSearch at {shown} answered {reason(exc)}"
    return f"OpenSearch at {shown}: {reason(exc)}"


def request_failed(method: str, path: str, exc: TransportError) -> str:
    """``<METHOD> <path> failed: <status> <type>: <reason>`` (``kubetrail setup``)."""
    return f"{method} {path} failed: {reason(exc)}"


def _first_line(text: str) -> str:
    return text.splitlines()[0][:REASON_CHARS] if text else ""
