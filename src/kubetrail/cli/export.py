"""``kubetrail export``: stored event documents as JSON lines, oldest first.

The output is what ``kubetrail ingest`` reads back: the same documents, the same ids.
The store is read a page at a time, so an export of millions of events stays small.
"""

from __future__ import annotations

import argparse
import sys

import orjson

from kubetrail.cli.common import CommandError, SubParsers, add_store_option, open_store_from
from kubetrail.config import Settings

PAGE_SIZE = 1000


def register(sub: SubParsers) -> None:
    p = sub.add_parser(
        "export",
        help="write stored events as JSON lines (re-importable with ingest)",
        description="Write stored event documents as JSON lines, oldest first.",
    )
    add_store_option(p)
    p.add_argument("--start", help="RFC3339 lower bound (default: everything)")
    p.add_argument("--end", help="RFC3339 upper bound (default: now)")
    p.add_argument("--output", "-o", default="-", help="file to write (default: standard output)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from kubetrail.events.timing import InvalidTime, parse_rfc3339
    from kubetrail.store.base import EventFilter, EventQuery

    try:
        start = parse_rfc3339(args.start) if args.start else None
    except InvalidTime as exc:
        raise CommandError(f"invalid --start: {exc}") from None
    try:
        end = parse_rfc3339(args.end) if args.end else None
    except InvalidTime as exc:
        raise CommandError(f"invalid --end: {exc}") from None
    try:
        out = sys.stdout.buffer if args.output == "-" else open(args.output, "wb")  # noqa: SIM115
    except OSError as exc:
        raise CommandError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    written = 0
    try:
        store = open_store_from(args.store or settings.store_url, settings, read_only=True)
        try:
            cursor = None
            while True:
                page = store.search(
                    EventQuery(
                        filter=EventFilter(start=start, end=end), limit=PAGE_SIZE, after=cursor
                    )
                )
                for doc in page.items:
                    out.write(orjson.dumps(doc) + b"\n")
                written += len(page.items)
                if page.next is None:
                    break
                cursor = page.next
        finally:
            store.close()
    except OSError as exc:  # the output: a full disk, a closed pipe
        raise CommandError(
            f"writing {args.output} failed after {written} events: {exc.strerror or exc}"
        ) from None
    finally:
        if out is not sys.stdout.buffer:
            out.close()
    print(f"kubetrail: exported {written} events", file=sys.stderr)
    return 0
