"""The error of a malformed parameter, shared by the modules that parse parameters."""

from __future__ import annotations

from typing import Any


class InvalidParameter(ValueError):
    """A parameter is malformed; the message names it, ``detail`` echoes the values."""

    def __init__(self, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.detail = detail
