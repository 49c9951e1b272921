"""Wrong arguments, said in one line a model (or a person) can act on.

The SDK checks a tool's arguments against its input schema and, when they do not
fit, answers with pydantic's multi-line report (``1 validation error for
investigate_pod_startupArguments … https://errors.pydantic.dev/…``); a prompt
called without a required argument ends in an internal error and a traceback on
the server's standard error. These functions turn both into one line that names
each argument, what was wrong with it and what it should be (its description from
the schema the client listed), e.g. ``missing required argument pod_name (The
pod's name, e.g. checkout-7d9f8b6c4-x2k8q.)``. Pure: no SDK, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: how much of a rejected value is echoed back
MAX_VALUE_CHARS = 40


@dataclass(frozen=True, slots=True)
class Problem:
    """One argument that does not fit: ``kind`` is pydantic's error type (``missing``,
    ``int_parsing``, …), ``message`` its text, ``value`` what the caller sent."""

    argument: str
    kind: str
    message: str
    value: Any = None


def problems_from_errors(errors: Iterable[Mapping[str, Any]]) -> list[Problem]:
    """pydantic's ``ValidationError.errors()``, one problem per argument (the first)."""
    seen: dict[str, Problem] = {}
    for error in errors:
        loc = error.get("loc") or ("?",)
        name = str(loc[0])
        if name not in seen:
            seen[name] = Problem(
                argument=name,
                kind=str(error.get("type", "")),
                message=_one_line(str(error.get("msg", "invalid"))),
                value=error.get("input"),
            )
    return list(seen.values())


def describe_problems(problems: Sequence[Problem], descriptions: Mapping[str, str]) -> str:
    """One line for the caller: the missing arguments first, then the invalid ones,
    each with its description from the listed schema."""
    missing = [p.argument for p in problems if p.kind == "missing"]
    parts = []
    if missing:
        parts.append(missing_arguments(missing, descriptions))
    for p in problems:
        if p.kind != "missing":
            about = _about(p.argument, descriptions)
            message = p.message[:1].lower() + p.message[1:]
            parts.append(f"invalid {p.argument} {_shown(p.value)}: {message}{about}")
    return "; ".join(parts) or "invalid arguments"


def missing_arguments(names: Sequence[str], descriptions: Mapping[str, str]) -> str:
    """``missing required argument(s) a (what a is) and b (what b is)``."""
    listed = [f"{n}{_about(n, descriptions)}" for n in names]
    joined = listed[0] if len(listed) == 1 else ", ".join(listed[:-1]) + " and " + listed[-1]
    return f"missing required argument{'s' if len(names) > 1 else ''} {joined}"


def prompt_problem(
    prompt: str,
    given: Mapping[str, Any] | None,
    arguments: Sequence[tuple[str, str, bool]],
) -> str | None:
    """What is wrong with the arguments of a prompt call, or None when nothing is.

    ``arguments``: the prompt's listed ``(name, description, required)``."""
    given = given or {}
    known = [name for name, _, _ in arguments]
    unknown = sorted(set(given) - set(known))
    if unknown:
        accepted = ", ".join(known) if known else "none"
        return f"prompt {prompt} has no argument {', '.join(unknown)} (its arguments: {accepted})"
    descriptions = {name: description for name, description, _ in arguments}
    missing = [
        name
        for name, _, required in arguments
        if required and not str(given.get(name) or "").strip()
    ]
    if missing:
        return f"prompt {prompt}: {missing_arguments(missing, descriptions)}"
    return None


def _about(name: str, descriptions: Mapping[str, str]) -> str:
    description = _one_line(descriptions.get(name) or "")
    return f" ({description})" if description else ""


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def _one_line(text: str) -> str:
    return " ".join(text.split())
