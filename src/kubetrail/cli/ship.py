"""``kubetrail ship``: the shipper as a long-running process.

Loads the shipper's config (the original ``resources.yaml`` plus kubetrail's keys),
checks the ports and the API server before anything starts, then runs the
:class:`~kubetrail.shipper.service.Shipper` until SIGTERM or SIGINT. With
``--api-port`` the same process also serves the REST API over the store it writes
to (the original watch-server shape); that wiring lives here, so the shipper
package knows nothing of the API.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import signal
import threading

from kubetrail.cli.common import (
    LOG_LEVELS,
    CommandError,
    JsonFormatter,
    SubParsers,
    check_port_free,
    configure_logging,
    open_store_from,
)
from kubetrail.config import Settings
from kubetrail.store import Store

#: the shipper's own lines carry a time: it runs for weeks
SHIP_TEXT_FORMAT = "%(asctime)s %(levelname)s %(message)s"
#: one line per request otherwise
NOISY_LOGGERS = ("urllib3", "kubernetes", "opensearch")

log = logging.getLogger("kubetrail.shipper")


def register(sub: SubParsers) -> None:
    p = sub.add_parser(
        "ship",
        help="watch every resource of a cluster and ship each change to the store",
        description="Watch every resource kind (CRDs included, followed at runtime) and write each "
        "change as an event document. Survives watch restarts, store outages (disk spool) and "
        "crashes (checkpoints) without losing events. Config: the original resources.yaml "
        "($CONFIG_PATH, default /config/resources.yaml) plus kubetrail's keys.",
    )
    p.add_argument(
        "--store", help="store URL (default: config 'store', $KUBETRAIL_STORE, or sqlite)"
    )
    p.add_argument(
        "--kubeconfig", help="kubeconfig file (default: in-cluster, then ~/.kube/config)"
    )
    p.add_argument("--context", help="kubeconfig context")
    p.add_argument(
        "--config", help="resources.yaml (default $CONFIG_PATH or /config/resources.yaml)"
    )
    p.add_argument(
        "--spool-dir", help="spool and checkpoint directory (default: config 'spoolDir')"
    )
    p.add_argument(
        "--api-port",
        type=int,
        nargs="?",
        const=0,
        help="also serve the REST API from this process (the original watch-server shape); "
        "without a number: on the config's serverPort (default 8080)",
    )
    p.add_argument(
        "--api-host", default="0.0.0.0", help="address of the REST API (default 0.0.0.0)"
    )
    p.add_argument(
        "--metrics-port", type=int, default=9090, help="/metrics, /healthz, /readyz port (0: off)"
    )
    p.add_argument("--metrics-host", default="0.0.0.0", help="address of the metrics endpoint")
    p.add_argument("--log-format", choices=("json", "text"), default="text", help="log line format")
    p.add_argument("--log-level", default="info", choices=LOG_LEVELS)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from kubetrail.shipper.config import ShipperConfigError, load_config
    from kubetrail.shipper.kube import Kube, KubeError, load_client
    from kubetrail.shipper.service import Shipper

    configure_logging(
        args.log_level,
        formatter=(
            JsonFormatter() if args.log_format == "json" else logging.Formatter(SHIP_TEXT_FORMAT)
        ),
        quiet=NOISY_LOGGERS,
    )
    try:
        config = load_config(args.config or settings.shipper_config_path)
    except ShipperConfigError as exc:
        raise CommandError(str(exc)) from None
    if config.extra:
        log.warning("unknown config keys ignored: %s", ", ".join(sorted(config.extra)))
    if args.spool_dir:
        config = dataclasses.replace(config, spool_dir=args.spool_dir)
    if args.api_port == 0:
        args.api_port = config.server_port
    for port, host in (
        (args.api_port, args.api_host),
        (args.metrics_port or None, args.metrics_host),
    ):
        if port:
            check_port_free(host, port)
    try:
        kube = Kube(load_client(kubeconfig=args.kubeconfig, context=args.context))
        kube.get("/version", timeout=10)
    except KubeError as exc:
        raise CommandError(str(exc)) from None
    url = args.store or config.store or settings.store_url
    store = open_store_from(url, settings)
    # the config file's redaction section wins over $KUBETRAIL_REDACTION
    policy = config.redaction_policy(settings.redaction_key, otherwise=settings.redaction)
    shipper = Shipper(kube=kube, store=store, config=config, policy=policy)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        shipper.start()
        if args.metrics_port:
            shipper.serve_endpoints(args.metrics_host, args.metrics_port)
        if args.api_port:
            api_settings = dataclasses.replace(settings, max_query_limit=config.max_query_limit)
            _serve_api_in_thread(store, api_settings, host=args.api_host, port=args.api_port)
        log.info(
            "shipping %d resources from %s to %s",
            len(shipper.watchers),
            kube.server,
            url.split("@")[-1],
        )
        stop.wait()
    finally:
        shipper.stop()
        store.close()
    return 0


def _serve_api_in_thread(store: Store, settings: Settings, *, host: str, port: int) -> None:
    """The REST API on a daemon thread. The main thread keeps SIGTERM and SIGINT:
    uvicorn (0.29 and later) captures signals only when it runs on the main thread."""
    import uvicorn

    from kubetrail.api.app import create_app

    server = uvicorn.Server(
        uvicorn.Config(create_app(store, settings), host=host, port=port, log_level="warning")
    )
    threading.Thread(target=server.run, name="api", daemon=True).start()
