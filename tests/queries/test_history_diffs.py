"""An object's history is diffed once: the change view made from the diffs the history
kept is the view made by diffing every version again, whatever the sizes of the changes."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kubetrail.events.changes import MAX_PATHS, changed_paths
from kubetrail.queries.history import version_diffs, with_changed_paths
from kubetrail.queries.history_view import change_view, version_changes


def _version(uid: str, labels: dict[str, str], rv: int) -> dict[str, Any]:
    return {
        "timestamp": f"2026-12-05T00:00:{rv % 60:02d}Z",
        "verb": "update",
        "uid": uid,
        "objectChanges": {"metadata": {"labels": labels, "resourceVersion": str(rv)}},
    }


versions = st.lists(
    st.tuples(
        st.sampled_from(["u1", "u2"]),
        # up to 260 labels: beyond both the view's 50 and the diffs' MAX_PATHS (200)
        st.dictionaries(st.integers(0, 259).map(lambda i: f"l{i:03d}"), st.sampled_from("ab")),
    ),
    max_size=8,
)


@settings(max_examples=60, deadline=None)
@given(versions=versions, per_version=st.sampled_from([0, 3, 50, 199, 200, 250]))
def test_the_view_from_kept_diffs_is_the_view_from_diffing_again(
    versions: list[tuple[str, dict[str, str]]], per_version: int
) -> None:
    docs = with_changed_paths([_version(u, lab, i) for i, (u, lab) in enumerate(versions)])
    diffs = version_diffs(docs)
    again = version_changes(docs, changes_per_version=per_version)
    kept = version_changes(docs, changes_per_version=per_version, diffs=diffs)
    assert kept == again


def test_changed_paths_come_from_the_same_diffs() -> None:
    many = {f"l{i:03d}": "a" for i in range(MAX_PATHS + 40)}
    docs = [_version("u", {}, 1), _version("u", many, 2), _version("u", {"x": "y"}, 3)]
    diffs = version_diffs(docs)
    assert diffs[0] is None
    assert diffs[1] is not None and len(diffs[1]) == MAX_PATHS
    out = with_changed_paths(docs, diffs)
    assert out[0]["changedPaths"] == []
    for prev, doc, paths in zip(docs, docs[1:], out[1:], strict=False):
        assert paths["changedPaths"] == changed_paths(prev["objectChanges"], doc["objectChanges"])


def test_a_view_of_a_large_change_counts_the_rest() -> None:
    many = {f"l{i:03d}": "a" for i in range(120)}
    docs = with_changed_paths([_version("u", {}, 1), _version("u", many, 2)])
    full = {"namespace": "shop", "resourceType": "pods", "name": "p", "history": docs}
    view = change_view(full, diffs=version_diffs(docs))
    assert view == change_view(full)
    second = view["history"][1]
    assert len(second["changes"]) == 50
    assert second["moreChanges"] == 70
    assert second["changes"][0] == {"path": "metadata.labels.l000", "after": "a"}
