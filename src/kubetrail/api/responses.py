"""A JSON response rendered with orjson (event pages are large; orjson is fast)."""

from __future__ import annotations

import json
from typing import Any

import orjson
from pydantic import BaseModel
from starlette.responses import Response

#: How a time parameter is described in the OpenAPI document (it is parsed as RFC3339).
TIME_PARAMETER: dict[str, Any] = {"format": "date-time"}

_MEANINGS = {
    400: "Bad input: the message names the parameter and what it accepts.",
    401: "Missing or wrong bearer token (only when the API has one).",
    403: "This API does not take it (the audit webhook needs --accept-audit).",
    404: "Nothing of that name is stored.",
    413: "The request body is larger than the API takes.",
    503: "The store cannot answer.",
}


class ErrorBody(BaseModel):
    """Every error the API answers: one line, and the values it is about."""

    error: str
    detail: Any = None


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` entries of these error statuses."""
    return {code: {"model": ErrorBody, "description": _MEANINGS[code]} for code in codes}


def render_json(content: Any) -> bytes:
    """``content`` as compact JSON."""
    try:
        return orjson.dumps(content)
    except TypeError:
        # orjson refuses integers beyond 64 bits, which an error message may echo
        # back from a query (limit=-9223372036854775809); the stdlib does not.
        return json.dumps(content, default=str, separators=(",", ":")).encode()


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return render_json(content)
