"""Reading input files: bytes → JSON values, each with the lines it came from.

The input is what ``kubectl get <kind> -A --watch --output-watch-events -o
json`` prints, or anything shaped like it. :func:`read_records` accepts, in one
file and mixed freely:

- **JSON lines**: one value per line. This is the fast path: each line is given
  to :func:`orjson.loads` as it is, and only a line that does not parse on its
  own goes any further.
- **Pretty-printed values**, concatenated, as kubectl prints them: a value that
  begins on a line of its own (``{`` or ``[``) and is not complete there is
  collected line by line. A line starting with ``}`` or ``]`` at column 0 is
  the cheap hint that the value may be complete, so only then is the collected
  text parsed; the end of the file is the last chance.
- **Several values on one line** (``{...}{...}``, ``{...} {...}``): each is
  read; whatever follows the last complete one is judged on its own.
- **A top-level array** (``[{...}, {...}]``, on one line or spanning the whole
  file): every element is a value of its own, with ``index`` set to its
  position counted from 1 (``file:1-40[item 2]`` is the second element) and
  the line span of the whole array.

A UTF-8 byte order mark at the start of the file, CRLF line endings, trailing
whitespace and blank lines are accepted silently. Every value that is read
must be a JSON object; anything else becomes a :class:`Rejected` with a
one-line reason, and reading goes on.

**Resynchronisation.** A bad line is never fatal. A line that is invalid on
its own is rejected by itself. A multi-line value that turns out to be broken,
or is cut short (``kubectl`` killed mid-write), ends at the next line starting
at column 0 with ``{`` or ``[`` (for an array started with ``[``: only with
``[``, since its elements may well start at column 0): the collected lines are
rejected as one value, and that line is read afresh. So a truncated object
followed by a good one costs only the truncated one. The end of the file ends
a value too.

Consequently a value printed with no indentation at all (``json.dumps(...,
indent=0)``), where nested objects also begin at column 0, is not supported:
it is cut into pieces at its nested ``{`` lines and rejected.

**Limits.** A single value (one line, or the lines of a multi-line value) of
more than 64 MiB is rejected without being held in memory: its lines are
skipped up to the next resynchronisation point. A top-level array is one
value, so the limit applies to it as a whole.

**Reasons** name positions (line, column in bytes, 1-based) and the kind of
error only, never any content of the input: a broken line may well hold a
secret.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import orjson

MAX_VALUE_BYTES = 64 * 1024 * 1024
"""A larger single value is rejected (and skipped, not held)."""

_TOO_LARGE = "value larger than 64 MiB"
_CHUNK = 1 << 20  # bytes asked of the stream at a time
_REPORT_EVERY = 1 << 20  # on_bytes is called about this often, and at the end
_BOM = b"\xef\xbb\xbf"
_OPENERS = (b"{", b"[")
_CLOSERS = (b"}", b"]")
_NL = b"\n"


class _Located:
    """Where a value was found, as ``file:3``, ``file:5-9`` or ``file:1[item 2]``."""

    __slots__ = ()
    source: str
    line: int
    end_line: int
    index: int | None

    @property
    def location(self) -> str:
        where = (
            f"{self.source}:{self.line}"
            if self.line == self.end_line
            else f"{self.source}:{self.line}-{self.end_line}"
        )
        return where if self.index is None else f"{where}[item {self.index}]"


@dataclass(frozen=True, slots=True)
class Record(_Located):
    """One JSON object read from ``source``.

    ``line`` and ``end_line`` are the first and last line (1-based) of the
    value; ``index`` is the 1-based position inside a top-level array, if the
    object was an element of one (the lines are then the array's).
    """

    value: Any
    source: str
    line: int
    end_line: int
    index: int | None = None


@dataclass(frozen=True, slots=True)
class Rejected(_Located):
    """A value that could not be read; ``reason`` is one line, without content."""

    source: str
    line: int
    end_line: int
    reason: str
    index: int | None = None


def read_records(
    stream: BinaryIO,
    *,
    source: str,
    on_bytes: Callable[[int], None] | None = None,
) -> Iterator[Record | Rejected]:
    """Every value of ``stream``, in order, read or rejected.

    ``source`` names the stream in locations (``-`` for standard input).
    ``on_bytes``, if given, is called with the number of bytes consumed since
    its last call, about every MiB and once at the end: the calls add up to the
    size of the stream.
    """
    slow = _Assembler(source)
    yield from _values(_lines(stream, on_bytes=on_bytes), slow, source=source, line=0)
    yield from slow.finish()


def read_lines(
    lines: list[bytes | None], *, source: str, first_line: int, at_end: bool
) -> tuple[list[Record | Rejected], bool]:
    """The values of a run of whole lines cut from a stream (parallel ingest).

    ``lines`` are as the stream's reader splits them (no ``\\n``, ``None`` for a
    line over the size limit, the BOM already removed); ``first_line`` is the
    stream line number of the first; ``at_end`` says the run ends the stream (a
    value left open is judged only there). Returns the values and whether the
    run ended outside any value: only then are they exactly what
    :func:`read_records` reads over the whole stream, and the next run can be
    read on its own.
    """
    slow = _Assembler(source)
    out = list(_values(lines, slow, source=source, line=first_line - 1))
    if at_end:
        out.extend(slow.finish())
        return out, True
    return out, slow.idle


def lines_of(
    stream: BinaryIO, *, on_bytes: Callable[[int], None] | None = None
) -> Iterator[bytes | None]:
    """The stream's lines as :func:`read_records` sees them (see :func:`read_lines`)."""
    return _lines(stream, on_bytes=on_bytes)


