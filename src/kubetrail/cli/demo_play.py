"""``kubetrail demo --play-into KUBECONFIG``: the built-in incident played into a real
Kubernetes API server, for a shipper watching it to record.

The server must be a bare one (an API server and etcd, no kubelet, no controllers, as
``scripts/kube-apiserver start`` runs): the demo creates its own Nodes and writes every
status a kubelet or controller would. A cluster with nodes of its own (any Node without
:data:`~kubetrail.demo.play.PLAYED_LABEL`) is refused: its kubelets and controllers would
fight the demo, and its scheduler would send real pods to nodes that do not exist.

The cluster's past (what the recording's watch listed when it began) is written first,
then the incident, as fast as the server takes it (about 1,500 requests). A shipper started
before the play records the past as creations; objects, statuses and Events then show the
incident as the built-in demo does, with this server's uids, resourceVersions and times.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson

from kubetrail.cli.common import CommandError
from kubetrail.demo.player import PlayError, Transport

if TYPE_CHECKING:  # the kubernetes client is imported when the command runs
    from kubernetes.client import ApiClient


def add_play_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--play-into",
        metavar="KUBECONFIG",
        help="play the incident into the API server of this kubeconfig instead (a bare "
        "kube-apiserver without kubelets or controllers, e.g. scripts/kube-apiserver); "
        "start `kubetrail ship` against it first to record it; nothing is stored or served",
    )
    parser.add_argument(
        "--prefix",
        help="with --play-into: name the demo's namespaces and nodes PREFIX-<name>, to play "
        "it again into the same server",
    )


def play_into(args: argparse.Namespace) -> int:
    from kubetrail.demo import generate_incident
    from kubetrail.demo.play import InvalidPrefix, check_prefix, plan_writes
    from kubetrail.demo.player import Player
    from kubetrail.events.timing import utcnow
    from kubetrail.shipper.kube import KubeError, connect

    if not args.play_into:
        raise CommandError("--prefix names what --play-into creates: give --play-into too")
    if args.store or args.no_serve or args.write_events:
        raise CommandError(
            "--play-into writes the incident into a cluster and stores nothing: drop "
            "--store/--no-serve/--write-events (a shipper watching the cluster stores it)"
        )
    prefix = args.prefix or ""
    try:
        check_prefix(prefix)
    except InvalidPrefix as exc:
        raise CommandError(str(exc)) from None
    try:
        kube = connect(kubeconfig=args.play_into)
        kube.check_server(timeout=10)
        nodes = kube.get("/api/v1/nodes", timeout=30)
    except KubeError as exc:
        raise CommandError(str(exc)) from None
    foreign = foreign_nodes(nodes)
    if foreign:
        raise CommandError(
            f"refusing to play the demo into {kube.server}: it has nodes of its own "
            f"({', '.join(foreign[:3])}{', …' if len(foreign) > 3 else ''}), whose kubelets "
            "and controllers would fight the demo's; play it into a bare API server "
            "(scripts/kube-apiserver start prints its kubeconfig)"
        )
    plan = plan_writes(generate_incident(anchor=utcnow()), prefix=prefix)
    player = Player(api_transport(kube.api))
    started = time.monotonic()
    try:
        player.play(plan.phase("setup"))
        player.play(plan.phase("incident"))
    except PlayError as exc:
        raise CommandError(f"playing the demo into {kube.server}: {exc}") from None
    played = player.played
    print(
        f"kubetrail demo: played the built-in incident into {kube.server} in "
        f"{time.monotonic() - started:.1f}s: {played.writes} requests, {played.created} "
        f"objects created, {played.deleted} deleted; namespaces {', '.join(plan.namespaces)}; "
        f"nodes {', '.join(plan.nodes)}",
        file=sys.stdout,
    )
    return 0


def foreign_nodes(node_list: Any) -> list[str]:
    """Names of the Nodes the demo did not create (a ``NodeList`` as the API returns it)."""
    from kubetrail.demo.play import PLAYED_LABEL

    items = node_list.get("items") if isinstance(node_list, dict) else None
    names = []
    for node in items if isinstance(items, list) else []:
        meta = node.get("metadata") if isinstance(node, dict) else None
        meta = meta if isinstance(meta, dict) else {}
        if PLAYED_LABEL not in (meta.get("labels") or {}):
            names.append(str(meta.get("name") or "?"))
    return sorted(names)


def api_transport(api: ApiClient) -> Transport:
    """The player's requests, sent with a ``kubernetes`` client (its TLS and credentials)."""
    from urllib3.exceptions import HTTPError

    def send(
        method: str,
        path: str,
        *,
        body: Any,
        content_type: str,
        query: Sequence[tuple[str, str]],
    ) -> tuple[int, Any]:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        try:
            m, url, hdrs, data, post = api.param_serialize(
                method,
                path,
                query_params=list(query),
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
            )
            raw = api.call_api(m, url, hdrs, data, post, _request_timeout=(10, 60)).response
            payload = raw.read()
        except HTTPError as exc:
            raise PlayError(f"{method} {path}: no answer ({type(exc).__name__})") from None
        try:
            answer = orjson.loads(payload) if payload else None
        except orjson.JSONDecodeError:
            answer = None
        return raw.status, answer

    return send
