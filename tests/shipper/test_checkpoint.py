"""Checkpoints bound to the cluster they came from (the file in the spool directory)."""

from __future__ import annotations

from pathlib import Path

import orjson

from kubetrail.shipper.checkpoint import Checkpoints
from kubetrail.shipper.cluster import ClusterIdentity

A = ClusterIdentity(uid="ks-a", server="https://10.0.0.1:443")
B = ClusterIdentity(uid="ks-b", server="https://10.0.0.1:443")


def test_positions_of_the_same_cluster_are_kept_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "checkpoints.json"
    first = Checkpoints(path)
    assert first.bind(A) is None
    first.advance({"pods": "120"})
    first.save()
    again = Checkpoints(path)
    assert again.cluster == A
    assert again.bind(ClusterIdentity(uid="ks-a", server="https://kubernetes.default")) is None
    assert again.get("pods") == "120"


def test_positions_of_another_cluster_are_dropped(tmp_path: Path) -> None:
    path = tmp_path / "checkpoints.json"
    first = Checkpoints(path)
    first.bind(A)
    first.advance({"pods": "120", "nodes": "130"})
    first.save()
    again = Checkpoints(path)
    assert again.bind(B) == A
    assert again.get("pods") is None and again.get("nodes") is None
    assert Checkpoints(path).cluster == B  # saved at once


def test_without_a_uid_the_address_decides_and_the_recorded_uid_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "checkpoints.json"
    first = Checkpoints(path)
    first.bind(A)
    first.advance({"pods": "120"})
    first.save()
    again = Checkpoints(path)
    assert again.bind(ClusterIdentity(uid="", server=A.server)) is None
    assert again.get("pods") == "120"
    assert again.cluster == A
    other = ClusterIdentity(uid="", server="https://192.168.1.9:6443")
    assert again.bind(other) == A
    assert again.get("pods") is None


def test_a_file_of_an_older_release_is_taken_as_the_current_clusters(tmp_path: Path) -> None:
    path = tmp_path / "checkpoints.json"
    path.write_bytes(orjson.dumps({"pods": "120", "deployments.apps": "99"}))
    old = Checkpoints(path)
    assert old.cluster is None
    assert old.bind(A) is None
    assert old.get("deployments.apps") == "99"
    saved = orjson.loads(path.read_bytes())
    assert saved == {
        "cluster": {"uid": "ks-a", "server": A.server},
        "resourceVersions": {"pods": "120", "deployments.apps": "99"},
    }
