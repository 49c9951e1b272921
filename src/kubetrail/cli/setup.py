"""``kubetrail setup``: prepare an OpenSearch cluster for the store, idempotently.

Creates or updates the component and index templates, the ISM retention policy,
the bootstrap index with its write alias, and the policy on existing indices,
printing created / updated / unchanged per object (or, with ``--dry-run``, the
requests it would send). With ``--dashboards-url`` it also imports kubetrail's
saved objects into OpenSearch Dashboards; they are rendered and checked before
anything is written, so a bad ``--prefix`` or URL fails before the cluster changes.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from kubetrail.cli.common import CommandError, SubParsers
from kubetrail.config import Settings
from kubetrail.store import StoreURL, parse_store_url

if TYPE_CHECKING:
    from kubetrail.store.opensearch.templates import TemplateParams


def register(sub: SubParsers) -> None:
    p = sub.add_parser(
        "setup",
        help="create or update the OpenSearch index templates, ISM policy and write alias",
        description="Create or update what an OpenSearch store needs: component and index "
        "templates, the ISM retention policy, the bootstrap index with its write alias, and "
        "the policy on existing indices. Idempotent: prints created / updated / unchanged per "
        "object. Without the ISM plugin (or on Elasticsearch) it says so and records that "
        "kubetrail's built-in retention fallback deletes old indices.",
        epilog="Credentials: user:password in the URL or $KUBETRAIL_OPENSEARCH_USER and "
        "$KUBETRAIL_OPENSEARCH_PASSWORD; or an API key (--api-key or "
        "$KUBETRAIL_OPENSEARCH_API_KEY). Dashboards: user:password in --dashboards-url, "
        "else the same credentials; --ca-cert and --insecure apply to both.",
    )
    p.add_argument(
        "--store",
        help="opensearch+http(s)://[user:pass@]host:port[,host:port…] (default $KUBETRAIL_STORE)",
    )
    # default: DEFAULT_PREFIX, looked up when the command runs (it lives with the
    # OpenSearch client, too heavy an import for building the parser)
    p.add_argument(
        "--prefix",
        help="index prefix and write alias name: indices <prefix>-000001, ... (default "
        "$KUBETRAIL_OPENSEARCH_PREFIX, else kubetrail-events)",
    )
    retention = p.add_mutually_exclusive_group()
    retention.add_argument(
        "--retention",
        metavar="AGE",
        help="delete an index this long after its rollover: 14d, 36h, 30m (default "
        "$KUBETRAIL_RETENTION_DAYS days, or 14d)",
    )
    retention.add_argument(
        "--retention-days", type=int, metavar="N", help="the same as --retention Nd"
    )
    p.add_argument(
        "--rollover-age",
        metavar="AGE",
        default="1d",
        help="roll over at this index age: 1d, 12h, 30m (default 1d)",
    )
    p.add_argument(
        "--rollover-size",
        default="30gb",
        help="or at this primary shard size (default 30gb)",
    )
    p.add_argument(
        "--rollover-docs",
        type=int,
        metavar="N",
        help="or at this many documents (default: no count limit)",
    )
    p.add_argument("--shards", type=int, default=1, help="primary shards per index (default 1)")
    p.add_argument("--replicas", type=int, default=1, help="replicas per shard (default 1)")
    p.add_argument(
        "--ca-cert",
        metavar="FILE",
        help="CA certificate (PEM) to verify TLS with (default $KUBETRAIL_OPENSEARCH_CA_CERT)",
    )
    p.add_argument(
        "--insecure",
        action="store_true",
        help="do not verify the TLS certificate (testing only; $KUBETRAIL_OPENSEARCH_INSECURE)",
    )
    p.add_argument("--api-key", help="API key (default $KUBETRAIL_OPENSEARCH_API_KEY)")
    p.add_argument(
        "--dry-run", action="store_true", help="print the requests it would send; write nothing"
    )
    p.add_argument(
        "--dashboards-url",
        metavar="URL",
        help="also import kubetrail's saved objects (index pattern, the 'Kubernetes incident "
        "triage' dashboard, saved searches) into this OpenSearch Dashboards, e.g. "
        "http://localhost:5601 (with its base path, if any); overwrites them by id",
    )
    p.add_argument(
        "--dashboards-tenant",
        metavar="TENANT",
        help="security plugin tenant to import into (global, private or a tenant name)",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from opensearchpy.exceptions import ConnectionError as OSConnectionError

    from kubetrail.store.opensearch.client import make_client
    from kubetrail.store.opensearch.errors import describe_error
    from kubetrail.store.opensearch.setup import SetupError, setup
    from kubetrail.store.opensearch.templates import DEFAULT_PREFIX, TemplateParams

    url = parse_store_url(args.store or settings.store_url)
    if url.scheme == "sqlite":
        raise CommandError("setup is for OpenSearch stores; the embedded store needs none")
    if args.dashboards_tenant and not args.dashboards_url:
        raise CommandError("--dashboards-tenant needs --dashboards-url")
    prefix = args.prefix or settings.opensearch.prefix or DEFAULT_PREFIX
    saved_objects = _render_dashboards(args.dashboards_url, prefix) if args.dashboards_url else None
    try:
        params = TemplateParams(
            prefix=prefix,
            retention=_retention(args, settings),
            rollover_age=args.rollover_age,
            rollover_size=args.rollover_size,
            rollover_docs=args.rollover_docs,
            shards=args.shards,
            replicas=args.replicas,
        )
        api_key = args.api_key or settings.opensearch.api_key
        if not api_key:
            url = url.with_credentials(settings.opensearch.user, settings.opensearch.password)
        client = make_client(
            url,
            ca_cert=args.ca_cert or settings.opensearch.ca_cert,
            insecure=args.insecure or settings.opensearch.insecure,
            api_key=api_key,
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    try:
        setup(client, params, dry_run=args.dry_run, report=print)
    except SetupError as exc:
        raise CommandError(str(exc)) from None
    except OSConnectionError as exc:
        if not args.dry_run:
            raise CommandError(describe_error(exc, url)) from None
        _dry_run_on_a_fresh_cluster(params, unreachable=describe_error(exc, url))
    finally:
        client.close()
    if saved_objects is not None:
        _import_dashboards(args, saved_objects, prefix=prefix, store_url=url, api_key=api_key)
    return 0


def _dry_run_on_a_fresh_cluster(params: TemplateParams, *, unreachable: str) -> None:
    """``--dry-run`` without a reachable cluster: the requests for a fresh one."""
    from kubetrail.store.opensearch.fresh import FRESH_VERSION, fresh_cluster_client
    from kubetrail.store.opensearch.setup import setup

    print(
        f"kubetrail: warning: {unreachable}; showing what setup would send to a fresh "
        f"OpenSearch {FRESH_VERSION} cluster with the ISM plugin",
        file=sys.stderr,
    )
    client = fresh_cluster_client()
    try:
        setup(client, params, dry_run=True, report=print)
    finally:
        client.close()


def _retention(args: argparse.Namespace, settings: Settings) -> str:
    if args.retention is not None:
        return str(args.retention)
    days = args.retention_days if args.retention_days is not None else settings.retention_days
    return f"{days}d"


def _render_dashboards(dashboards_url: str, prefix: str) -> bytes:
    """The saved objects for ``prefix``, checked before anything is written."""
    from kubetrail.store.opensearch.dashboards import check_url, render_saved_objects

    try:
        check_url(dashboards_url)
        return render_saved_objects(prefix)
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def _import_dashboards(
    args: argparse.Namespace,
    ndjson: bytes,
    *,
    prefix: str,
    store_url: StoreURL,
    api_key: str | None,
) -> None:
    """Import into ``--dashboards-url`` (or, with ``--dry-run``, say what would be)."""
    from urllib.parse import urlsplit

    from kubetrail.store.opensearch.dashboards import (
        DashboardsError,
        dashboard_url,
        describe_objects,
        import_saved_objects,
        redact_url,
    )

    base = redact_url(args.dashboards_url).rstrip("/")
    tenant = f" (tenant {args.dashboards_tenant})" if args.dashboards_tenant else ""
    if args.dry_run:
        objects = describe_objects(ndjson)
        print(f"dashboards: would import {len(objects)} saved objects into {base}{tenant}")
        for line in objects:
            print(f"  would import: {line}")
        print(f"  would send: POST {base}/api/saved_objects/_import?overwrite=true")
        return
    # credentials: the Dashboards URL's own, else the store's (the security plugin's users)
    own = urlsplit(args.dashboards_url).username is not None
    auth = None
    if not own and not api_key and store_url.username:
        auth = (store_url.username, store_url.password or "")
    tls = urlsplit(args.dashboards_url).scheme == "https"
    try:
        lines = import_saved_objects(
            args.dashboards_url,
            ndjson,
            auth=auth,
            api_key=None if own else api_key,
            tenant=args.dashboards_tenant,
            ca_cert=args.ca_cert if tls else None,
            insecure=args.insecure if tls else False,
        )
    except (DashboardsError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    for line in lines:
        print(line)
    print(f"dashboard: {dashboard_url(args.dashboards_url, prefix)}")
