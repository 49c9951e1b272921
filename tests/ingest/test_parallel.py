"""Parallel ingest gives exactly what the sequential path gives: same documents,
same counts, same rejection lines (with the same locations), whatever the cuts."""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubetrail.events.redact import DEFAULT_POLICY
from kubetrail.ingest import parallel
from kubetrail.ingest.parallel import WorkerDied, segments
from kubetrail.ingest.pipeline import IngestStats, ingest_files
from kubetrail.ingest.reader import lines_of
from kubetrail.store.base import EventFilter, EventQuery
from kubetrail.store.sqlite import SQLiteStore, open_embedded
from tests.support.watch_lines import event, jsonl


def pretty(*values: Any) -> bytes:
    return b"".join(json.dumps(v, indent=4).encode() + b"\n" for v in values)


def tricky_input() -> bytes:
    """Every shape the reader accepts or rejects, one after another."""
    truncated = pretty(event(20))
    truncated = truncated[: len(truncated) // 2].rsplit(b"\n", 1)[0] + b"\n"
    broken = pretty(event(30)).replace(b'"kind": "Pod"', b'"kind": Pod', 1)
    col0_array = (
        b"[\n" + b",\n".join(json.dumps(event(40 + i)).encode() for i in range(4)) + b"\n]\n"
    )
    return (
        b"\xef\xbb\xbf"
        + jsonl(*(event(i) for i in range(10)))
        + b'{"type": "MODIFIED", "object": \n'  # a line cut short
        + pretty(event(10), event(11))
        + truncated
        + pretty(event(21))
        + broken
        + jsonl(event(31)).replace(b"\n", b"\r\n")
        + b"42\n"
        + b'{"name": "caf\xe9"}\n'
        + b'{"type": "MODIFIED"}\n'  # a watch event without an object
        + col0_array
        + json.dumps([event(50), event(51)], indent=2).encode()
        + b"\n"
        + jsonl(*(event(i) for i in range(60, 70)))
        + pretty(event(70))[:-40]  # the file ends inside a value
    )


def _ingest(path: Path, db: Path, workers: int) -> tuple[IngestStats, list[str], list[Any]]:
    lines: list[str] = []
    store = open_embedded(db)
    try:
        stats = ingest_files([str(path)], store, report=lines.append, workers=workers)
        docs = store.search(EventQuery(filter=EventFilter(), limit=10_000)).items
    finally:
        store.close()
    return stats, lines, docs


@pytest.mark.parametrize("segment_bytes", [1, 300, 1 << 20])
def test_parallel_ingest_reads_exactly_what_sequential_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, segment_bytes: int
) -> None:
    path = tmp_path / "mixed.json"
    path.write_bytes(tricky_input())
    expected = _ingest(path, tmp_path / "seq.db", workers=1)
    # tiny segments: a cut before nearly every value start, some inside values
    monkeypatch.setattr(parallel, "SEGMENT_BYTES", segment_bytes)
    got = _ingest(path, tmp_path / "par.db", workers=2)
    assert got[0] == expected[0]
    assert got[1] == expected[1]
    assert got[2] == expected[2]
    stats = expected[0]
    assert stats.stored == 10 + 2 + 1 + 1 + 4 + 2 + 10  # every good event
    assert stats.rejected == len(expected[1]) >= 7
    assert any("file ended" in line for line in expected[1])


