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
    CommandError,
    JsonFormatter,
    SubParsers,
    add_log_level_option,
    add_tls_options,
    check_port_free,
    configure_logging,
    open_store_from,
    tls_options,
)
from kubetrail.config import DEFAULT_STORE_URL, Settings
from kubetrail.store import Store

#: the shipper's own lines carry a time: it runs for weeks
SHIP_TEXT_FORMAT = "%(asctime)s %(levelname)s %(message)s"
#: one line per request otherwise
NOISY_LOGGERS = ("urllib3", "kubernetes", "opensearch")
#: urllib3 warns of each retry of a request; the shipper says itself what failed and when it
#: tries again (a watch restart, the startup check), in one line
RETRY_LOGGER = "urllib3.connectionpool"
#: said at every start without KUBETRAIL_REDACTION_KEY (the built-in key is in the source)
DEFAULT_KEY_WARNING = (
    "KUBETRAIL_REDACTION_KEY is not set: Secret values are replaced by hashes keyed with "
    "kubetrail's built-in key, which is public, so whoever reads the store can test guesses "
    "of short values against them; set a random key (openssl rand -hex 32) and keep it"
)

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
        "--store",
        help="store URL (default: the config's 'store', else $KUBETRAIL_STORE, else "
        f"{DEFAULT_STORE_URL})",
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
    add_tls_options(p, what="the REST API (--api-port)")
    p.add_argument(
        "--metrics-port", type=int, default=9090, help="/metrics, /healthz, /readyz port (0: off)"
    )
    p.add_argument("--metrics-host", default="0.0.0.0", help="address of the metrics endpoint")
    p.add_argument("--log-format", choices=("json", "text"), default="text", help="log line format")
    add_log_level_option(p, default="info")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from kubetrail.shipper.config import ShipperConfigError, load_config
    from kubetrail.shipper.endpoints import Endpoints
    from kubetrail.shipper.kube import KubeError, connect
    from kubetrail.shipper.service import Shipper

    configure_logging(
        args.log_level,
        formatter=(
            JsonFormatter() if args.log_format == "json" else logging.Formatter(SHIP_TEXT_FORMAT)
        ),
        quiet=NOISY_LOGGERS,
    )
    logging.getLogger(RETRY_LOGGER).setLevel(logging.ERROR)
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
    tls = tls_options(args)
    # probes get an answer ("starting") while the store opens (and migrates) and discovery
    # runs: a pod that answered only afterwards would be killed by its startup probe
    endpoints = Endpoints(args.metrics_host, args.metrics_port) if args.metrics_port else None
    try:
        kube = connect(kubeconfig=args.kubeconfig, context=args.context)
        kube.check_server(timeout=10)
    except KubeError as exc:
        raise CommandError(str(exc)) from None
    url = args.store or config.store or settings.store_url
    store = open_store_from(url, settings)
    # the config file's redaction section wins over $KUBETRAIL_REDACTION
    policy = config.redaction_policy(settings.redaction_key, otherwise=settings.redaction)
    if not settings.redaction_key:
        log.warning(DEFAULT_KEY_WARNING)
    shipper = Shipper(kube=kube, store=store, config=config, policy=policy)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        shipper.start()
        if endpoints is not None:
            endpoints.attach(shipper.health())
        if args.api_port:
            # the shipper's own store: the API server's audit webhook may write to it
            api_settings = dataclasses.replace(
                settings, max_query_limit=config.max_query_limit, accept_audit=True
            )
            _serve_api_in_thread(
                store, api_settings, host=args.api_host, port=args.api_port, tls=tls
            )
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
        if endpoints is not None:
            endpoints.close()
    return 0


def _serve_api_in_thread(
    store: Store, settings: Settings, *, host: str, port: int, tls: tuple[str | None, str | None]
) -> None:
    """The REST API on a daemon thread. The main thread keeps SIGTERM and SIGINT:
    uvicorn (0.29 and later) captures signals only when it runs on the main thread."""
    import uvicorn

    from kubetrail.api.app import create_app

    server = uvicorn.Server(
        uvicorn.Config(
            create_app(store, settings),
            host=host,
            port=port,
            log_level="warning",
            ssl_certfile=tls[0],
            ssl_keyfile=tls[1],
        )
    )
    threading.Thread(target=server.run, name="api", daemon=True).start()
