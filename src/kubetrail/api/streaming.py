"""An events page sent in pieces, holding its budget reservation until it is sent.

A page from a store with raw pages exists only as its documents' JSON: the
array's brackets and commas are added piece by piece as the client reads
(``b"[" + b",".join(items) + b"]"``, the same bytes ``orjson.dumps`` makes of the
parsed page), so the page is never copied into one body. A parsed page is
rendered whole (its documents are then dropped) and sent in pieces too. Pieces
are about :data:`CHUNK_BYTES`, and the server writes the next one only when the
client has taken the last, so a slow client holds the page, not the page and a
copy of it in the socket's buffer. ``Content-Length`` is sent as for a whole body.

The :class:`~kubetrail.api.inflight.Reservation` is released when the answer has
been sent, or the client has gone, or the answer could not be sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from kubetrail.api.inflight import Reservation

CHUNK_BYTES = 256 * 1024
#: A bytes object's header and its slot in the list, beyond its content.
_ITEM_OVERHEAD = 48


@dataclass(frozen=True, slots=True)
class JSONArray:
    """A JSON array to send: the JSON of each of its items, or (``body``) the whole
    array already rendered."""

    items: Sequence[bytes] = ()
    body: bytes | None = None

    @property
    def length(self) -> int:
        """How many bytes the array is."""
        if self.body is not None:
            return len(self.body)
        return 2 + sum(map(len, self.items)) + max(len(self.items) - 1, 0)

    @property
    def held_bytes(self) -> int:
        """About how much memory the array holds until it is sent."""
        return self.length + _ITEM_OVERHEAD * len(self.items)

    async def chunks(self, chunk_bytes: int = CHUNK_BYTES) -> AsyncIterator[bytes]:
        """The array in pieces of about ``chunk_bytes`` (an item larger than that is a
        piece of its own)."""
        if self.body is not None:
            view = memoryview(self.body)
            for start in range(0, len(view), chunk_bytes):
                yield bytes(view[start : start + chunk_bytes])
            return
        piece: list[bytes] = [b"["]
        size = 1
        for i, item in enumerate(self.items):
            if i:
                piece.append(b",")
            piece.append(item)
            size += len(item) + 1
            if size >= chunk_bytes:
                yield b"".join(piece)
                piece, size = [], 0
        piece.append(b"]")
        yield b"".join(piece)


class ReservedJSONResponse(StreamingResponse):
    """``array`` sent in pieces, with its ``Content-Length``; ``reservation`` is
    released once it is sent (or cannot be)."""

    media_type = "application/json"

    def __init__(
        self,
        array: JSONArray,
        *,
        reservation: Reservation,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        # the headers in the order a whole-body Response gives them
        length = str(array.length)
        super().__init__(array.chunks(), headers={**(headers or {}), "content-length": length})
        self.reservation = reservation

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.reservation.release()
