"""The ``kubetrail`` command line.

One module per command, each with ``register(subparsers)`` adding its parser and
handler; what they share (the error type, ``--store``, the port check, logging)
is in :mod:`kubetrail.cli.common`. Handlers import their heavy dependencies
(uvicorn, the MCP SDK, the Kubernetes client) when they run, so ``--help`` stays fast.

Exit codes: 0 success; 1 finished but some input was rejected; 2 the command
could not run (bad arguments, unknown or unreachable store, busy port). Errors
are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from kubetrail import __version__
from kubetrail.cli import api, demo, export, ingest, mcp, prune, setup, ship
from kubetrail.cli.common import CommandError
from kubetrail.config import ConfigError, Settings
from kubetrail.store import DEFAULT_STORE_URL, StoreError

#: in the order ``kubetrail --help`` lists them
COMMANDS = (ship, demo, ingest, api, export, prune, setup, mcp)


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
        epilog=f"Store URLs (--store, or $KUBETRAIL_STORE; default {DEFAULT_STORE_URL}): "
        "sqlite:///relative/path.db or sqlite:////absolute/path.db for the embedded store; "
        "opensearch+http(s)://[user:pass@]host:port[,host:port...] for OpenSearch "
        "(prepare it once with kubetrail setup).",
    )
    parser.add_argument("--version", action="version", version=f"kubetrail {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return parser


__all__ = ["CommandError", "build_parser", "main", "mcp_server_main"]
