"""Parallel ingest: worker processes turn runs of input lines into store rows.

Reading JSON, normalising, redaction, signals and the full-text rendering are
pure and CPU-bound: they run in a pool of worker processes, one *segment* (a
run of about 1 MiB of whole lines) at a time. The main process only splits the
input into segments, writes the rows the workers send back, in input order, and
reports. The store must be able to take rows prepared elsewhere
(:class:`~kubetrail.store.base.PreparedWrites`); the embedded store can.

**Same answers as the sequential path.** A segment preferably starts at a line
beginning with ``{`` or ``[`` (where a value starts in every input format the
reader accepts), so it is read on its own. A worker reports whether its segment
ended outside any value; when one did not (a multi-line array with objects at
column 0, a value cut short, a giant value), that segment is read again in the
main process together with the following ones until a run ends outside a value,
exactly as the sequential reader would have read it. Locations (``file:line``)
and rejection reasons are therefore those of :func:`~kubetrail.ingest.reader.read_records`.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from kubetrail.events.audit import AuditRecord
from kubetrail.events.redact import RedactionPolicy
from kubetrail.events.timing import parse_rfc3339, to_micros
from kubetrail.gc_tuning import THRESHOLDS
from kubetrail.ingest.audit import audit_records_of, is_audit_value
from kubetrail.ingest.documents import documents_of
from kubetrail.ingest.reader import Record, lines_of, read_lines
from kubetrail.store.base import PreparedWrites

SEGMENT_BYTES = 1 << 20
"""A segment is cut at the first value start after this many bytes."""
HARD_SEGMENT_BYTES = 16 << 20
"""Without a value start for this long, a segment is cut at any line (and checked)."""
WORKER_NICENESS = 19
"""Workers run at the lowest CPU priority: see :func:`_init_worker`."""

Preparer = Callable[[Any], Any]


_WORKER_DIED = (
    "an ingest worker process died (out of memory?): what was stored is kept; "
    "run the same command again, with fewer --workers"
)


class WorkerDied(RuntimeError):
    """A worker process ended without an answer; the run stops, stored data stays."""


@dataclass(slots=True)
class Segment:
    lines: list[bytes | None]
    first_line: int
    at_end: bool = False


@dataclass(slots=True)
class SegmentResult:
    """What a worker made of one segment, in input order."""

    complete: bool
    rows: list[Any] = field(default_factory=list)
    rejections: list[str] = field(default_factory=list)  # "file:line: reason"
    read: int = 0
    rejected: int = 0
    skipped: int = 0
    audit: list[AuditRecord] = field(default_factory=list)  # audit records, in input order
    audit_events: int = 0
    audit_unchanged: int = 0
    #: the times (µs) of the first and last document, in time: pending audit records of
    #: that span are joined after a run into a store whose prepared writes do not join
    span: tuple[int, int] | None = None


def default_workers() -> int:
    """One worker per CPU the process may use (at most 8: the writer is the limit)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))


def segments(
    stream: BinaryIO, *, on_bytes: Callable[[int], None] | None = None
) -> Iterator[Segment]:
    """The stream's lines in runs of about :data:`SEGMENT_BYTES`, numbered from 1;
    the last one is marked ``at_end``."""
    current: list[bytes | None] = []
    size = 0
    first = 1
    held: Segment | None = None  # one segment is held back to mark the last one
    for line, raw in enumerate(lines_of(stream, on_bytes=on_bytes), 1):
        if size >= SEGMENT_BYTES and (
            size >= HARD_SEGMENT_BYTES or (raw is not None and raw[:1] in (b"{", b"["))
        ):
            if held is not None:
                yield held
            held = Segment(current, first)
            current, size, first = [], 0, line
        current.append(raw)
        size += len(raw) + 1 if raw is not None else HARD_SEGMENT_BYTES
    if held is not None:
        yield held
    yield Segment(current, first, at_end=True)  # a cut always leaves a line after it


# -- the worker side -----------------------------------------------------------------

_policy: RedactionPolicy | None = None
_prepare: Preparer | None = None


#: How often a worker checks that the process it works for is still alive.
PARENT_CHECK_SECONDS = 0.5


def _init_worker(policy: RedactionPolicy, prepare: Preparer, parent: int) -> None:
    global _policy, _prepare
    _policy, _prepare = policy, prepare
    _exit_with(parent)
    # The writer (in the main process) is the one serial stage: with as many
    # workers as CPUs, the scheduler gave it about 2/3 of a core and ingest ran at
    # its pace. At the lowest priority the workers use what the writer leaves
    # (100,000 events on 2 CPUs: 11,657 → 13,477 events/s, bench/ingest_split.py).
    with contextlib.suppress(AttributeError, OSError):  # no os.nice off Unix
        os.nice(WORKER_NICENESS)
    # A segment keeps thousands of dicts alive: the default GC thresholds would
    # rescan them over and over for cycles that JSON data cannot contain.
    gc.set_threshold(*THRESHOLDS)


