"""What changed between two versions, with the values before and after."""

from __future__ import annotations

from kubetrail.events.changes import changed_paths
from kubetrail.events.diff import ABSENT, Change, diff, preview, render


def _deployment(image: str, *, sidecar: bool = False, replicas: int = 3) -> dict:
    containers = [{"name": "app", "image": f"shop/app:{image}"}]
    if sidecar:
        containers.insert(0, {"name": "proxy", "image": "envoy:1.30"})
    return {
        "metadata": {"name": "app", "resourceVersion": "1", "generation": 1},
        "spec": {"replicas": replicas, "template": {"spec": {"containers": containers}}},
    }


def test_a_rollout_reads_as_the_containers_image_by_name() -> None:
    old = _deployment("1.4.2")
    new = _deployment("1.5.0", sidecar=True) | {"metadata": {"name": "app", "generation": 2}}
    changes = diff(old, new)
    assert changes == [
        Change("spec.template.spec.containers[app].image", "shop/app:1.4.2", "shop/app:1.5.0"),
        Change(
            "spec.template.spec.containers[proxy]", ABSENT, {"name": "proxy", "image": "envoy:1.30"}
        ),
    ]  # resourceVersion and generation are bookkeeping, left out
    assert render(changes[0]) == (
        "spec.template.spec.containers[app].image: shop/app:1.4.2 → shop/app:1.5.0"
    )
    assert render(changes[1]).endswith('(absent) → {"name":"proxy","image":"envoy:1.30"}')
    assert changes[1].to_dict() == {
        "path": "spec.template.spec.containers[proxy]",
        "after": {"name": "proxy", "image": "envoy:1.30"},
    }


def test_conditions_by_type_and_removed_keys() -> None:
    old = {"status": {"conditions": [{"type": "Ready", "status": "True"}], "phase": "Running"}}
    new = {"status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}
    assert [c.to_dict() for c in diff(old, new)] == [
        {"path": "status.conditions[Ready].status", "before": "True", "after": "Unknown"},
        {"path": "status.phase", "before": "Running"},
    ]
    assert render(diff(old, new)[1]) == "status.phase: Running → (absent)"


def test_the_paths_are_changed_paths() -> None:
    old, new = _deployment("1", replicas=2), _deployment("2", sidecar=True)
    assert sorted(c.path for c in diff(old, new)) == changed_paths(old, new)
    assert diff(old, old) == []
    assert len(diff({"a": list(range(5))}, {"a": list(range(5, 10))}, limit=3)) == 3


def test_long_values_are_shortened_in_previews() -> None:
    assert preview("x" * 500, max_chars=10) == "x" * 9 + "…"
    assert preview({str(i): i for i in range(100)}, max_chars=50) == "{100 fields}"
    assert preview(list(range(100)), max_chars=50) == "[100 items]"
    assert preview({"a": 1}) == {"a": 1}
    assert render(Change("data", "", " padded")) == 'data: "" → " padded"'


def test_redacted_values_stay_markers() -> None:
    old = {"data": {"password": "[REDACTED hmac-sha256:a79ca3144894]"}}
    new = {"data": {"password": "[REDACTED hmac-sha256:96f11456f609]"}}
    assert render(diff(old, new)[0]) == (
        "data.password: [REDACTED hmac-sha256:a79ca3144894] → [REDACTED hmac-sha256:96f11456f609]"
    )
