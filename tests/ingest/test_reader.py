"""The reader: JSON lines, pretty-printed and array input, and every way it can go wrong."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubetrail.ingest import reader
from kubetrail.ingest.reader import Record, Rejected, read_records


def event(i: int, kind: str = "Pod") -> dict[str, Any]:
    return {
        "type": "MODIFIED",
        "object": {
            "apiVersion": "v1",
            "kind": kind,
            "metadata": {"name": f"web-{i}", "namespace": "default", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]},
        },
    }


def jsonl(*values: Any) -> bytes:
    return b"".join(json.dumps(v).encode() + b"\n" for v in values)


def pretty(*values: Any) -> bytes:
    """As kubectl prints watch events: indented objects, one after another."""
    return b"".join(json.dumps(v, indent=4).encode() + b"\n" for v in values)


def read(data: bytes, source: str = "f") -> list[Record | Rejected]:
    return list(read_records(io.BytesIO(data), source=source))


def values(out: list[Record | Rejected]) -> list[Any]:
    return [r.value for r in out if isinstance(r, Record)]


def rejected(out: list[Record | Rejected]) -> list[Rejected]:
    return [r for r in out if isinstance(r, Rejected)]


def spans(out: list[Record | Rejected]) -> list[tuple[str, int, int, int | None]]:
    return [(type(r).__name__, r.line, r.end_line, r.index) for r in out]


# -- accepted formats ------------------------------------------------------------


def test_json_lines() -> None:
    out = read(jsonl(event(1), event(2), event(3)))
    assert values(out) == [event(1), event(2), event(3)]
    assert spans(out) == [("Record", n, n, None) for n in (1, 2, 3)]
    assert all(r.source == "f" for r in out)


def test_pretty_printed_objects_as_kubectl_prints_them() -> None:
    data = pretty(event(1), event(2))
    out = read(data)
    first_len = json.dumps(event(1), indent=4).count("\n") + 1
    assert values(out) == [event(1), event(2)]
    assert spans(out) == [
        ("Record", 1, first_len, None),
        ("Record", first_len + 1, 2 * first_len, None),
    ]
    assert data.count(b"\n") == 2 * first_len


def test_pretty_printed_object_without_final_newline() -> None:
    data = json.dumps(event(1), indent=2).encode()
    out = read(data)
    assert values(out) == [event(1)]
    assert out[0].end_line == data.count(b"\n") + 1


def test_mixture_of_lines_and_pretty_objects() -> None:
    data = jsonl(event(1)) + pretty(event(2)) + jsonl(event(3), event(4)) + pretty(event(5))
    out = read(data)
    assert values(out) == [event(i) for i in range(1, 6)]
    assert rejected(out) == []
    pretty_len = json.dumps(event(2), indent=4).count("\n") + 1
    assert out[1].line == 2 and out[1].end_line == 1 + pretty_len
    assert out[2].line == out[2].end_line == 2 + pretty_len


def test_several_objects_on_one_line() -> None:
    out = read(b'{"a": 1}{"b": 2} {"c": 3}\n{"d": 4}\n')
    assert values(out) == [{"a": 1}, {"b": 2}, {"c": 3}, {"d": 4}]
    assert [r.line for r in out] == [1, 1, 1, 2]


def test_object_followed_by_garbage_on_the_same_line() -> None:
    out = read(b'{"a": 1} xyz\n{"b": 2}\n')
    assert values(out) == [{"a": 1}, {"b": 2}]
    [bad] = rejected(out)
    assert bad.line == 1
    assert bad.reason == "invalid JSON: unexpected character, expected a JSON value at column 10"


def test_compact_array_one_record_per_item() -> None:
    out = read(b'[{"a": 1}, {"b": 2}, {"c": 3}]\n')
    assert values(out) == [{"a": 1}, {"b": 2}, {"c": 3}]
    assert spans(out) == [("Record", 1, 1, 1), ("Record", 1, 1, 2), ("Record", 1, 1, 3)]
    assert out[1].location == "f:1[item 2]"


def test_pretty_array_spanning_the_file() -> None:
    data = json.dumps([event(1), event(2)], indent=4).encode() + b"\n"
    out = read(data)
    last = data.count(b"\n")
    assert values(out) == [event(1), event(2)]
    assert spans(out) == [("Record", 1, last, 1), ("Record", 1, last, 2)]
    assert out[1].location == f"f:1-{last}[item 2]"


def test_array_elements_at_column_0() -> None:
    data = b"[\n" + b",\n".join(json.dumps(event(i)).encode() for i in range(3)) + b"\n]\n"
    out = read(data)
    assert values(out) == [event(0), event(1), event(2)]
    assert [r.index for r in out] == [1, 2, 3]


def test_non_object_array_items_rejected_individually() -> None:
    out = read(b'[{"a": 1}, 2, "x", null, [1], {"b": 2}]\n')
    assert values(out) == [{"a": 1}, {"b": 2}]
    assert [(r.index, r.reason) for r in rejected(out)] == [
        (2, "expected a JSON object, got a number"),
        (3, "expected a JSON object, got a string"),
        (4, "expected a JSON object, got null"),
        (5, "expected a JSON object, got an array"),
    ]
    assert [r.index for r in out] == [1, 2, 3, 4, 5, 6]


def test_empty_array_yields_nothing() -> None:
    assert read(b"[]\n" + jsonl({"a": 1})) == [Record({"a": 1}, "f", 2, 2)]


def test_utf8_bom_at_start() -> None:
    out = read(b"\xef\xbb\xbf" + jsonl(event(1), event(2)))
    assert values(out) == [event(1), event(2)]
    assert rejected(out) == []


def test_utf8_bom_before_pretty_object() -> None:
    out = read(b"\xef\xbb\xbf" + pretty(event(1)))
    assert values(out) == [event(1)]


def test_crlf_line_endings() -> None:
    data = jsonl(event(1)) + pretty(event(2)) + jsonl(event(3))
    out = read(data.replace(b"\n", b"\r\n"))
    assert values(out) == [event(1), event(2), event(3)]
    assert spans(out) == spans(read(data))


def test_blank_lines_and_trailing_whitespace_skipped_silently() -> None:
    data = b'\n   \n{"a": 1}   \n\t\n\n{"b": 2}\t \r\n\n' + pretty({"c": 3}).replace(b"}", b"}  ")
    out = read(data)
    assert values(out) == [{"a": 1}, {"b": 2}, {"c": 3}]
    assert [r.line for r in out] == [3, 6, 8]


def test_empty_input() -> None:
    assert read(b"") == []
    assert read(b"\n\n  \n") == []


# -- rejections and resynchronisation -------------------------------------------


def test_bad_line_in_the_middle_others_still_read() -> None:
    data = jsonl(event(1)) + b'{"type": "ADDED", "object": {"kind": ]\n' + jsonl(event(2), event(3))
    out = read(data)
    assert values(out) == [event(1), event(2), event(3)]
    [bad] = rejected(out)
    assert bad.location == "f:2"
    assert bad.reason.startswith("invalid JSON: ")
    assert bad.reason.endswith("at column 38")
    assert [r.line for r in out] == [1, 2, 3, 4]


def test_garbage_text_line() -> None:
    out = read(b"hello world\n" + jsonl({"a": 1}))
    assert values(out) == [{"a": 1}]
    [bad] = rejected(out)
    assert (bad.line, bad.reason) == (
        1,
        "invalid JSON: unexpected character, expected a JSON value at column 1",
    )


def test_truncated_object_at_end_of_file() -> None:
    whole = pretty(event(2))
    cut = whole[: len(whole) // 2]
    out = read(jsonl(event(1)) + cut)
    assert values(out) == [event(1)]
    [bad] = rejected(out)
    assert bad.reason == "truncated JSON object (starts at line 2, file ended)"
    assert bad.line == 2
    assert bad.end_line == 1 + cut.count(b"\n") + (0 if cut.endswith(b"\n") else 1)


def test_truncated_json_line_at_end_of_file() -> None:
    out = read(jsonl(event(1)) + b'{"type": "ADDED", "obj')
    assert values(out) == [event(1)]
    [bad] = rejected(out)
    assert (bad.location, bad.reason) == (
        "f:2",
        "truncated JSON object (starts at line 2, file ended)",
    )


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_truncated_pretty_object_followed_by_a_valid_one(fraction: float) -> None:
    whole = pretty(event(1))
    cut = whole[: int(len(whole) * fraction)]
    if not cut.endswith(b"\n"):
        cut += b"\n"  # kubectl restarted: the next object starts on a new line
    out = read(cut + pretty(event(2), event(3)))
    assert values(out) == [event(2), event(3)]
    [bad] = rejected(out)
    next_line = cut.count(b"\n") + 1
    last_text_line = max(n for n, x in enumerate(cut.split(b"\n"), 1) if x.strip())
    assert bad.line == 1
    assert bad.end_line == last_text_line
    assert bad.reason == f"truncated JSON object (starts at line 1, next value at line {next_line})"
    assert out[1].line == next_line


def test_truncated_json_line_followed_by_valid_lines() -> None:
    out = read(b'{"a": 1, "b": \n' + jsonl({"c": 3}, {"d": 4}))
    assert values(out) == [{"c": 3}, {"d": 4}]
    [bad] = rejected(out)
    assert (bad.location, bad.reason) == (
        "f:1",
        "truncated JSON object (starts at line 1, next value at line 2)",
    )


def test_broken_pretty_object_rejected_as_a_whole() -> None:
    broken = pretty(event(1)).replace(b'"nginx:1.25"', b"nginx:1.25", 1)
    bad_line = broken.split(b"\n").index(next(x for x in broken.split(b"\n") if b"nginx" in x)) + 1
    out = read(broken + pretty(event(2)))
    assert values(out) == [event(2)]
    [bad] = rejected(out)
    n = broken.count(b"\n")
    assert (bad.line, bad.end_line) == (1, n)
    assert bad.reason.startswith("invalid JSON: ")
    assert f"at line {bad_line}, column " in bad.reason
    assert out[1].line == n + 1


def test_broken_pretty_object_at_end_of_file() -> None:
    broken = pretty(event(1)).replace(b'"kind": "Pod"', b'"kind": Pod', 1)
    out = read(jsonl({"a": 1}) + broken[:-30])
    assert values(out) == [{"a": 1}]
    [bad] = rejected(out)
    assert bad.line == 2
    assert bad.reason.startswith("invalid JSON: ")


def test_truncated_array_at_end_of_file() -> None:
    data = json.dumps([event(1), event(2)], indent=4).encode()
    out = read(data[: len(data) - 40])
    assert values(out) == []
    [bad] = rejected(out)
    assert bad.reason == "truncated JSON array (starts at line 1, file ended)"
    assert bad.index is None


@pytest.mark.parametrize(
    ("line", "got"),
    [
        (b"42", "a number"),
        (b"-1.5e3", "a number"),
        (b'"hello"', "a string"),
        (b"null", "null"),
        (b"true", "a boolean"),
    ],
)
def test_non_object_values_rejected(line: bytes, got: str) -> None:
    out = read(jsonl({"a": 1}) + line + b"\n" + jsonl({"b": 2}))
    assert values(out) == [{"a": 1}, {"b": 2}]
    [bad] = rejected(out)
    assert (bad.location, bad.reason) == ("f:2", f"expected a JSON object, got {got}")


def test_invalid_utf8_rejected_and_reading_continues() -> None:
    data = jsonl({"a": 1}) + b'{"name": "caf\xe9"}\n' + jsonl({"b": 2})
    out = read(data)
    assert values(out) == [{"a": 1}, {"b": 2}]
    [bad] = rejected(out)
    assert (bad.location, bad.reason) == ("f:2", "invalid UTF-8 at column 14")


def test_invalid_utf8_inside_pretty_object() -> None:
    broken = pretty(event(1)).replace(b"nginx", b"ngi\xffnx", 1)
    out = read(broken + pretty(event(2)))
    assert values(out) == [event(2)]
    [bad] = rejected(out)
    assert bad.line == 1
    assert bad.reason.startswith("invalid UTF-8 at line ")


def test_reason_never_contains_the_content() -> None:
    secret = "s3cr3t-Pa55"
    bad_lines = [
        f'{{"password": "{secret}" oops}}',  # invalid character after the secret
        f'{{"password": "{secret}"',  # truncated
        f'"{secret}"',  # not an object
        f"{secret}",  # plain text
        f'{{"password": "{secret}"}} {secret}',  # garbage after a value
    ]
    data = b"".join(line.encode() + b"\n" + jsonl({"ok": i}) for i, line in enumerate(bad_lines))
    data += f'{{"password": "{secret}\xff"}}\n'.encode("latin-1")
    data += b'{\n    "password": "' + secret.encode() + b'",\n    oops\n}\n'
    out = read(data)
    bad = rejected(out)
    assert len(bad) == len(bad_lines) + 2
    for rej in bad:
        assert secret not in rej.reason
        assert "s3cr3t" not in rej.location
    assert [v for v in values(out) if "ok" in v] == [{"ok": i} for i in range(len(bad_lines))]


# -- limits ------------------------------------------------------------------------


def test_single_line_over_64_mib_rejected(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    with path.open("wb") as fh:
        fh.write(jsonl({"a": 1}))
        fh.write(b'{"blob": "' + b"x" * (64 * 1024 * 1024) + b'"}\n')
        fh.write(jsonl({"b": 2}))
    with path.open("rb") as fh:
        out = list(read_records(fh, source="big.jsonl"))
    assert values(out) == [{"a": 1}, {"b": 2}]
    [bad] = rejected(out)
    assert (bad.location, bad.reason) == ("big.jsonl:2", "value larger than 64 MiB")


def test_large_pretty_object_skipped_up_to_the_next_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(reader, "MAX_VALUE_BYTES", 300)
    big = {"items": [{"n": i} for i in range(50)]}
    data = pretty(big) + jsonl({"a": 1}) + pretty({"b": 2})
    out = read(data)
    assert values(out) == [{"a": 1}, {"b": 2}]
    [bad] = rejected(out)
    n = pretty(big).count(b"\n")
    assert (bad.line, bad.end_line, bad.reason) == (1, n, "value larger than 64 MiB")


def test_long_line_limit_at_chunk_boundaries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader, "MAX_VALUE_BYTES", 100)
    monkeypatch.setattr(reader, "_CHUNK", 16)
    data = jsonl({"a": 1}, {"x": "y" * 200}, {"b": 2}) + b'{"x": "' + b"z" * 200 + b'"}'
    out = read(data)
    assert values(out) == [{"a": 1}, {"b": 2}]
    assert [(r.line, r.reason) for r in rejected(out)] == [
        (2, "value larger than 64 MiB"),
        (4, "value larger than 64 MiB"),
    ]


def test_small_chunks_give_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    data = (
        b"\xef\xbb\xbf"
        + jsonl(event(1))
        + pretty(event(2))
        + b"bad\n"
        + json.dumps([event(3)], indent=2).encode()
        + b"\r\n"
        + jsonl(event(4))
    )
    expected = read(data)
    assert values(expected) == [event(1), event(2), event(3), event(4)]
    for size in (1, 2, 3, 7, 64):
        monkeypatch.setattr(reader, "_CHUNK", size)
        assert read(data) == expected


# -- progress and streams ---------------------------------------------------------


def test_on_bytes_adds_up_to_the_file_size(tmp_path: Path) -> None:
    path = tmp_path / "watch.json"
    data = b"\xef\xbb\xbf" + jsonl(*(event(i) for i in range(6000))) + pretty(event(1)) + b"x\n"
    path.write_bytes(data)
    calls: list[int] = []
    with path.open("rb") as fh:
        out = list(read_records(fh, source=str(path), on_bytes=calls.append))
    assert len(values(out)) == 6001
    assert sum(calls) == path.stat().st_size == len(data)
    assert len(data) > 1 << 20
    assert 2 <= len(calls) < 10  # batched, not per line


def test_on_bytes_small_input_reported_once() -> None:
    calls: list[int] = []
    data = jsonl({"a": 1}, {"b": 2})
    list(read_records(io.BytesIO(data), source="-", on_bytes=calls.append))
    assert calls == [len(data)]


def test_unbuffered_file_without_read1(tmp_path: Path) -> None:
    path = tmp_path / "w.json"
    path.write_bytes(pretty(event(1)) + jsonl(event(2)))
    with path.open("rb", buffering=0) as fh:
        out = list(read_records(fh, source="w.json"))
    assert values(out) == [event(1), event(2)]


# -- locations --------------------------------------------------------------------


def test_location_formatting() -> None:
    assert Record({}, "f", 3, 3).location == "f:3"
    assert Record({}, "f", 5, 9).location == "f:5-9"
    assert Record({}, "f", 1, 1, index=2).location == "f:1[item 2]"
    assert Record({}, "-", 1, 40, index=7).location == "-:1-40[item 7]"
    assert Rejected("events.json", 3, 3, "bad").location == "events.json:3"
    assert Rejected("f", 5, 9, "bad").location == "f:5-9"
    assert Rejected("f", 1, 1, "bad", 2).location == "f:1[item 2]"


def test_records_are_frozen() -> None:
    rec = Record({"a": 1}, "f", 1, 1)
    with pytest.raises(AttributeError):
        rec.line = 2  # type: ignore[misc]


_FRAGMENTS = [
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b'"',
    b"\\",
    b"\n",
    b"\r\n",
    b" ",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"null",
    b"1e999",
    b'{"type":"ADDED","object":{"kind":"Pod"}}',
    b'{"a": [1, {"b": "\\u0000"}]}',
    jsonl(event(1)),
]


@settings(max_examples=int(os.environ.get("KUBETRAIL_READER_EXAMPLES", "300")), deadline=None)
@given(data=st.lists(st.one_of(st.sampled_from(_FRAGMENTS), st.binary(max_size=40)), max_size=40))
def test_any_bytes_give_records_or_rejections_located_in_the_input(data: list[bytes]) -> None:
    raw = b"".join(data)
    lines = raw.count(b"\n") + 1
    got = list(read_records(io.BytesIO(raw), source="f"))
    for item in got:
        assert isinstance(item, Record | Rejected)
        assert 1 <= item.line <= item.end_line <= lines, (item, lines)
        if isinstance(item, Rejected):
            assert item.reason and "\n" not in item.reason
            assert item.location.startswith("f:")
        else:
            assert isinstance(item.value, dict)


# Lines of every length around the probe's threshold, blank lines, a missing or a
# doubled final newline: always what ``bytes.split`` gives.
_LINE = st.one_of(
    st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")),
    st.integers(min_value=200, max_value=600).map(lambda n: b"x" * n),
)


@given(lines=st.lists(_LINE, max_size=60), tail=st.sampled_from([b"", b"\n", b"\n\n", b"{"]))
def test_split_lines_is_bytes_split(lines: list[bytes], tail: bytes) -> None:
    chunk = b"\n".join(lines) + tail
    assert reader.split_lines(chunk) == chunk.split(b"\n")


@pytest.mark.parametrize("tail", [b"", b"\n", b"\n\n"])
@pytest.mark.parametrize(
    "lengths",
    [
        [300] * 40,  # JSON lines: past the probe, the find loop to the end
        [254] * 16 + [3000] * 5,  # just under the probe's threshold: split
        [255] * 16 + [10] * 30,  # just at it: the find loop, then short lines
        [256] * 16,
        [4000] * 20 + [0] * 50,  # long lines, then blank ones
    ],
)
def test_split_lines_past_the_probe(lengths: list[int], tail: bytes) -> None:
    chunk = b"\n".join(bytes([65 + i % 26]) * n for i, n in enumerate(lengths)) + tail
    assert reader.split_lines(chunk) == chunk.split(b"\n")
