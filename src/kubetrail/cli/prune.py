"""``kubetrail prune``: delete events older than the retention, now.

The same step the shipper runs on its own schedule (:mod:`kubetrail.store.retention`),
run once by hand: on OpenSearch without ISM whole expired indices go first, then
the single expired events; each deleted index is reported by name.
"""

from __future__ import annotations

import argparse
import sys

from kubetrail.cli.common import CommandError, SubParsers, add_store_option, open_store_from
from kubetrail.config import Settings
from kubetrail.store.url import MAX_RETENTION_DAYS


def register(sub: SubParsers) -> None:
    p = sub.add_parser(
        "prune",
        help="delete events older than the retention",
        description="Delete events older than --days (default $KUBETRAIL_RETENTION_DAYS or 14).",
    )
    add_store_option(p)
    p.add_argument("--days", type=int, help="retention in days")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from kubetrail.events.timing import utcnow
    from kubetrail.store.retention import enforce_retention

    days = args.days if args.days is not None else settings.retention_days
    if not 1 <= days <= MAX_RETENTION_DAYS:
        raise CommandError(f"--days must be from 1 to {MAX_RETENTION_DAYS}, got {days}")
    store = open_store_from(args.store or settings.store_url, settings)
    try:
        result = enforce_retention(store, days=days, now=utcnow())
    finally:
        store.close()
    for warning in result.warnings:
        print(f"kubetrail: warning: {warning}", file=sys.stderr)
    for index in result.rolled_over:
        print(f"kubetrail: rolled the write index over to {index}", file=sys.stderr)
    for index in result.deleted_indices:
        print(
            f"kubetrail: deleted index {index} (all its events older than the retention "
            "recorded by `kubetrail setup`)",
            file=sys.stderr,
        )
    print(
        f"kubetrail: deleted {result.deleted_events} events older than {days} days", file=sys.stderr
    )
    return 0
