"""The disk spool: what was appended comes back, in order, across segments and crashes."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubetrail.shipper.spool import Spool

EXAMPLES = int(os.environ.get("KUBETRAIL_SPOOL_EXAMPLES", "100"))


def doc(i: int, size: int = 0) -> dict[str, object]:
    return {"id": f"uid-{i}:1", "timestamp": "2026-11-25T04:00:00Z", "pad": "x" * size}


def replay(spool: Spool) -> list[dict[str, object]]:
    """Everything the delivery loop would send, segment by segment, removing each."""
    out: list[dict[str, object]] = []
    while (oldest := spool.oldest()) is not None:
        path, docs = oldest
        out.extend(docs)
        spool.remove(path)
    return out


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    batches=st.lists(st.lists(st.integers(0, 300), min_size=1, max_size=6), max_size=12),
    segment_bytes=st.sampled_from([1, 200, 1000, 1 << 20]),
    tear=st.one_of(st.none(), st.integers(1, 400)),
)
def test_acknowledged_batches_come_back_in_order_after_a_crash(
    tmp_path_factory: pytest.TempPathFactory,
    batches: list[list[int]],
    segment_bytes: int,
    tear: int | None,
) -> None:
    directory = tmp_path_factory.mktemp("spool")
    spool = Spool(directory, segment_bytes=segment_bytes)
    appended: list[dict[str, object]] = []
    n = 0
    for sizes in batches:
        docs = [doc(n + k, size) for k, size in enumerate(sizes)]
        n += len(docs)
        spool.append(docs)
        appended.extend(docs)
        assert len(spool) == len(list(directory.glob("segment-*")))
    spool.close()
    torn: list[dict[str, object]] = []
    if tear is not None and batches:
        # the process dies while writing one more batch: part of it reached the file
        last = max(directory.iterdir(), key=lambda p: p.name, default=None)
        partial = b"".join(
            b'{"id":"torn-%d:1","timestamp":"2026-11-25T04:00:00Z"}\n' % i for i in range(3)
        )[:tear]
        if last is not None:
            with last.open("ab") as fh:
                fh.write(partial)
        whole = partial.count(b"\n")
        torn = [{"id": f"torn-{i}:1", "timestamp": "2026-11-25T04:00:00Z"} for i in range(whole)]
    # a new process opens the same directory
    reopened = Spool(directory, segment_bytes=segment_bytes)
    assert len(reopened) == len(list(directory.glob("segment-*")))
    got = replay(reopened)
    assert len(reopened) == 0
    # every acknowledged document, in order; of the torn batch only whole lines
    assert got == appended + torn
    assert not list(directory.glob("segment-*"))


def test_a_damaged_line_is_skipped_with_an_error_naming_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = Spool(tmp_path)
    spool.append([doc(1), doc(2), doc(3)])
    spool.close()
    (segment,) = tmp_path.glob("segment-*")
    lines = segment.read_bytes().splitlines(keepends=True)
    segment.write_bytes(lines[0] + b'{"id": "broken\n' + b"42\n" + lines[2])
    with caplog.at_level(logging.ERROR, logger="kubetrail.shipper"):
        got = replay(Spool(tmp_path))
    assert [d["id"] for d in got] == ["uid-1:1", "uid-3:1"]
    assert f"spool segment {segment.name}: 2 unreadable line(s) skipped (lines 2, 3)" in (
        caplog.text
    )


def test_the_length_follows_the_disk_when_a_segment_is_removed_by_hand(tmp_path: Path) -> None:
    spool = Spool(tmp_path, segment_bytes=1)  # one segment per batch
    spool.append([doc(1)])
    spool.append([doc(2)])
    assert len(spool) == 2
    first = min(tmp_path.glob("segment-*"))
    first.unlink()
    path, docs = spool.oldest()  # type: ignore[misc]
    assert (len(spool), docs) == (1, [doc(2)])
    spool.remove(path)
    spool.remove(path)  # twice: already gone, the count stays right
    assert len(spool) == 0 and spool.oldest() is None
