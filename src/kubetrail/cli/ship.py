"""``kubetrail ship``: the command line of the shipper."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from typing import Any

from kubetrail.config import Settings

_LOG_FIELDS = ("resource",)


def add_ship_parser(sub: Any) -> None:
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
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    p.set_defaults(handler=cmd_ship)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _LOG_FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(entry)


def _configure_logging(fmt: str, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    logging.getLogger("kubernetes").setLevel(logging.WARNING)
    logging.getLogger("opensearch").setLevel(logging.WARNING)  # one line per request otherwise


def cmd_ship(args: argparse.Namespace, settings: Settings) -> int:
    from kubetrail.cli import CommandError, _check_port_free
    from kubetrail.shipper.config import ShipperConfigError, load_config
    from kubetrail.shipper.kube import Kube, KubeError, load_client
    from kubetrail.shipper.service import Shipper
    from kubetrail.store import open_store

    _configure_logging(args.log_format, args.log_level)
    try:
        config = load_config(args.config)
    except ShipperConfigError as exc:
        raise CommandError(str(exc)) from None
    if config.extra:
        logging.getLogger("kubetrail.shipper").warning(
            "unknown config keys ignored: %s", ", ".join(sorted(config.extra))
        )
    if args.spool_dir:
        config = _with(config, spool_dir=args.spool_dir)
    if args.api_port == 0:
        args.api_port = config.server_port
    for port, host in (
        (args.api_port, args.api_host),
        (args.metrics_port or None, args.metrics_host),
    ):
        if port:
            _check_port_free(host, port)
    try:
        kube = Kube(load_client(kubeconfig=args.kubeconfig, context=args.context))
        kube.get("/version", timeout=10)
    except KubeError as exc:
        raise CommandError(str(exc)) from None
    url = args.store or config.store or settings.store_url
    store = open_store(url)
    shipper = Shipper(kube=kube, store=store, config=config, policy=_policy(config, settings))
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
            _serve_api_in_thread(store, settings, config, args.api_host, args.api_port)
        logging.getLogger("kubetrail.shipper").info(
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


def _with(config: Any, **changes: Any) -> Any:
    import dataclasses

    return dataclasses.replace(config, **changes)


def _policy(config: Any, settings: Settings) -> Any:
    return config.redaction_policy(settings.redaction_key)


def _serve_api_in_thread(store: Any, settings: Settings, config: Any, host: str, port: int) -> None:
    import uvicorn

    from kubetrail.api.app import create_app

    app_settings = _with(settings, max_query_limit=config.max_query_limit)
    server = uvicorn.Server(
        uvicorn.Config(create_app(store, app_settings), host=host, port=port, log_level="warning")
    )
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    threading.Thread(target=server.run, name="api", daemon=True).start()