def _values(
    raw_lines: Iterable[bytes | None], slow: _Assembler, *, source: str, line: int
) -> Iterator[Record | Rejected]:
    """Values of ``raw_lines`` (numbered from ``line + 1``), all but what ``slow`` still holds."""
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    for raw in raw_lines:
        line += 1
        if slow.idle and raw is not None:
            try:
                value = loads(raw)
            except decode_error:
                pass
            else:
                if type(value) is dict:
                    yield Record(value, source, line, line)
                else:
                    yield from _judge([value], source=source, start=line, end=line)
                continue
        yield from slow.feed(raw, line)


# -- lines -----------------------------------------------------------------------


def _chunks(stream: BinaryIO, *, on_bytes: Callable[[int], None] | None) -> Iterator[bytes]:
    """The stream's bytes, a BOM at its start removed, reporting sizes to ``on_bytes``."""
    # read1 returns what is there (a pipe fed by a live watch) instead of waiting for a full chunk
    read = getattr(stream, "read1", None) or stream.read
    pending = 0
    first = True
    while chunk := read(_CHUNK):
        pending += len(chunk)
        if first:
            first = False
            while len(chunk) < len(_BOM) and (more := read(_CHUNK)):
                chunk += more
                pending += len(more)
            if chunk.startswith(_BOM):
                chunk = chunk[len(_BOM) :]
        if on_bytes is not None and pending >= _REPORT_EVERY:
            on_bytes(pending)
            pending = 0
        yield chunk
    if on_bytes is not None and pending:
        on_bytes(pending)


_PROBE_LINES = 16
_LONG_LINE = 256


def split_lines(chunk: bytes) -> list[bytes]:
    """``chunk.split(b"\\n")``, faster on long lines: ``bytes.split`` with a one-byte
    separator compares byte by byte, ``find`` runs ``memchr`` but costs a Python
    step per line. JSON lines of ~3 KB: 0.35 → 0.13 ms per MiB (in the ingest's
    main process); where the first lines are short (pretty-printed JSON), the
    rest of the chunk is left to ``split``."""
    out: list[bytes] = []
    append, find = out.append, chunk.find
    start = 0
    while (end := find(b"\n", start)) >= 0:
        append(chunk[start:end])
        start = end + 1
        if len(out) == _PROBE_LINES and start < _PROBE_LINES * _LONG_LINE:
            return chunk.split(b"\n")
    append(chunk[start:])
    return out