def test_cuts_inside_a_value_are_read_again_across_the_cut(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # objects at column 0 inside a multi-line array: every cut but the last is
    # inside the array, so the workers' reads are discarded and redone in order
    data = b"[\n" + b",\n".join(json.dumps(event(i)).encode() for i in range(30)) + b"\n]\n"
    path = tmp_path / "array.json"
    path.write_bytes(data + jsonl(event(99)))
    monkeypatch.setattr(parallel, "SEGMENT_BYTES", 200)
    stats, lines, docs = _ingest(path, tmp_path / "k.db", workers=2)
    assert (stats.read, stats.stored, stats.rejected, lines) == (31, 31, 0, [])
    assert len({d["id"] for d in docs}) == 31


def test_segments_cover_every_line_once_and_start_at_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = tricky_input()
    monkeypatch.setattr(parallel, "SEGMENT_BYTES", 100)
    runs = list(segments(io.BytesIO(data)))
    assert len(runs) > 10
    assert [r.at_end for r in runs] == [False] * (len(runs) - 1) + [True]
    line = 1
    for run in runs:
        assert run.first_line == line
        line += len(run.lines)
        if run.first_line > 1:
            assert run.lines[0][:1] in (b"{", b"[")
    everything = list(lines_of(io.BytesIO(data)))
    assert [x for r in runs for x in r.lines] == everything


def test_empty_input_is_one_empty_last_segment() -> None:
    [run] = list(segments(io.BytesIO(b"")))
    assert (run.lines, run.first_line, run.at_end) == ([], 1, True)


def test_default_workers_is_at_least_one() -> None:
    assert 1 <= parallel.default_workers() <= 8


@pytest.mark.skipif(not hasattr(os, "nice"), reason="os.nice exists on Unix only")
def test_workers_run_at_the_lowest_priority_so_the_writer_keeps_a_core(tmp_path: Path) -> None:
    store = open_embedded(tmp_path / "k.db")
    runner = parallel.ParallelIngest(
        store, policy=DEFAULT_POLICY, workers=2, sink=lambda result: None
    )
    try:
        assert runner.pool.submit(os.nice, 0).result() == parallel.WORKER_NICENESS
        assert os.nice(0) < parallel.WORKER_NICENESS  # the main process is untouched
    finally:
        runner.close()
        store.close()


def _dying_prepare(doc: dict[str, Any]) -> Any:
    if doc["resourceName"] == "web-13":
        os._exit(3)  # what the OOM killer leaves behind: no answer, no exception
    return SQLiteStore.prepare(doc)


class _DyingStore(SQLiteStore):
    prepare = staticmethod(_dying_prepare)


def test_a_worker_that_dies_stops_the_run_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "events.json"
    path.write_bytes(jsonl(*(event(i) for i in range(30))))
    store = _DyingStore(tmp_path / "k.db")
    try:
        with pytest.raises(WorkerDied, match="worker process died"):
            ingest_files([str(path)], store, report=lambda line: None, workers=2)
    finally:
        store.close()


def _piece(kind: str, i: int, cut: float) -> bytes:
    if kind == "line":
        return jsonl(event(i))
    if kind == "pretty":
        return pretty(event(i))
    if kind == "truncated":
        whole = pretty(event(i))
        return whole[: max(1, int(len(whole) * cut))].rsplit(b"\n", 1)[0] + b"\n"
    if kind == "garbage":
        return b"not json at all }{\n"
    if kind == "blank":
        return b"\n\n"
    if kind == "number":
        return b"42\n"
    if kind == "array0":
        return b"[\n" + b",\n".join(json.dumps(event(i + k)).encode() for k in range(3)) + b"\n]\n"
    return json.dumps([event(i), event(i + 1)], indent=2).encode() + b"\n"  # "array"


KINDS = ["line", "pretty", "truncated", "garbage", "blank", "number", "array0", "array"]


@settings(
    max_examples=int(os.environ.get("KUBETRAIL_PARALLEL_EXAMPLES", "25")),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    pieces=st.lists(
        st.tuples(st.sampled_from(KINDS), st.floats(0.05, 0.95)), min_size=1, max_size=25
    ),
    segment_bytes=st.sampled_from([1, 60, 400, 1 << 20]),
)
def test_any_mix_of_input_shapes_reads_the_same_in_parallel(
    tmp_path_factory: pytest.TempPathFactory,
    pieces: list[tuple[str, float]],
    segment_bytes: int,
) -> None:
    """Random mixes of every shape, cut anywhere: parallel == sequential
    (KUBETRAIL_PARALLEL_EXAMPLES=500 for a longer run)."""
    work = tmp_path_factory.mktemp("mix")
    path = work / "mix.json"
    path.write_bytes(b"".join(_piece(kind, 100 * n, cut) for n, (kind, cut) in enumerate(pieces)))
    expected = _ingest(path, work / "seq.db", workers=1)
    original = parallel.SEGMENT_BYTES
    parallel.SEGMENT_BYTES = segment_bytes
    try:
        got = _ingest(path, work / "par.db", workers=2)
    finally:
        parallel.SEGMENT_BYTES = original
    assert got == expected


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # ended while we looked
            # the fields after the command name (which may hold spaces) start with state, ppid
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.e2e
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux only)")
def test_workers_end_when_ingest_is_killed_with_sigkill(tmp_path: Path) -> None:
    """`kill -9` of `kubetrail ingest` must not leave its workers behind, re-parented and
    holding the database open (hardening issue)."""
    import signal
    import subprocess
    import sys
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "kubetrail", "ingest", "--workers", "2", "--store",
         f"sqlite:///{tmp_path / 'k.db'}", "-"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stdin is not None
    try:
        # more than a segment, so the pool starts; the pipe stays open: ingest waits for more
        proc.stdin.write(jsonl(*(event(i) for i in range(12000))))
        proc.stdin.flush()
        deadline = time.monotonic() + 30
        workers: set[int] = set()
        while len(workers) < 2 and time.monotonic() < deadline:
            workers = _children(proc.pid)
            time.sleep(0.1)
        assert len(workers) >= 2, "the worker pool did not start"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [w for w in workers if _alive(w)], "workers outlived their parent"
    finally:
        proc.kill()
        for w in _children(proc.pid) | workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(w, signal.SIGKILL)


def test_opensearch_ingest_prepares_in_the_workers_and_stores_what_sqlite_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The OpenSearch store takes rows prepared in the worker processes (indexed body
    built and encoded there): the same counts, lines and documents as sequential, and
    as the embedded store."""
    from kubetrail.store.base import PreparedWrites
    from tests.support.opensearch_servers import opensearch_store
    from tests.support.osmem import running_osmem

    path = tmp_path / "mixed.json"
    path.write_bytes(tricky_input())
    expected = _ingest(path, tmp_path / "seq.db", workers=1)
    monkeypatch.setattr(parallel, "SEGMENT_BYTES", 300)
    with running_osmem() as url:
        got = []
        for workers in (1, 2):
            store = opensearch_store(url, prefix=f"par{workers}-events")
            assert isinstance(store, PreparedWrites)
            lines: list[str] = []
            try:
                stats = ingest_files([str(path)], store, report=lines.append, workers=workers)
                docs = store.search(EventQuery(filter=EventFilter(), limit=1_000)).items
            finally:
                store.close()
            got.append((stats, lines, docs))
    for stats, lines, docs in got:
        assert stats == expected[0]
        assert lines == expected[1]
        assert docs == expected[2]
