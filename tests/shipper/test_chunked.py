"""Chunked transfer decoding: any split of the bytes, extensions, trailers, errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubetrail.shipper.chunked import ChunkedError, decode_chunked


def encode(chunks: list[bytes], *, trailers: bytes = b"", extension: bytes = b"") -> bytes:
    body = b"".join(b"%x%s\r\n%s\r\n" % (len(c), extension, c) for c in chunks if c)
    return body + b"0\r\n" + trailers + b"\r\n"


def reader(data: bytes, cuts: list[int]) -> Iterator[bytes]:
    """``data`` delivered in the pieces ``cuts`` make, then end of stream."""
    last = 0
    for cut in sorted(set(cuts)):
        if last < cut < len(data):
            yield data[last:cut]
            last = cut
    yield data[last:]
    while True:
        yield b""


def decode(data: bytes, cuts: list[int] | None = None) -> bytes:
    pieces = reader(data, cuts or [])
    return b"".join(decode_chunked(lambda _n: next(pieces)))


def test_events_in_one_read_come_out_together() -> None:
    events = [b'{"type":"ADDED"}\n', b'{"type":"MODIFIED"}\n', b'{"type":"DELETED"}\n']
    pieces = reader(encode(events), [])
    blocks = list(decode_chunked(lambda _n: next(pieces)))
    assert blocks == [b"".join(events)]


def test_extensions_and_trailers_are_skipped() -> None:
    data = encode([b"abc", b"defg"], trailers=b"X-Checksum: 1\r\nX-Other: 2\r\n", extension=b";x=1")
    assert decode(data) == b"abcdefg"


def test_uppercase_hex_and_large_chunks() -> None:
    big = bytes(range(256)) * 400  # 102,400 bytes: more than one read
    data = b"%X\r\n%s\r\n0\r\n\r\n" % (len(big), big)
    assert decode(data) == big


@settings(max_examples=200, deadline=None)
@given(
    chunks=st.lists(st.binary(min_size=0, max_size=300), max_size=12),
    cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=30),
)
def test_any_split_of_the_stream_gives_the_same_body(chunks: list[bytes], cuts: list[int]) -> None:
    data = encode(chunks, trailers=b"T: v\r\n")
    assert decode(data, cuts) == b"".join(chunks)


@pytest.mark.parametrize(
    "data",
    [
        b"5\r\nabc",  # ends inside the data
        b"5\r\nabcde\r\n",  # ends before the last chunk
        b"5\r\nabcdeXY3\r\nabc\r\n0\r\n\r\n",  # no CRLF after the data
        b"zz\r\nabc\r\n0\r\n\r\n",  # not hex
        b"-1\r\n\r\n",  # negative
        b"0\r\nTrailer: never ends",  # trailers without the blank line
    ],
)
def test_broken_framing_raises(data: bytes) -> None:
    with pytest.raises(ChunkedError):
        decode(data)


def test_an_endless_size_line_is_refused() -> None:
    with pytest.raises(ChunkedError, match="too long"):
        decode(b"1" * 10_000)


def test_read_errors_propagate() -> None:
    def read1(_n: int) -> bytes:
        raise TimeoutError("read timed out")

    with pytest.raises(TimeoutError):
        list(decode_chunked(read1))
