"""The ``kubetrail`` command line.

Exit codes: 0 success; 1 finished but some input was rejected; 2 the command
could not run (bad arguments, unknown or unreachable store, busy port). Errors
are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import orjson

from kubetrail import __version__
from kubetrail.config import ConfigError, Settings
from kubetrail.store import (
    DEFAULT_STORE_URL,
    Store,
    StoreError,
    StoreURL,
    open_store,
    parse_store_url,
)
from kubetrail.store.url import MAX_RETENTION_DAYS

DEMO_STORE_URL = "sqlite:///./kubetrail-demo.db"
MAX_REPORTED_REJECTIONS = 50


class CommandError(Exception):
    """Stops a command with one line on stderr and exit code 2."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        settings = Settings.from_env()
        return args.handler(args, settings)
    except (CommandError, ConfigError, StoreError) as exc:
        print(f"kubetrail: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kubetrail: interrupted", file=sys.stderr)
        return 130


def mcp_server_main() -> int:
    """``k8s-audit-server``: the original toolkit's name for ``kubetrail mcp`` (stdio)."""
    return main(["mcp", *sys.argv[1:]])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubetrail",
        description="What happened in this Kubernetes cluster, and why.",
        epilog=f"Store URLs: sqlite:///path.db (default {DEFAULT_STORE_URL}, or $KUBETRAIL_STORE).",
    )
    parser.add_argument("--version", action="version", version=f"kubetrail {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    from kubetrail.shipper.command import add_ship_parser

    add_ship_parser(sub)

    p = sub.add_parser(
        "demo",
        help="load a built-in incident into an embedded store and serve the API (no cluster)",
        description="Generate a realistic incident (bad rollout, CrashLoopBackOff, OOMKilled, "
        "image pull failure, pending PVC, NotReady node, config and secret changes), load it "
        "into an embedded store and serve the REST API.",
    )
    p.add_argument("--store", help=f"store URL (default: a fresh {DEMO_STORE_URL})")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    p.add_argument(
        "--write-events",
        metavar="FILE",
        help="also write the incident's watch events as JSON lines",
    )
    p.add_argument("--no-serve", action="store_true", help="load the incident, do not serve")
    p.set_defaults(handler=cmd_demo)

    p = sub.add_parser(
        "ingest",
        help="load watch events from JSON-lines or kubectl output files",
        description="Load watch events (kubectl get -A --watch --output-watch-events -o json, "
        "JSON lines, kubetrail documents, kubectl get -o json lists) into a store. "
        "'-' reads standard input. Exit code 1 when some lines were rejected.",
    )
    p.add_argument("files", nargs="+", metavar="FILE")
    _store_arg(p)
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
        help="processes reading and normalising in parallel (default: one per CPU; "
        "1 = all in this process). Used with the embedded store",
    )
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(handler=cmd_ingest)

    p = sub.add_parser(
        "api", help="serve the REST API", description="Serve the REST API over a store."
    )
    _store_arg(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.set_defaults(handler=cmd_api)

    p = sub.add_parser(
        "export",
        help="write stored events as JSON lines (re-importable with ingest)",
        description="Write stored event documents as JSON lines, oldest first.",
    )
    _store_arg(p)
    p.add_argument("--start", help="RFC3339 lower bound (default: everything)")
    p.add_argument("--end", help="RFC3339 upper bound (default: now)")
    p.add_argument("--output", "-o", default="-", help="file to write (default: standard output)")
    p.set_defaults(handler=cmd_export)

    p = sub.add_parser(
        "prune",
        help="delete events older than the retention",
        description="Delete events older than --days (default $KUBETRAIL_RETENTION_DAYS or 14).",
    )
    _store_arg(p)
    p.add_argument("--days", type=int, help="retention in days")
    p.set_defaults(handler=cmd_prune)

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
        help="opensearch+http(s)://[user:pass@]host:port (default $KUBETRAIL_STORE)",
    )
    p.add_argument("--prefix", default="kubetrail-events", help="index prefix and write alias name")
    p.add_argument(
        "--retention-days",
        type=int,
        help="delete indices this many days after rollover (default $KUBETRAIL_RETENTION_DAYS "
        "or 14)",
    )
    p.add_argument("--rollover-age", default="1d", help="roll over at this index age (default 1d)")
    p.add_argument(
        "--rollover-size",
        default="30gb",
        help="or at this primary shard size (default 30gb)",
    )
    p.add_argument("--shards", type=int, default=1, help="primary shards per index (default 1)")
    p.add_argument("--replicas", type=int, default=1, help="replicas per shard (default 1)")
    p.add_argument("--ca-cert", metavar="FILE", help="CA certificate (PEM) to verify TLS with")
    p.add_argument(
        "--insecure", action="store_true", help="do not verify the TLS certificate (testing only)"
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
    p.set_defaults(handler=cmd_setup)

    p = sub.add_parser(
        "mcp",
        help="serve the MCP server (Claude Desktop: stdio; --http: streamable HTTP)",
        description="Serve kubetrail's diagnostics, resources and prompts over the Model "
        "Context Protocol. By default it answers from the REST API (--api-url, "
        "$AUDIT_API_URL or http://localhost:8080; $KUBETRAIL_API_TOKEN is sent as a bearer "
        "token) and talks MCP over stdio, as Claude Desktop expects. Also installed as "
        "k8s-audit-server.",
        epilog="--http serves the streamable HTTP transport on /mcp; clients must send "
        "Authorization: Bearer $KUBETRAIL_API_TOKEN (--no-auth: none, loopback only).",
    )
    source = p.add_mutually_exclusive_group()
    source.add_argument("--store", help="open this store directly instead of asking the REST API")
    source.add_argument(
        "--api-url",
        help="kubetrail REST API (default $AUDIT_API_URL or http://localhost:8080)",
    )
    p.add_argument("--http", action="store_true", help="serve streamable HTTP instead of stdio")
    p.add_argument("--host", default="127.0.0.1", help="--http address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8081, help="--http port (default 8081)")
    p.add_argument(
        "--no-auth",
        action="store_true",
        help="--http without a bearer token (refused unless --host is a loopback address)",
    )
    p.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    p.set_defaults(handler=cmd_mcp)
    return parser


def _store_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", help=f"store URL (default $KUBETRAIL_STORE or {DEFAULT_STORE_URL})")


def _open(url: str) -> Store:
    return open_store(url)


# -- ingest ----------------------------------------------------------------------


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from kubetrail.ingest.parallel import WorkerDied, default_workers
    from kubetrail.ingest.pipeline import ingest_files

    if args.batch_size < 1:
        raise CommandError("--batch-size must be at least 1")
    if args.workers is not None and not 1 <= args.workers <= 64:
        raise CommandError("--workers must be between 1 and 64")
    workers = args.workers or default_workers()
    url = args.store or settings.store_url
    parse_store_url(url)  # a wrong URL is the first thing to say, before any file check
    missing = [f for f in args.files if f != "-" and not Path(f).is_file()]
    if missing:
        raise CommandError(f"no such file: {missing[0]}")
    store = open_store(url, bulk=True)
    total = sum(Path(f).stat().st_size for f in args.files if f != "-")
    show_bar = not args.quiet and sys.stderr.isatty()
    with tqdm(
        total=total or None,
        unit="B",
        unit_scale=True,
        desc="ingest",
        disable=not show_bar,
        file=sys.stderr,
    ) as bar:
        report = _Reporter(lambda line: tqdm.write(line, file=sys.stderr))
        try:
            stats = ingest_files(
                args.files,
                store,
                policy=settings.redaction_policy(),
                batch_size=args.batch_size,
                report=report,
                on_bytes=bar.update,
                workers=workers,
            )
        except WorkerDied as exc:
            raise CommandError(str(exc)) from None
        finally:
            store.close()
    report.finish()
    print(f"kubetrail: {stats.summary()}", file=sys.stderr)
    return 1 if stats.rejected else 0


class _Reporter:
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


# -- api -----------------------------------------------------------------------


def _check_port_free(host: str, port: int) -> None:
    if not 0 < port < 65536:
        raise CommandError(f"--port {port} is not a TCP port (1-65535)")
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def serve(
    store: Store, settings: Settings, *, host: str, port: int, log_level: str = "info"
) -> None:
    import uvicorn

    from kubetrail.api.app import create_app

    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    uvicorn.run(create_app(store, settings), host=host, port=port, log_level=log_level)


def cmd_api(args: argparse.Namespace, settings: Settings) -> int:
    _check_port_free(args.host, args.port)
    store = _open(args.store or settings.store_url)
    try:
        serve(store, settings, host=args.host, port=args.port, log_level=args.log_level)
    finally:
        store.close()
    return 0


# -- mcp -----------------------------------------------------------------------


def cmd_mcp(args: argparse.Namespace, settings: Settings) -> int:
    import os

    from kubetrail.mcp import RestBackend, StoreBackend, build_server
    from kubetrail.mcp.transport import configure_logging, is_loopback, run_http, run_stdio

    token = os.environ.get("KUBETRAIL_API_TOKEN") or None
    if args.http:
        _check_port_free(args.host, args.port)
        if args.no_auth and not is_loopback(args.host):
            raise CommandError(
                f"--no-auth is only allowed on a loopback address, not {args.host}: "
                "set KUBETRAIL_API_TOKEN instead"
            )
        if not token and not args.no_auth:
            raise CommandError(
                "--http needs a bearer token: set KUBETRAIL_API_TOKEN "
                "(or --no-auth on 127.0.0.1 for local testing)"
            )
    configure_logging(args.log_level)
    if args.store:
        backend: StoreBackend | RestBackend = StoreBackend(_open(args.store), location=args.store)
    else:
        backend = RestBackend.from_env(args.api_url)
    try:
        server = build_server(backend)
        if args.http:
            run_http(
                server,
                host=args.host,
                port=args.port,
                token=None if args.no_auth else token,
                log_level=args.log_level,
            )
        else:
            run_stdio(server)
    finally:
        backend.close()
    return 0


# -- demo ----------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from kubetrail.demo.incident import generate_incident
    from kubetrail.events.timing import utcnow
    from kubetrail.ingest.pipeline import ingest_values
    from kubetrail.ingest.reader import Record

    if not args.no_serve:
        _check_port_free(args.host, args.port)
    url = args.store or DEMO_STORE_URL
    if args.store is None:
        _remove_sqlite_files(Path(url.removeprefix("sqlite:///")))
    events = generate_incident(anchor=utcnow())
    if args.write_events:
        with open(args.write_events, "wb") as fh:
            for event in events:
                fh.write(orjson.dumps(event) + b"\n")
    store = _open(url)
    try:
        records = (
            Record(value=e, source="demo", line=i, end_line=i) for i, e in enumerate(events, 1)
        )
        report = _Reporter(lambda line: print(line, file=sys.stderr))
        stats = ingest_values(records, store, policy=settings.redaction_policy(), report=report)
        print(f"kubetrail demo: loaded a built-in incident into {url}: {stats.summary()}")
        if args.no_serve:
            return 1 if stats.rejected else 0
        print(_try_next(args.host, args.port, url))
        serve(store, settings, host=args.host, port=args.port)
    finally:
        store.close()
    return 0


def _remove_sqlite_files(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        candidate = path.with_name(path.name + suffix)
        if candidate.exists():
            candidate.unlink()


def _try_next(host: str, port: int, url: str) -> str:
    base = f"http://{host}:{port}"
    mcp = {
        "mcpServers": {"k8s-audit": {"command": "k8s-audit-server", "env": {"AUDIT_API_URL": base}}}
    }
    return f"""
The API is starting on {base} (Ctrl-C stops it). Try:

  curl -s '{base}/health'
  curl -s '{base}/api/v1/events?namespace=shop&resourceType=pods&limit=5'
  curl -s '{base}/api/v1/events?signal=pod.waiting:CrashLoopBackOff'
  curl -s '{base}/api/v1/events?signal=pod.lastTerminated:OOMKilled'
  curl -s '{base}/api/v1/events?resourceType=events&q=FailedScheduling'
  curl -s '{base}/api/v1/events?snapshot=false&resourceType=configmaps&resourceType=secrets'
  curl -s '{base}/api/v1/events/_/nodes/worker-3'
  curl -s '{base}/api/v1/events/data/persistentvolumeclaims/postgres-data'
  open {base}/docs   (the OpenAPI explorer)

Claude Desktop: add this to claude_desktop_config.json (macOS: ~/Library/Application
Support/Claude/, Windows: %APPDATA%\\Claude\\, Linux: ~/.config/Claude/) and restart it:
{orjson.dumps(mcp, option=orjson.OPT_INDENT_2).decode()}
Or try the MCP tools from a terminal (Node.js):
  npx -y @modelcontextprotocol/inspector --cli -e AUDIT_API_URL={base} \\
      k8s-audit-server --method tools/list

The data stays in {url}: `kubetrail api --store {url}` serves it again.
"""


# -- export / prune --------------------------------------------------------------


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
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
        store = _open(args.store or settings.store_url)
        try:
            cursor = None
            while True:
                page = store.search(
                    EventQuery(filter=EventFilter(start=start, end=end), limit=1000, after=cursor)
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


def cmd_prune(args: argparse.Namespace, settings: Settings) -> int:
    from kubetrail.events.timing import utcnow
    from kubetrail.store.retention import enforce_retention

    days = args.days if args.days is not None else settings.retention_days
    if not 1 <= days <= MAX_RETENTION_DAYS:
        raise CommandError(f"--days must be from 1 to {MAX_RETENTION_DAYS}, got {days}")
    store = _open(args.store or settings.store_url)
    try:
        result = enforce_retention(store, days=days, now=utcnow())
    finally:
        store.close()
    for index in result.deleted_indices:
        print(
            f"kubetrail: deleted index {index} (all events older than {days} days)", file=sys.stderr
        )
    print(
        f"kubetrail: deleted {result.deleted_events} events older than {days} days", file=sys.stderr
    )
    return 0


# -- setup -----------------------------------------------------------------------


def cmd_setup(args: argparse.Namespace, settings: Settings) -> int:
    from opensearchpy.exceptions import ConnectionError as OSConnectionError

    from kubetrail.store.os_client import (
        api_key_from_env,
        describe_error,
        make_client,
        with_env_credentials,
    )
    from kubetrail.store.os_setup import SetupError, setup
    from kubetrail.store.os_templates import TemplateParams

    url = parse_store_url(args.store or settings.store_url)
    if url.scheme == "sqlite":
        raise CommandError("setup is for OpenSearch stores; the embedded store needs none")
    if args.dashboards_tenant and not args.dashboards_url:
        raise CommandError("--dashboards-tenant needs --dashboards-url")
    saved_objects = _render_dashboards(args) if args.dashboards_url else None
    try:
        params = TemplateParams(
            prefix=args.prefix,
            retention_days=(
                args.retention_days if args.retention_days is not None else settings.retention_days
            ),
            rollover_age=args.rollover_age,
            rollover_size=args.rollover_size,
            shards=args.shards,
            replicas=args.replicas,
        )
        api_key = args.api_key or api_key_from_env()
        if not api_key:
            url = with_env_credentials(url)
        client = make_client(url, ca_cert=args.ca_cert, insecure=args.insecure, api_key=api_key)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    try:
        setup(client, params, dry_run=args.dry_run, report=print)
    except SetupError as exc:
        raise CommandError(str(exc)) from None
    except OSConnectionError as exc:
        raise CommandError(describe_error(exc, url)) from None
    finally:
        client.close()
    if saved_objects is not None:
        _import_dashboards(args, saved_objects, url, api_key)
    return 0


def _render_dashboards(args: argparse.Namespace) -> bytes:
    """The saved objects for ``--prefix``, checked before anything is written."""
    from kubetrail.store.os_dashboards import check_url, render_saved_objects

    try:
        check_url(args.dashboards_url)
        return render_saved_objects(args.prefix)
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def _import_dashboards(
    args: argparse.Namespace, ndjson: bytes, store_url: StoreURL, api_key: str | None
) -> None:
    """Import into ``--dashboards-url`` (or, with ``--dry-run``, say what would be)."""
    from urllib.parse import urlsplit

    from kubetrail.store.os_dashboards import (
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
    print(f"dashboard: {dashboard_url(args.dashboards_url, args.prefix)}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