def _lines(stream: BinaryIO, *, on_bytes: Callable[[int], None] | None) -> Iterator[bytes | None]:
    """Lines without their ``\\n``; ``None`` stands for a line over the limit (not kept)."""
    parts: list[bytes] = []  # the start of a line that goes on in the next chunk
    held = 0
    dropping = False  # inside a line over the limit, discarding up to its end
    for chunk in _chunks(stream, on_bytes=on_bytes):
        if b"\n" not in chunk:
            if not dropping:
                parts.append(chunk)
                held += len(chunk)
                if held > MAX_VALUE_BYTES:
                    parts, held, dropping = [], 0, True
            continue
        lines = split_lines(chunk)
        tail = lines.pop()
        if dropping or parts:  # the first line began in an earlier chunk
            first = lines.pop(0)
            too_long = dropping or held + len(first) > MAX_VALUE_BYTES
            yield None if too_long else b"".join([*parts, first])
            dropping = False
        yield from lines
        parts, held = ([tail], len(tail)) if tail else ([], 0)
    if dropping:
        yield None
    elif parts:
        yield b"".join(parts)


# -- values ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Error:
    kind: str  # "incomplete" (the text ended inside a value), "invalid", "utf8"
    message: str
    offset: int  # byte offset of the error in the text parsed
    value_start: int  # byte offset where the failing value begins


def _decode_all(data: bytes) -> tuple[list[Any], _Error | None]:
    """All values in ``data`` (concatenated values allowed), up to the first error."""
    values: list[Any] = []
    pos = 0
    while True:
        rest = data[pos:] if pos else data
        try:
            values.append(orjson.loads(rest))
            return values, None
        except orjson.JSONDecodeError as exc:
            if not rest.strip():
                return values, None
            try:
                text = rest.decode("utf-8")
            except UnicodeDecodeError as bad:
                return values, _Error("utf8", "invalid UTF-8", pos + bad.start, pos)
            # orjson counts characters; positions reported here count bytes
            offset = pos + (exc.pos if text.isascii() else len(text[: exc.pos].encode()))
            if offset >= pos + len(rest.rstrip()) or exc.msg == "unexpected end of data":
                return values, _Error("incomplete", exc.msg, offset, pos)
            if offset > pos:
                try:
                    value = orjson.loads(data[pos:offset])
                except orjson.JSONDecodeError:
                    pass
                else:  # a complete value, and another one right after it
                    values.append(value)
                    pos = offset
                    continue
            return values, _Error("invalid", exc.msg, offset, pos)


def _judge(values: list[Any], *, source: str, start: int, end: int) -> list[Record | Rejected]:
    """Objects become records; arrays are opened (one level); anything else is rejected."""
    out: list[Record | Rejected] = []
    for value in values:
        if type(value) is dict:
            out.append(Record(value, source, start, end))
        elif type(value) is list:
            for i, item in enumerate(value, 1):
                if type(item) is dict:
                    out.append(Record(item, source, start, end, i))
                else:
                    out.append(Rejected(source, start, end, _not_an_object(item), i))
        else:
            out.append(Rejected(source, start, end, _not_an_object(value)))
    return out


def _not_an_object(value: Any) -> str:
    if value is None:
        got = "null"
    elif isinstance(value, bool):
        got = "a boolean"
    elif isinstance(value, int | float):
        got = "a number"
    elif isinstance(value, str):
        got = "a string"
    elif isinstance(value, list):
        got = "an array"
    else:
        got = type(value).__name__
    return f"expected a JSON object, got {got}"


def _describe(err: _Error, data: bytes, *, first_line: int) -> str:
    """The reason for an invalid value: the kind of error and where, no content."""
    column = err.offset - data.rfind(b"\n", 0, err.offset)
    if b"\n" in data:
        where = f"line {first_line + data.count(_NL, 0, err.offset)}, column {column}"
    else:
        where = f"column {column}"
    if err.kind == "utf8":
        return f"invalid UTF-8 at {where}"
    return f"invalid JSON: {_safe(err.message)} at {where}"


def _safe(message: str) -> str:
    # orjson's messages are fixed texts; make sure no quoted input ever slips through
    if '"' in message or "`" in message or len(message) > 80 or not message.isascii():
        return "malformed JSON"
    return message


