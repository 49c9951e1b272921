"""Sparse fieldsets: what a path keeps, as OpenSearch's ``_source`` includes keep it.

The cases below were checked against a real OpenSearch 2.19 node's ``_source``
filtering (same document, same includes); tests/store/test_conformance.py runs
them on every store.
"""

from __future__ import annotations

import copy

import pytest

from kubetrail.events.projection import project

DOC = {
    "verb": "update",
    "namespace": "",
    "objectChanges": {
        "metadata": {
            "labels": {"kubernetes.io/hostname": "w1", "app": "y", "app.kubernetes.io/name": "z"},
            "name": "n",
        },
        "spec": {
            "containers": [{"name": "a"}, {"name": "b", "image": "i2", "ports": [1, {"x": 2}]}],
            "m": [[{"k": 1}, {"j": 2}], 3],
        },
        "status": {},
    },
}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (["verb"], {"verb": "update"}),
        (["namespace"], {"namespace": ""}),
        (
            ["objectChanges.metadata.labels.app.kubernetes.io/name"],
            {"objectChanges": {"metadata": {"labels": {"app.kubernetes.io/name": "z"}}}},
        ),
        # a path keeps what lies under it once keys are joined: the dotted label too
        (
            ["objectChanges.metadata.labels.app"],
            {
                "objectChanges": {
                    "metadata": {"labels": {"app": "y", "app.kubernetes.io/name": "z"}}
                }
            },
        ),
        # through a list: each item, those without the field left out
        (
            ["objectChanges.spec.containers.image"],
            {"objectChanges": {"spec": {"containers": [{"image": "i2"}]}}},
        ),
        (
            ["objectChanges.spec.containers.ports.x"],
            {"objectChanges": {"spec": {"containers": [{"ports": [{"x": 2}]}]}}},
        ),
        (["objectChanges.spec.m.k"], {"objectChanges": {"spec": {"m": [[{"k": 1}]]}}}),
        # an empty object asked for is kept; a path that leads nowhere leaves nothing
        (["objectChanges.status"], {"objectChanges": {"status": {}}}),
        (["objectChanges.status.x"], {}),
        (["objectChanges.spec.nothing", "reason"], {}),
    ],
)
def test_paths_keep_what_opensearch_keeps(fields: list[str], expected: dict) -> None:
    assert project(DOC, fields) == expected


def test_keys_keep_the_documents_order_and_the_input_is_not_modified() -> None:
    before = copy.deepcopy(DOC)
    out = project(DOC, ["objectChanges.metadata.name", "verb", "namespace"])
    assert list(out) == ["verb", "namespace", "objectChanges"]
    assert before == DOC


def test_no_fields_is_the_whole_document() -> None:
    assert project(DOC, []) == DOC
