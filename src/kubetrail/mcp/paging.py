"""How many there are, how many are shown, and the exact call that shows the others.

Every tool result and resource ends with the same kind of statement, so a model
never has to guess whether it saw everything or how to ask for the rest::

    638 total, showing 50.
    Next page: search_events(namespace="shop", time_window="24h", limit=50, cursor="WzE3…")
    Narrow: search_events(namespace="shop", time_window="24h", kind="Pod")

Calls are written with the tool's own argument names and JSON values, exactly as
they are to be passed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson


def call(tool: str, args: Mapping[str, Any]) -> str:
    """``tool(name="value", limit=50)``: the arguments that are set, in order."""
    parts = [f"{k}={_literal(v)}" for k, v in args.items() if v is not None and v != ""]
    return f"{tool}({', '.join(parts)})"


def _literal(value: Any) -> str:
    return orjson.dumps(value).decode()


def shown(total: int | str, showing: int) -> str:
    """``638 total, showing 50``."""
    return f"{total} total, showing {showing}"


def paging(
    total: int | str,
    showing: int,
    *,
    more: str | None = None,
    narrow: str | None = None,
) -> dict[str, Any]:
    """The structured form of the statement: ``total``, ``showing``, and the calls."""
    out: dict[str, Any] = {"total": total, "showing": showing}
    if more:
        out["more"] = more
    if narrow:
        out["narrow"] = narrow
    return out


def paging_text(page: Mapping[str, Any]) -> str:
    """The statement's lines, from :func:`paging`'s dict."""
    lines = [shown(page["total"], page["showing"]) + "."]
    if page.get("more"):
        lines.append(f"More: {page['more']}")
    if page.get("narrow"):
        lines.append(f"Narrow: {page['narrow']}")
    return "\n".join(lines)
