"""``kubetrail api``: serve the REST API over a store.

:func:`serve` runs uvicorn in the foreground until Ctrl-C; ``kubetrail demo`` uses
it too, after loading its incident.
"""

from __future__ import annotations

import argparse

from kubetrail.cli.common import (
    LOG_LEVELS,
    SubParsers,
    add_allowed_host_option,
    add_store_option,
    check_port_free,
    configure_logging,
    open_store_from,
    with_allowed_hosts,
)
from kubetrail.config import Settings
from kubetrail.store import Store


def register(sub: SubParsers) -> None:
    p = sub.add_parser(
        "api", help="serve the REST API", description="Serve the REST API over a store."
    )
    add_store_option(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    add_allowed_host_option(p)
    p.add_argument("--log-level", default="info", choices=LOG_LEVELS)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    settings = with_allowed_hosts(settings, args)
    check_port_free(args.host, args.port)
    store = open_store_from(args.store or settings.store_url, settings, read_only=True)
    try:
        serve(store, settings, host=args.host, port=args.port, log_level=args.log_level)
    finally:
        store.close()
    return 0


def serve(
    store: Store, settings: Settings, *, host: str, port: int, log_level: str = "info"
) -> None:
    """The REST API over ``store`` on ``host:port``, until interrupted."""
    import uvicorn

    from kubetrail.api.app import create_app

    configure_logging(log_level)
    uvicorn.run(create_app(store, settings), host=host, port=port, log_level=log_level)