def _exit_with(parent: int) -> None:
    """End this worker when ``parent`` is gone. A parent killed with SIGKILL (or by the
    OOM killer) cannot stop its pool: the workers would be re-parented and live on,
    holding the database and its WAL open."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _work(source: str, segment: Segment) -> SegmentResult:
    assert _policy is not None and _prepare is not None, "worker not initialised"
    return prepare_segment(segment, source=source, policy=_policy, prepare=_prepare)


def prepare_segment(
    segment: Segment, *, source: str, policy: RedactionPolicy, prepare: Preparer
) -> SegmentResult:
    """Read, normalise and prepare one segment (pure; runs in a worker)."""
    records, complete = read_lines(
        segment.lines, source=source, first_line=segment.first_line, at_end=segment.at_end
    )
    out = SegmentResult(complete=complete)
    if not complete:
        return out  # read again with what follows, in the main process
    for rec in records:
        out.read += 1
        if isinstance(rec, Record) and is_audit_value(rec.value):
            got = audit_records_of(rec)
            if isinstance(got, str):
                out.rejected += 1
                out.rejections.append(got)
                continue
            found, events = got
            out.audit.extend(found)
            out.audit_events += events
            out.audit_unchanged += events - len(found)
            continue
        docs = documents_of(rec, policy=policy)
        if isinstance(docs, str):
            out.rejected += 1
            out.rejections.append(docs)
            continue
        if not docs:
            out.skipped += 1
        out.rows.extend(prepare(doc) for doc in docs)
        for doc in docs:
            at = to_micros(parse_rfc3339(doc["timestamp"]))
            out.span = (min(out.span[0], at), max(out.span[1], at)) if out.span else (at, at)
    return out


# -- the main side -------------------------------------------------------------------


class ParallelIngest:
    """Feeds segments of one or more streams to a worker pool and writes the rows.

    ``sink(result)`` receives each :class:`SegmentResult` in input order."""

    def __init__(
        self,
        store: PreparedWrites,
        *,
        policy: RedactionPolicy,
        workers: int,
        sink: Callable[[SegmentResult], None],
    ) -> None:
        self.policy = policy
        self.prepare: Preparer = type(store).prepare
        self.sink = sink
        self.workers = workers
        # fork is cheap and the workers need nothing the parent has not imported;
        # where it is not offered (macOS, Windows) the platform default is used.
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context(
            "fork" if "fork" in methods and sys.platform == "linux" else None
        )
        # an executor, not multiprocessing.Pool: a worker killed (say by the OOM
        # killer) fails the run with BrokenProcessPool instead of hanging it
        self.pool = ProcessPoolExecutor(
            workers,
            mp_context=ctx,
            initializer=_init_worker,
            initargs=(policy, self.prepare, os.getpid()),
        )

    def run(self, stream: BinaryIO, *, source: str, on_bytes: Callable[[int], None] | None) -> None:
        window: deque[tuple[Segment, Future[SegmentResult]]] = deque()
        carry: Segment | None = None
        limit = self.workers * 3
        for segment in segments(stream, on_bytes=on_bytes):
            window.append((segment, self._submit(source, segment)))
            while len(window) > limit:
                carry = self._take(*window.popleft(), carry=carry, source=source)
        while window:
            carry = self._take(*window.popleft(), carry=carry, source=source)
        assert carry is None, "the last segment always completes"

    def _take(
        self,
        segment: Segment,
        pending: Future[SegmentResult],
        *,
        carry: Segment | None,
        source: str,
    ) -> Segment | None:
        try:
            result = pending.result()
        except BrokenProcessPool:
            raise WorkerDied(_WORKER_DIED) from None
        if carry is None and result.complete:
            self.sink(result)
            return None
        # A value runs across the cut: read on in this process, as the sequential
        # reader would, until a run ends outside any value.
        if carry is None:
            carry = Segment(list(segment.lines), segment.first_line, segment.at_end)
        else:
            carry.lines.extend(segment.lines)
            carry.at_end = segment.at_end
        result = prepare_segment(carry, source=source, policy=self.policy, prepare=self.prepare)
        if not result.complete:
            return carry
        self.sink(result)
        return None

    def _submit(self, source: str, segment: Segment) -> Future[SegmentResult]:
        try:
            return self.pool.submit(_work, source, segment)
        except BrokenProcessPool:
            raise WorkerDied(_WORKER_DIED) from None

    def close(self) -> None:
        self.pool.shutdown(wait=True)

    def terminate(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
