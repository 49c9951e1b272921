"""``kubetrail mcp`` (alias ``k8s-audit-server``): serve the MCP server.

By default the server answers from the REST API (``--api-url``, ``$AUDIT_API_URL``)
and speaks MCP over stdio, as Claude Desktop expects; ``--store`` opens a store
directly instead. ``--http`` serves the streamable HTTP transport, which needs a
bearer token (``$KUBETRAIL_API_TOKEN``, or the file ``$KUBETRAIL_API_TOKEN_FILE``, read at
start) unless ``--no-auth`` on a loopback address.
On stdio, standard output is the protocol: logging goes to standard error only.
"""

from __future__ import annotations

import argparse

from kubetrail.auth import TokenSource
from kubetrail.cli.common import (
    CommandError,
    SubParsers,
    add_allowed_host_option,
    add_log_level_option,
    check_port_free,
    configure_logging,
    open_store_from,
    with_allowed_hosts,
)
from kubetrail.config import Settings


def register(sub: SubParsers) -> None:
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
    add_allowed_host_option(p)
    add_log_level_option(p, default="warning")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    settings = with_allowed_hosts(settings, args)
    from kubetrail.gc_tuning import FULL_EVERY, few_collections
    from kubetrail.mcp import RestBackend, StoreBackend, build_server
    from kubetrail.mcp.transport import is_loopback, run_http, run_stdio

    # $KUBETRAIL_API_TOKEN_FILE (a mounted Secret) is read once, here: restart after rotating
    token = TokenSource(token=settings.api_token, path=settings.api_token_file).current()
    if args.http:
        check_port_free(args.host, args.port)
        if args.no_auth and not is_loopback(args.host):
            raise CommandError(
                f"--no-auth is only allowed on a loopback address, not {args.host}: "
                "set KUBETRAIL_API_TOKEN instead"
            )
        if not token and not args.no_auth:
            raise CommandError(
                "--http needs a bearer token: set KUBETRAIL_API_TOKEN or "
                "KUBETRAIL_API_TOKEN_FILE (or --no-auth on 127.0.0.1 for local testing)"
            )
    # httpx logs one line per request to the REST API at info
    configure_logging(args.log_level, quiet=() if args.log_level == "debug" else ("httpx",))
    if args.store:
        backend: StoreBackend | RestBackend = StoreBackend(
            open_store_from(args.store, settings, read_only=True), location=args.store
        )
    else:
        backend = RestBackend(
            args.api_url or settings.api_url, token, policy=settings.redaction_policy()
        )
    try:
        server = build_server(backend)
        with few_collections(full_every=FULL_EVERY):  # diagnostics run here: see gc_tuning
            if args.http:
                run_http(
                    server,
                    host=args.host,
                    port=args.port,
                    token=None if args.no_auth else token,
                    allowed_hosts=settings.allowed_hosts,
                    log_level=args.log_level,
                )
            else:
                run_stdio(server)
    finally:
        backend.close()
    return 0
