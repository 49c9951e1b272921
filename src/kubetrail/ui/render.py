"""Pages as HTML: the jinja2 templates shipped in the package, autoescaped.

Every value a page shows comes from the store (object names, messages, changed values)
and is escaped by jinja2's autoescape; nothing is marked safe. Templates hold no inline
script and no ``style=`` attribute: the Content-Security-Policy
(:mod:`kubetrail.ui.security`) allows only the package's own files.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson
from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.responses import HTMLResponse

from kubetrail import __version__
from kubetrail.ui.links import UI_PATH
from kubetrail.ui.params import QUICK_RANGES, link


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("kubetrail.ui", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    # tojson: compact (a data block of thousands of marks), still escaped for HTML
    env.policies["json.dumps_function"] = _compact_json
    env.policies["json.dumps_kwargs"] = {}
    env.globals.update(ui=UI_PATH, link=link, quick_ranges=QUICK_RANGES, version=__version__)
    return env


def _compact_json(value: Any, **_: Any) -> str:
    return orjson.dumps(value).decode()


def when(rfc3339: str) -> str:
    """``2026-11-25T09:10:01Z`` → ``2026-11-25 09:10:01Z``: easier to read, still UTC."""
    return rfc3339.replace("T", " ", 1) if rfc3339 else ""


def page(template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    html = environment().get_template(template).render({"nav": "", **context})
    return HTMLResponse(html, status_code=status)


def error_page(status: int, message: str, **context: Any) -> HTMLResponse:
    """A page saying what went wrong in one line (bad input, nothing stored, no store)."""
    return page("error.html.j2", status=status, message=message, title=f"{status}", **context)
