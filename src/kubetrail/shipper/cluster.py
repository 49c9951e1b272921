"""Which cluster the shipper watches, so that checkpoints are never resumed against another.

A checkpoint is a resourceVersion, and resourceVersions mean something only in the etcd
they came from. A cluster rebuilt at the same address (a fresh etcd: its resourceVersions
start low again), or a second ``--context`` sharing one spool directory, would otherwise be
watched from the other cluster's positions: a watch from a resourceVersion the server has
not reached yet waits for it without a word (or is answered "Too large resource version"),
and nothing of the new cluster is shipped.

A cluster is named by the UID of its ``kube-system`` namespace: created with the cluster,
never deleted, new after a rebuild. Reading it needs ``get`` on namespaces (the deploy
manifests' ClusterRole grants it). When it cannot be read (no such permission, a server
without that namespace), the server's address stands in, and the watchers' own check —
a checkpoint newer than the cluster's current resourceVersion is not resumed — still
catches a rebuild.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from kubetrail.shipper.kube import Kube, KubeError

log = logging.getLogger("kubetrail.shipper")

IDENTITY_PATH = "/api/v1/namespaces/kube-system"


@dataclass(frozen=True, slots=True)
class ClusterIdentity:
    """``uid``: the ``kube-system`` namespace's UID ("" when it could not be read);
    ``server``: the API server's address as configured."""

    uid: str
    server: str

    def same_cluster(self, other: ClusterIdentity) -> bool:
        """The UIDs decide when both are known (one cluster reached at two addresses is
        one cluster); otherwise the addresses do."""
        if self.uid and other.uid:
            return self.uid == other.uid
        return self.server == other.server

    def describe(self) -> str:
        if self.uid:
            return f"{self.server} (kube-system uid {self.uid})"
        return self.server

    def as_json(self) -> dict[str, str]:
        return {"uid": self.uid, "server": self.server}

    @classmethod
    def from_json(cls, value: Any) -> ClusterIdentity | None:
        """The identity a file recorded, or ``None`` when it does not read as one."""
        if not isinstance(value, dict):
            return None
        uid, server = value.get("uid", ""), value.get("server", "")
        if not isinstance(uid, str) or not isinstance(server, str) or not (uid or server):
            return None
        return cls(uid=uid, server=server)


def identify(kube: Kube) -> ClusterIdentity:
    """The cluster ``kube`` talks to. Without permission to read ``kube-system`` (or
    without that namespace) the address alone, said once at warning level; a server
    that does not answer raises :class:`KubeError` as any other request would."""
    try:
        namespace = kube.get(IDENTITY_PATH, timeout=10)
    except KubeError as exc:
        if exc.status not in (403, 404):
            raise
        log.warning(
            "cannot read the kube-system namespace (%s): checkpoints are bound to the "
            "server address %s only, so a cluster rebuilt there is noticed later, by its "
            "resourceVersions; grant `get` on namespaces (see deploy/base/rbac.yaml)",
            exc,
            kube.server,
        )
        return ClusterIdentity(uid="", server=kube.server)
    meta = namespace.get("metadata") if isinstance(namespace, dict) else None
    uid = meta.get("uid") if isinstance(meta, dict) else None
    return ClusterIdentity(uid=uid if isinstance(uid, str) else "", server=kube.server)
