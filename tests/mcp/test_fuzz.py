"""Every tool with arbitrary arguments, through the real stdio server: an answer or a
tool error that names what to fix, never a traceback, and the server stays up.

The arguments are drawn from each tool's own input schema: the right types with odd
values (empty, huge, unicode, query syntax, far dates), the wrong types, missing
required ones and unknown extra ones. ``KUBETRAIL_MCP_FUZZ_EXAMPLES`` sets how many
calls per tool (default 40; a few hundred for a longer hunt).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp.shared.exceptions import MCPError

from tests.support.mcp_processes import TOOLS, McpSession
from tests.support.strategies import ODD_TEXT, json_values

EXAMPLES = int(os.environ.get("KUBETRAIL_MCP_FUZZ_EXAMPLES", "40"))
#: Each call is a round trip to a server process: slow by hypothesis' standards.
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

_ODD_TEXT = ODD_TEXT | st.sampled_from(
    [
        "shop",
        "checkout-7d9f8b6c4-x2k8q",
        "kube-system",
        "pods",
        "Deployment",
        "0m",
        "9999d",
        "2h30m",
        "1970-01-01T00:00:00Z",
    ]
)
_ANY_JSON = json_values(max_leaves=6, text=30)


def _value(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Mostly values of the parameter's own type, sometimes anything at all."""
    types = {s.get("type") for s in schema.get("anyOf", [schema])}
    own: list[st.SearchStrategy[Any]] = []
    if "string" in types:
        own += [_ODD_TEXT, st.text(max_size=40)]
        if "enum" in schema:
            own.append(st.sampled_from(schema["enum"]))
    if "integer" in types or "number" in types:
        own.append(st.integers(-(10**9), 10**9) | st.sampled_from([0, 1, 50, 500, 501]))
    if "boolean" in types:
        own.append(st.booleans())
    if "null" in types:
        own.append(st.none())
    if not own:
        own.append(_ANY_JSON)
    return st.one_of(*own) if len(own) > 1 else own[0]


def _arguments(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    props: dict[str, Any] = schema.get("properties", {})
    chosen = st.fixed_dictionaries(
        {},
        optional={
            name: st.one_of(_value(spec), spec_or_anything(spec)) for name, spec in props.items()
        },
    )
    extra = st.dictionaries(
        st.sampled_from(["bogus", "namespaces", "since"]), _ANY_JSON, max_size=1
    )
    return st.builds(lambda a, b: {**b, **a}, chosen, extra)


def spec_or_anything(spec: dict[str, Any]) -> st.SearchStrategy[Any]:
    """The wrong type, now and then."""
    return st.one_of(_value(spec), _ANY_JSON) if spec else _ANY_JSON


_FIELD_WORDS = re.compile(r"[a-z_]+")


def _check_answer(session: McpSession, tool: Any, arguments: dict[str, Any]) -> None:
    result = session.tool(tool.name, **arguments)  # also asserts no Secret value in it
    text = result.content[0].text if result.content else ""
    assert "Traceback" not in text, text
    if not result.is_error:
        assert result.structured_content is not None, text[:300]
        return
    assert text.strip(), f"{tool.name}{arguments}: an empty error"
    # an error says what to fix: it names a parameter, the data it found missing, or
    # the forms it accepts
    names = set(tool.input_schema.get("properties", {})) | set(arguments)
    hints = ("no audit events", "nothing stored", "expected", "must", "e.g.", "should", "valid")
    assert any(n in text for n in names) or any(h in text.lower() for h in hints), (
        f"{tool.name}{arguments}: {text[:300]}"
    )


@pytest.fixture(scope="module", params=["rest", "embedded"])
def session(request: pytest.FixtureRequest, work: Path, incident_db: Path) -> Iterator[McpSession]:
    """The server over the REST API (the session's), or reading the store itself."""
    if request.param == "rest":
        yield request.getfixturevalue("mcp_api")
        return
    with McpSession("--store", f"sqlite:///{incident_db}", cwd=work) as embedded:
        yield embedded
    assert "Traceback" not in embedded.stderr


@pytest.mark.e2e
@pytest.mark.parametrize("name", sorted(TOOLS))
@FUZZ
@given(data=st.data())
def test_every_tool_answers_arbitrary_arguments_without_a_traceback(
    session: McpSession, name: str, data: st.DataObject
) -> None:
    tool = _tools(session)[name]
    arguments = data.draw(_arguments(tool.input_schema), label="arguments")
    _check_answer(session, tool, arguments)
    assert "Traceback" not in session.stderr


_listed: dict[int, dict[str, Any]] = {}


def _tools(session: McpSession) -> dict[str, Any]:
    if id(session) not in _listed:
        _listed[id(session)] = {t.name: t for t in session.list_tools()}
    return _listed[id(session)]


_TEMPLATES = [
    "audit://events/{}",
    "audit://events/{}/{}",
    "audit://changes/{}",
    "audit://node-events/{}",
]


@pytest.mark.e2e
@FUZZ
@given(
    template=st.sampled_from(_TEMPLATES),
    parts=st.lists(_ODD_TEXT.map(lambda v: quote(v, safe="")), min_size=2, max_size=2),
)
def test_every_resource_template_answers_odd_uris_without_a_traceback(
    session: McpSession, template: str, parts: list[str]
) -> None:
    uri = template.format(*parts)
    try:
        session.read(uri)
    except MCPError as exc:  # a resource error: it must say what is wrong
        assert str(exc).strip() and "Traceback" not in str(exc), uri
    assert "Traceback" not in session.stderr


@pytest.mark.e2e
@FUZZ
@given(data=st.data())
def test_every_prompt_renders_or_says_what_to_fix(session: McpSession, data: st.DataObject) -> None:
    prompts = {p.name: p for p in session.list_prompts()}
    name = data.draw(st.sampled_from(sorted(prompts)), label="prompt")
    arguments = {
        a.name: data.draw(_ODD_TEXT, label=a.name)
        for a in prompts[name].arguments or []
        if a.required or data.draw(st.booleans(), label=f"give {a.name}")
    }
    try:
        text = session.prompt(name, **arguments)
    except MCPError as exc:
        assert str(exc).strip() and "Traceback" not in str(exc), (name, arguments)
    else:
        assert text.strip()
        assert "Traceback" not in text
    assert "Traceback" not in session.stderr
