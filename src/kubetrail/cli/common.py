"""What every command shares: the one-line error, the ``--store`` option, the port
check, and the process's logging.

A command stops with :class:`CommandError` when it cannot run; :func:`kubetrail.cli.main`
prints its message as one line on stderr and exits with 2. Commands that listen on a
port check it first (:func:`check_port_free`), so a busy port is that one line too,
not a traceback from deep inside uvicorn.

Logging is set up once per process, by the command, never by a library module:
:func:`configure_logging` sends every line to standard error (for ``kubetrail mcp``
on stdio, standard output is the protocol) and quiets the chatty libraries a command
names.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import ssl
import sys
from collections.abc import Iterable
from dataclasses import replace
from typing import Any, TypeAlias

from kubetrail.config import Settings
from kubetrail.store import DEFAULT_STORE_URL, Store, open_store

#: the log line of the short-lived and interactive commands (api, demo, mcp)
TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"
LOG_LEVELS = ("debug", "info", "warning", "error")

_LOG_FIELDS = ("resource",)  # ``extra=`` fields a JSON log line carries

#: what ``add_subparsers()`` returns; each command module's ``register`` takes it
SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class CommandError(Exception):
    """Stops a command with one line on stderr and exit code 2."""


def add_store_option(parser: argparse.ArgumentParser) -> None:
    """``--store URL``, for the commands whose default is ``$KUBETRAIL_STORE``."""
    parser.add_argument(
        "--store", help=f"store URL (default $KUBETRAIL_STORE or {DEFAULT_STORE_URL})"
    )


def add_log_level_option(parser: argparse.ArgumentParser, *, default: str) -> None:
    """``--log-level``: the least severe log lines written to standard error."""
    parser.add_argument(
        "--log-level",
        default=default,
        choices=LOG_LEVELS,
        help=f"the least severe lines logged to standard error (default {default})",
    )


def add_tls_options(parser: argparse.ArgumentParser, *, what: str = "the REST API") -> None:
    """``--tls-cert``/``--tls-key``: serve HTTPS. The API server's audit webhook sends its
    bearer token over TLS only (client-go drops credentials for a plain-HTTP server)."""
    parser.add_argument(
        "--tls-cert", metavar="FILE", help=f"serve {what} over HTTPS with this certificate (PEM)"
    )
    parser.add_argument("--tls-key", metavar="FILE", help="... and this private key (PEM)")


def tls_options(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """uvicorn's ``ssl_certfile`` and ``ssl_keyfile`` from ``--tls-cert``/``--tls-key``
    (both or neither; a readable certificate and its key), or ``(None, None)``."""
    cert, key = getattr(args, "tls_cert", None), getattr(args, "tls_key", None)
    if not cert and not key:
        return None, None
    if not cert or not key:
        raise CommandError("--tls-cert and --tls-key go together")
    for flag, path in (("--tls-cert", cert), ("--tls-key", key)):
        if not os.path.isfile(path) or not os.access(path, os.R_OK):
            raise CommandError(f"{flag} {path}: no such readable file")
    try:  # what uvicorn would fail on later, with a traceback
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (ssl.SSLError, ValueError) as exc:
        raise CommandError(
            f"--tls-cert {cert} / --tls-key {key}: not a PEM certificate and its key ({exc})"
        ) from None
    return cert, key


def add_allowed_host_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests for this Host/Origin (repeatable; *.example.com for a domain; "
        "adds to $KUBETRAIL_ALLOWED_HOSTS). IPs, localhost and cluster names always are",
    )


def with_allowed_hosts(settings: Settings, args: argparse.Namespace) -> Settings:
    """``settings`` with the command line's ``--allowed-host`` values added."""
    extra = tuple(getattr(args, "allowed_host", None) or ())
    return replace(settings, allowed_hosts=settings.allowed_hosts + extra) if extra else settings


def open_store_from(
    url: str, settings: Settings, *, bulk: bool = False, read_only: bool = False
) -> Store:
    """Open ``url`` with the OpenSearch options of ``settings`` (credentials, CA, prefix).

    ``read_only`` for the commands that only read (api, export, mcp): an embedded
    store on a read-only file system is then served instead of refused."""
    return open_store(url, bulk=bulk, read_only=read_only, opensearch=settings.opensearch)


def check_port_free(host: str, port: int) -> None:
    """Fail now, in one line, if ``host:port`` cannot be listened on."""
    if not 0 < port < 65536:
        raise CommandError(f"--port {port} is not a TCP port (1-65535)")
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


class JsonFormatter(logging.Formatter):
    """One JSON object per line (``kubetrail ship --log-format json``, for log collectors)."""

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


def configure_logging(
    level: str,
    *,
    formatter: logging.Formatter | None = None,
    quiet: Iterable[str] = (),
) -> None:
    """Send log lines at ``level`` and above to standard error, and nowhere else.

    ``formatter`` defaults to :data:`TEXT_FORMAT`; the loggers named in ``quiet``
    (HTTP clients logging one line per request) only report warnings.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter or logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in quiet:
        logging.getLogger(name).setLevel(logging.WARNING)
