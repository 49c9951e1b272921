"""Sending a :class:`~kubetrail.demo.play.Plan`'s writes to an API server, in order.

The player is the only part that knows the server's answers: it learns the uid the server
gave each object it creates and writes it wherever the recording had its own (owner
references, involved objects, labels), and it keeps the newest resourceVersion written
per resource, so a caller can wait until a shipper has seen everything
(:attr:`Played.last_versions`). How requests travel is the caller's (:class:`Transport`):
the command line sends them with the ``kubernetes`` client.

Expected answers are not errors: ``409`` on a write marked ``may_exist`` (a namespace
that is there already: adopted), ``404`` about an object already being deleted (a pod
that is not on a node, or finished, goes at once where a kubelet would have taken its
time). Anything else stops the play with :class:`PlayError`, one line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from kubetrail.demo.play import Write

_UID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class Transport(Protocol):
    """One request; returns the HTTP status and the parsed JSON answer (``None`` if empty).
    Raises :class:`PlayError` when the server cannot be reached."""

    def __call__(
        self,
        method: str,
        path: str,
        *,
        body: Any,
        content_type: str,
        query: Sequence[tuple[str, str]],
    ) -> tuple[int, Any]: ...


class PlayError(Exception):
    """A write the server refused, or a server that cannot be reached; one line."""


@dataclass
class Played:
    writes: int = 0
    created: int = 0
    adopted: int = 0
    deleted: int = 0
    already_gone: int = 0
    #: resource key → the newest resourceVersion a write of it returned
    last_versions: dict[str, str] = field(default_factory=dict)


class Player:
    """Plays writes into one server; call :meth:`play` once per phase."""

    def __init__(self, send: Transport) -> None:
        self.send = send
        self.uids: dict[str, str] = {}  # recorded uid → this server's
        self.played = Played()
        self._deleting: set[str] = set()

    def play(self, writes: Iterable[Write]) -> Played:
        for write in writes:
            self._one(write)
        return self.played

    def _one(self, write: Write) -> None:
        body = self._mapped(write.body) if write.body is not None else None
        status, answer = self.send(
            write.method,
            write.path,
            body=body,
            content_type=write.content_type,
            query=write.query,
        )
        self.played.writes += 1
        if status == 404 and write.demo_uid in self._deleting:
            self.played.already_gone += 1
            self.played.deleted += write.deletes
            return
        if write.terminates or write.deletes:
            self._deleting.add(write.demo_uid)
        if status == 409 and write.may_exist:
            name = write.body["metadata"]["name"] if write.body else ""
            status, answer = self.send(
                "GET", f"{write.path}/{name}", body=None, content_type="", query=()
            )
            self.played.adopted += 1
        elif status < 300:
            self.played.created += write.creates
            self.played.deleted += write.deletes
        if status >= 300:
            raise PlayError(_refusal(write, status, answer))
        meta = answer.get("metadata") if isinstance(answer, dict) else None
        if not isinstance(meta, dict) or answer.get("kind") == "Status":
            return
        if write.creates and write.demo_uid and meta.get("uid"):
            self.uids[write.demo_uid] = str(meta["uid"])
        rv = meta.get("resourceVersion")
        if isinstance(rv, str) and rv:
            known = self.played.last_versions.get(write.resource)
            if known is None or _newer(rv, known):
                self.played.last_versions[write.resource] = rv

    def _mapped(self, body: Any) -> Any:
        if not self.uids:
            return body
        raw = orjson.dumps(body)
        swapped = _UID.sub(lambda m: self.uids.get(m[0].decode(), m[0].decode()).encode(), raw)
        return orjson.loads(swapped)


def _newer(rv: str, than: str) -> bool:
    # resourceVersions are opaque; etcd's are revisions, and only a server that is not
    # etcd-backed would answer something else (then the newest answer wins)
    if rv.isdigit() and than.isdigit():
        return int(rv) > int(than)
    return True


def _refusal(write: Write, status: int, answer: Any) -> str:
    reason = message = ""
    if isinstance(answer, dict):
        reason = str(answer.get("reason") or "")
        # a refusal may quote what was sent: never a Secret's
        if "/secrets" not in write.path:
            message = " ".join(str(answer.get("message") or "").split())[:300]
    text = f"{write.method} {write.path}: {status} {reason}".rstrip()
    if message:
        text += f": {message}"
    if status == 409 and reason == "AlreadyExists":
        text += (
            " (was the demo played into this server before? a new --prefix plays it again "
            "beside it)"
        )
    return text
