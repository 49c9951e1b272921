"""``kubetrail api``: serve the REST API and the web UI over a store.

:func:`serve` runs uvicorn in the foreground until Ctrl-C; ``kubetrail demo`` uses
it too, after loading its incident.
"""

from __future__ import annotations

import argparse
import dataclasses

from kubetrail.cli.common import (
    SubParsers,
    add_allowed_host_option,
    add_log_level_option,
    add_store_option,
    add_tls_options,
    check_port_free,
    configure_logging,
    open_store_from,
    tls_options,
    with_allowed_hosts,
)
from kubetrail.config import Settings
from kubetrail.store import Store


def register(sub: SubParsers) -> None:
    p = sub.add_parser(
        "api",
        help="serve the REST API and the web UI",
        description="Serve the REST API (/api/v1) and the read-only web UI (/ui/) over a store.",
    )
    add_store_option(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    add_allowed_host_option(p)
    add_log_level_option(p, default="info")
    p.add_argument(
        "--accept-audit",
        action="store_true",
        help="take the API server's audit webhook (POST /api/v1/audit) and join who made "
        "each change to the stored versions; the store is then opened for writing",
    )
    add_tls_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    settings = with_allowed_hosts(settings, args)
    if args.accept_audit:
        settings = dataclasses.replace(settings, accept_audit=True)
    check_port_free(args.host, args.port)
    tls = tls_options(args)
    store = open_store_from(
        args.store or settings.store_url, settings, read_only=not args.accept_audit
    )
    try:
        serve(store, settings, host=args.host, port=args.port, log_level=args.log_level, tls=tls)
    finally:
        store.close()
    return 0


def serve(
    store: Store,
    settings: Settings,
    *,
    host: str,
    port: int,
    log_level: str = "info",
    tls: tuple[str | None, str | None] = (None, None),
) -> None:
    """The REST API and the web UI (``/ui/``) over ``store`` on ``host:port``, until
    interrupted; HTTPS with ``tls`` (:func:`~kubetrail.cli.common.tls_options`)."""
    import uvicorn

    from kubetrail.api.app import create_app
    from kubetrail.gc_tuning import FULL_EVERY, few_collections
    from kubetrail.ui import install

    configure_logging(log_level)
    app = create_app(store, settings)
    install(app)  # the UI is the API's sibling: mounted here, not imported by the API
    with few_collections(full_every=FULL_EVERY):
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_level=log_level,
            ssl_certfile=tls[0],
            ssl_keyfile=tls[1],
        )
