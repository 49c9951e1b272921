"""A JSON response rendered with orjson (event pages are large; orjson is fast)."""

from __future__ import annotations

import json
from typing import Any

import orjson
from starlette.responses import Response


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content)
        except TypeError:
            # orjson refuses integers beyond 64 bits, which an error message may echo
            # back from a query (limit=-9223372036854775809); the stdlib does not.
            return json.dumps(content, default=str, separators=(",", ":")).encode()
