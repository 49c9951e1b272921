"""Hypothesis strategies the fuzz and property tests share."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st


def json_values(
    *, max_leaves: int = 25, floats: bool = False, text: int = 20
) -> st.SearchStrategy[Any]:
    """Any JSON value: scalars, lists and maps nested up to ``max_leaves`` leaves.
    ``floats`` adds floats, NaN and infinities (which only some JSON readers take)."""
    scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=text)
    if floats:
        scalars = scalars | st.floats(allow_nan=True, allow_infinity=True)
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
        ),
        max_leaves=max_leaves,
    )


#: Strings that have broken parsers somewhere: empty, blank, numbers as text, times
#: right and wrong, query syntax, paths, escapes, controls, non-ASCII, very long.
ODD_TEXT = st.sampled_from(
    [
        "",
        " ",
        "0",
        "-1",
        "99999999999999999999",
        "nan",
        "_",
        "*",
        "24h",
        "-1h",
        "yesterday",
        "2026-11-25T04:00:00Z",
        "2026-02-30T00:00:00Z",
        "2026-13-45T99:99:99Z",
        "9999-12-31T23:59:59Z",
        '"quoted" AND NEAR(',
        "pod.waiting:*",
        "../../etc/passwd",
        "'; DROP TABLE events; --",
        "ünïcödé ✓ 名前",
        "\x00\x1b[31m",
        "x" * 5000,
    ]
)
