"""``kubetrail demo``: the built-in incident in an embedded store, served by the API.

No cluster needed: the incident (a bad rollout, CrashLoopBackOff, OOMKilled, an
image pull failure, a pending PVC, a NotReady node, config and secret changes) is
generated relative to now, loaded through the same ingest path as recorded watch
events, and served by the REST API, with a page of commands to try next.
``--play-into KUBECONFIG`` plays it into a real API server instead
(:mod:`kubetrail.cli.demo_play`).
"""

from __future__ import annotations

import argparse
import errno
import sys
from pathlib import Path
from typing import Any

import orjson

from kubetrail.cli.api import serve
from kubetrail.cli.common import (
    CommandError,
    SubParsers,
    add_allowed_host_option,
    check_port_free,
    open_store_from,
    with_allowed_hosts,
)
from kubetrail.cli.demo_play import add_play_options, play_into
from kubetrail.cli.ingest import CappedRejections
from kubetrail.config import Settings

DEMO_STORE_URL = "sqlite:///./kubetrail-demo.db"


def register(sub: SubParsers) -> None:
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
    add_allowed_host_option(p)
    p.add_argument("--no-serve", action="store_true", help="load the incident, do not serve")
    add_play_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.play_into is not None or args.prefix is not None:
        return play_into(args)
    settings = with_allowed_hosts(settings, args)
    from kubetrail.demo import generate_incident
    from kubetrail.events.timing import utcnow
    from kubetrail.ingest.pipeline import ingest_values
    from kubetrail.ingest.reader import Record

    if not args.no_serve:
        check_port_free(args.host, args.port)
    url = args.store or DEMO_STORE_URL
    if args.store is None:
        _remove_sqlite_files(Path(url.removeprefix("sqlite:///")))
    events = generate_incident(anchor=utcnow())
    if args.write_events:
        _write_events(args.write_events, events)
    store = open_store_from(url, settings)
    try:
        records = (
            Record(value=e, source="demo", line=i, end_line=i) for i, e in enumerate(events, 1)
        )
        report = CappedRejections(lambda line: print(line, file=sys.stderr))
        stats = ingest_values(records, store, policy=settings.redaction_policy(), report=report)
        print(f"kubetrail demo: loaded a built-in incident into {url}: {stats.summary()}")
        if args.no_serve:
            return 1 if stats.rejected else 0
        print(_try_next(args.host, args.port, url))
        serve(store, settings, host=args.host, port=args.port)
    finally:
        store.close()
    return 0


def _write_events(path: str, events: list[dict[str, Any]]) -> None:
    try:
        with open(path, "wb") as fh:
            for event in events:
                fh.write(orjson.dumps(event) + b"\n")
    except OSError as exc:
        raise CommandError(f"cannot write --write-events {path}: {exc.strerror or exc}") from None
    print(
        f"kubetrail demo: wrote {len(events)} watch events to {path} "
        f"(`kubetrail ingest {path}` loads them)"
    )


def _remove_sqlite_files(path: Path) -> None:
    from kubetrail.store.sqlite.layout import remove_store

    try:
        remove_store(path)
    except OSError as exc:  # one line, like the store's own refusal
        reason = (
            "the file system is read-only" if exc.errno == errno.EROFS else exc.strerror or str(exc)
        )
        raise CommandError(f"cannot write SQLite store {path}: {reason}") from None


CRASH_FIELDS = "timestamp,namespace,resourceName,signals"
OOM_FIELDS = (
    "timestamp,resourceName,objectChanges.spec.containers.resources.limits,"
    "objectChanges.status.containerStatuses.lastState.terminated.reason"
)
EVENT_FIELDS = "timestamp,reason,involvedObject.name,objectChanges.message"
CHANGE_FIELDS = "timestamp,verb,kind,namespace,resourceName,fieldManager"


def _try_next(host: str, port: int, url: str) -> str:
    base = f"http://{host}:{port}"
    mcp = {
        "mcpServers": {"k8s-audit": {"command": "k8s-audit-server", "env": {"AUDIT_API_URL": base}}}
    }
    return f"""
The web UI: {base}/ui/   (the incident at a glance; open it in a browser)

The API is starting on {base} (Ctrl-C stops it). Try these (add
| python3 -m json.tool to indent the answers):

What happened in namespace shop: counts by kind, verb and signal, the newest changes
  curl -s '{base}/api/v1/summary?namespace=shop&newest=5'
Events, with only the fields you name (fields=; without it, whole documents)
  curl -s '{base}/api/v1/events?signal=pod.waiting:CrashLoopBackOff&limit=10&fields={CRASH_FIELDS}'
  curl -s '{base}/api/v1/events?signal=pod.lastTerminated:OOMKilled&limit=3&fields={OOM_FIELDS}'
  curl -s '{base}/api/v1/events?resourceType=events&q=FailedScheduling&fields={EVENT_FIELDS}'
  curl -s '{base}/api/v1/events?snapshot=false&kind=ConfigMap&kind=Secret&fields={CHANGE_FIELDS}'
One object's history: what changed in each version, by whom, and its Events (full=true: whole)
  curl -s '{base}/api/v1/events/shop/deployments/checkout'
  curl -s '{base}/api/v1/events/_/nodes/worker-3'
  curl -s '{base}/api/v1/events/data/persistentvolumeclaims/postgres-data'
  curl -s '{base}/api/v1/events/payments/secrets/payment-db-credentials'
  open {base}/docs   (the OpenAPI explorer)

Claude Desktop: add this to claude_desktop_config.json (macOS: ~/Library/Application
Support/Claude/, Windows: %APPDATA%\\Claude\\, Linux: ~/.config/Claude/) and restart it:
{orjson.dumps(mcp, option=orjson.OPT_INDENT_2).decode()}
Or try the MCP tools from a terminal (Node.js):
  npx -y @modelcontextprotocol/inspector --cli -e AUDIT_API_URL={base} \\
      k8s-audit-server --method tools/list

The data stays in {url}: `kubetrail api --store {url}` serves it again.
"""
