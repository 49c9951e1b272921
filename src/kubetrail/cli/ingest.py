"""``kubetrail ingest``: load recorded watch events from files or standard input.

Rejected lines are reported as ``rejected FILE:LINE: reason`` — the first
:data:`MAX_REPORTED_REJECTIONS`, then only counted, so a garbage file cannot
flood the terminal — and make the exit code 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from kubetrail.cli.common import CommandError, SubParsers, add_store_option, open_store_from
from kubetrail.config import Settings
from kubetrail.ingest.inputs import RECORDING_SUFFIXES, InputError, expand_inputs
from kubetrail.store import parse_store_url

if TYPE_CHECKING:
    from tqdm import tqdm

MAX_REPORTED_REJECTIONS = 50


def register(sub: SubParsers) -> None:
    p = sub.add_parser(
        "ingest",
        help="load watch events from JSON-lines or kubectl output files",
        description="Load watch events (kubectl get -A --watch --output-watch-events -o json, "
        "JSON lines, kubetrail documents, kubectl get -o json lists) into a store. "
        "'-' reads standard input. Exit code 1 when some lines were rejected.",
    )
    p.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="a recording to read; '-' reads standard input; a directory: the files in it "
        f"ending in {', '.join(RECORDING_SUFFIXES)}, in name order",
    )
    add_store_option(p)
    p.add_argument(
        "--batch-size",
        type=int,
        default=10_000,
        help="documents per store write (default 10000: larger transactions index "
        "full text with fewer merges)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="processes reading and normalising in parallel (default: one per CPU for "
        "files; 1 for a pipe, read line by line so a slow producer's events are stored "
        "as they come; 1 = all in this process)",
    )
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from kubetrail.ingest.parallel import WorkerDied, default_workers
    from kubetrail.ingest.pipeline import ingest_files, is_regular_file

    if args.batch_size < 1:
        raise CommandError("--batch-size must be at least 1")
    if args.workers is not None and not 1 <= args.workers <= 64:
        raise CommandError("--workers must be between 1 and 64")
    url = args.store or settings.store_url
    parse_store_url(url)  # a wrong URL is the first thing to say, before any file check
    try:
        files = expand_inputs(args.files)  # a directory: the recordings in it, by name
    except InputError as exc:
        raise CommandError(str(exc)) from None
    # The workers take input in 1 MB segments: a live producer on a pipe would wait
    # for megabytes before its first event is stored.
    workers = args.workers or (default_workers() if all(map(is_regular_file, files)) else 1)
    store = open_store_from(url, settings, bulk=True)
    total = sum(Path(f).stat().st_size for f in files if f != "-")
    show_bar = not args.quiet and sys.stderr.isatty()
    with tqdm(
        total=total or None,
        unit="B",
        unit_scale=True,
        desc="ingest",
        disable=not show_bar,
        file=sys.stderr,
    ) as bar:
        report = CappedRejections(lambda line: tqdm.write(line, file=sys.stderr))
        try:
            stats = ingest_files(
                files,
                store,
                policy=settings.redaction_policy(),
                batch_size=args.batch_size,
                report=report,
                on_bytes=lambda n: _advance(bar, n),
                workers=workers,
            )
        except WorkerDied as exc:
            raise CommandError(str(exc)) from None
        finally:
            store.close()
    report.finish()
    print(f"kubetrail: {stats.summary()}", file=sys.stderr)
    return 1 if stats.rejected else 0


class CappedRejections:
    """Prints the first rejections, then only counts them (a garbage file must not flood)."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        self.emit = emit
        self.count = 0

    def __call__(self, line: str) -> None:
        self.count += 1
        if self.count <= MAX_REPORTED_REJECTIONS:
            self.emit(f"rejected {line}")

    def finish(self) -> None:
        if self.count > MAX_REPORTED_REJECTIONS:
            hidden = self.count - MAX_REPORTED_REJECTIONS
            print(f"kubetrail: ... and {hidden} more rejected lines not shown", file=sys.stderr)


def _advance(bar: tqdm, n: int) -> None:
    bar.update(n)