class _Assembler:
    """The slow path: blank lines, values spanning lines, errors and resynchronisation.

    Idle, it judges a line on its own. Otherwise it is inside a value that
    began at ``start``: collecting its ``lines``, or, once the value is known
    to be lost (too large, or broken), only skipping them (``lines`` is
    ``None`` and ``skip_reason`` says why) until a resynchronisation point.
    """

    __slots__ = ("idle", "last", "lines", "opener", "size", "skip_reason", "source", "start")

    def __init__(self, source: str) -> None:
        self.source = source
        self.idle = True
        self.lines: list[bytes] | None = None
        self.skip_reason = ""
        self.size = 0
        self.start = 0
        self.last = 0  # last non-blank line of the value
        self.opener = b""

    def feed(self, raw: bytes | None, line: int) -> list[Record | Rejected]:
        if self.idle:
            if raw is None:
                return [Rejected(self.source, line, line, _TOO_LARGE)]
            return self._fresh(raw, line)
        if raw is None:
            self.last = line
            if self.lines is not None:
                self._skip(_TOO_LARGE)
            return []
        if raw.startswith(b"[") or (raw.startswith(b"{") and self.opener == b"{"):
            out = self._close(next_line=line)
            out.extend(self._fresh(raw, line))
            return out
        if raw.strip():
            self.last = line
        if self.lines is None:
            return []
        self.lines.append(raw)
        self.size += len(raw) + 1
        if self.size > MAX_VALUE_BYTES:
            self._skip(_TOO_LARGE)
        elif raw.startswith(_CLOSERS):
            data = b"\n".join(self.lines)
            values, err = _decode_all(data)
            if err is None:
                out = _judge(values, source=self.source, start=self.start, end=line)
                self._reset()
                return out
            if err.kind != "incomplete":  # broken for good: stop holding it
                self._skip(_describe(err, data, first_line=self.start))
                return _judge(values, source=self.source, start=self.start, end=line)
        return []

    def finish(self) -> list[Record | Rejected]:
        return [] if self.idle else self._close(next_line=None)

    def _fresh(self, raw: bytes, line: int) -> list[Record | Rejected]:
        if not raw.strip():
            return []
        values, err = _decode_all(raw)
        out = _judge(values, source=self.source, start=line, end=line)
        if err is None:
            return out
        if err.kind == "incomplete":
            rest = raw[err.value_start :]
            if rest.lstrip().startswith(_OPENERS):
                self._collect(rest, line)
                return out
        out.append(Rejected(self.source, line, line, _describe(err, raw, first_line=line)))
        return out

    def _close(self, *, next_line: int | None) -> list[Record | Rejected]:
        """End the current value: at a resynchronisation point, or at the end of the file."""
        start, end = self.start, self.last
        if self.lines is None:
            out: list[Record | Rejected] = [Rejected(self.source, start, end, self.skip_reason)]
        else:
            data = b"\n".join(self.lines)
            values, err = _decode_all(data)
            out = _judge(values, source=self.source, start=start, end=end)
            if err is not None:
                if err.kind == "incomplete":
                    what = {b"{": "object", b"[": "array"}.get(self.opener, "value")
                    began = start + data.count(b"\n", 0, err.value_start)
                    after = "file ended" if next_line is None else f"next value at line {next_line}"
                    reason = f"truncated JSON {what} (starts at line {began}, {after})"
                else:
                    reason = _describe(err, data, first_line=start)
                out.append(Rejected(self.source, start, end, reason))
        self._reset()
        return out

    def _collect(self, first: bytes, line: int) -> None:
        self.idle = False
        self.lines = [first]
        self.size = len(first)
        self.start = self.last = line
        self.opener = first.lstrip()[:1]
        if self.size > MAX_VALUE_BYTES:
            self._skip(_TOO_LARGE)

    def _skip(self, reason: str) -> None:
        self.lines = None
        self.skip_reason = reason

    def _reset(self) -> None:
        self.idle = True
        self.lines = None
        self.skip_reason = ""
        self.size = 0
