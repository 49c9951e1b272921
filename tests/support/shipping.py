"""A fake API server's cluster, shippers running against it, and exact checks of what a store holds."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from kubetrail.events.redact import RedactionPolicy
from kubetrail.shipper.config import ShipperConfig
from kubetrail.shipper.kube import Kube, load_client
from kubetrail.shipper.service import Shipper
from kubetrail.store.base import EventFilter, EventQuery, Store
from tests.support.fake_apiserver import FakeApiServer


class Cluster:
    """The fake API server plus what the store must end up holding."""

    def __init__(self, server: FakeApiServer, kubeconfig: Path) -> None:
        self.server = server
        self.kubeconfig = kubeconfig
        self.expected: set[str] = set()

    def apply(self, event_type: str, obj: dict[str, Any], **kw: Any) -> dict[str, Any]:
        stored = self.server.apply(event_type, obj, **kw)
        self.expected.add(expected_id(event_type, stored))
        return stored

    def existing(
        self, plurals: tuple[str, ...] = ("pods", "nodes", "secrets", "configmaps")
    ) -> None:
        """The objects the server holds now (of the kinds tests create before a shipper
        starts) are what a first listing shows."""
        for plural in plurals:
            for obj in self.server.objects(plural):
                self.expected.add(expected_id("ADDED", obj))


@contextmanager
def fake_cluster(
    directory: Path, *, port: int = 0, initial_rv: int = 1, kube_system: str | None = None
) -> Iterator[Cluster]:
    """A fake API server of its own (``port``: the address of one stopped before, for a
    cluster rebuilt there), its resourceVersions starting after ``initial_rv``; with
    ``kube_system`` a ``kube-system`` namespace of that UID (what names a cluster)."""
    with FakeApiServer(bookmark_interval=0.2, port=port, initial_rv=initial_rv) as server:
        cluster = Cluster(server, server.write_kubeconfig(directory / "kubeconfig"))
        if kube_system is not None:
            cluster.apply(
                "ADDED",
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {"name": "kube-system", "uid": kube_system},
                },
            )
        yield cluster


def expected_id(event_type: str, obj: dict[str, Any]) -> str:
    meta = obj["metadata"]
    return f"{meta['uid']}:{meta['resourceVersion']}" + (
        ":delete" if event_type == "DELETED" else ""
    )


def config(tmp_path: Path, **kw: Any) -> ShipperConfig:
    base = ShipperConfig(
        spool_dir=str(tmp_path / "spool"), flush_interval=0.1, batch_size=200, stall_timeout=5.0
    )
    return replace(base, **kw)


@contextmanager
def running(cluster: Cluster, store: Store, cfg: ShipperConfig) -> Iterator[Shipper]:
    shipper = Shipper(
        kube=Kube(load_client(kubeconfig=str(cluster.kubeconfig))),
        store=store,
        config=cfg,
        policy=RedactionPolicy(),
    )
    shipper.start()
    assert shipper.wait_synced(15), "watchers did not finish their first list"
    try:
        yield shipper
    finally:
        shipper.stop()


def stored_ids(store: Store) -> list[str]:
    ids: list[str] = []
    after = None
    while True:
        page = store.search(EventQuery(filter=EventFilter(), limit=1000, after=after))
        ids.extend(d["id"] for d in page.items)
        if page.next is None:
            return ids
        after = page.next


def wait_until(
    condition: Callable[[], bool], timeout: float = 20.0, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def assert_exactly(store: Store, expected: set[str], timeout: float = 20.0) -> list[str]:
    """Every expected document present, none missing, none duplicated, nothing else."""

    def done() -> bool:
        return expected <= set(stored_ids(store))

    try:
        wait_until(done, timeout, "the store to hold every expected document")
    except AssertionError:
        missing = expected - set(stored_ids(store))
        raise AssertionError(
            f"{len(missing)} documents missing, e.g. {sorted(missing)[:5]}"
        ) from None
    ids = stored_ids(store)
    assert len(ids) == len(set(ids)), "duplicated documents"
    assert set(ids) == expected, f"unexpected documents: {sorted(set(ids) - expected)[:5]}"
    return ids
