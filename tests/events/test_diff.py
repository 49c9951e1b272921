"""What changed between two versions, with the values before and after."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kubetrail.events.changes import changed_paths
from kubetrail.events.diff import ABSENT, IGNORED_PATHS, Change, diff, preview, render


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


# -- the walk that skips equal parts gives what a plain walk of every key gives --------


def _reference(old: Any, new: Any, path: str = "", limit: int = 200) -> list[Change]:
    """Every key of both sides in sorted order, each compared: slow and obviously right."""
    out: list[Change] = []

    def walk(a: Any, b: Any, at: str) -> None:
        if len(out) >= limit or at in IGNORED_PATHS or a == b:
            return
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(a.keys() | b.keys(), key=str):
                sub = f"{at}.{key}" if at else str(key)
                if key in a and key in b:
                    walk(a[key], b[key], sub)
                elif sub not in IGNORED_PATHS and len(out) < limit:
                    out.append(Change(sub, a.get(key, ABSENT), b.get(key, ABSENT)))
            return
        if isinstance(a, list) and isinstance(b, list):
            by = next(
                (
                    k
                    for k in ("name", "type")
                    if (a or b)
                    and all(isinstance(i, dict) and isinstance(i.get(k), str) for i in a + b)
                    and len({i[k] for i in a}) == len(a)
                    and len({i[k] for i in b}) == len(b)
                ),
                None,
            )
            if by is None:
                if len(a) != len(b):
                    out.append(Change(at, a, b))
                else:
                    for i, (x, y) in enumerate(zip(a, b, strict=True)):
                        walk(x, y, f"{at}[{i}]")
                return
            old_by, new_by = {i[by]: i for i in a}, {i[by]: i for i in b}
            for name in sorted(old_by.keys() | new_by.keys()):
                sub = f"{at}[{name}]"
                if name in old_by and name in new_by:
                    walk(old_by[name], new_by[name], sub)
                elif len(out) < limit:
                    out.append(Change(sub, old_by.get(name, ABSENT), new_by.get(name, ABSENT)))
            return
        out.append(Change(at, a, b))

    walk(old, new, path)
    return out


_keys = st.sampled_from(["name", "type", "metadata", "status", "a", "b", "resourceVersion"])
_leaves = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(["x", "y", "z"]))
_objects = st.recursive(
    _leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(_keys, inner, max_size=5),
        # lists of named items (containers, conditions), sometimes with duplicate names
        st.lists(st.fixed_dictionaries({"name": st.sampled_from("pqr")}, optional={"v": inner})),
    ),
    max_leaves=25,
)


def _mutated(draw: st.DrawFn, value: Any) -> Any:
    """``value`` with a few parts changed, so that most of the two sides is equal."""
    if isinstance(value, dict) and value and draw(st.booleans()):
        out = dict(value)
        key = draw(st.sampled_from(sorted(out)))
        out[key] = _mutated(draw, out[key])
        return out
    if isinstance(value, list) and value and draw(st.booleans()):
        out_list = list(value)
        i = draw(st.integers(0, len(out_list) - 1))
        out_list[i] = _mutated(draw, out_list[i])
        return out_list
    return draw(_objects)


@st.composite
def _pairs(draw: st.DrawFn) -> tuple[Any, Any]:
    old = draw(_objects)
    if draw(st.booleans()):
        old = {"metadata": {"managedFields": old, "resourceVersion": "1"}, "spec": old}
    new = _mutated(draw, old)
    if isinstance(new, dict) and isinstance(new.get("metadata"), dict) and draw(st.booleans()):
        # bookkeeping that appears (generation) or goes (resourceVersion): still no change
        meta = {k: v for k, v in new["metadata"].items() if k != "resourceVersion"}
        new = {**new, "metadata": meta | {"generation": 2}}
    return old, new


@settings(max_examples=400, deadline=None)
@given(pair=_pairs(), limit=st.sampled_from([1, 2, 200]))
def test_the_diff_is_the_plain_walks(pair: tuple[Any, Any], limit: int) -> None:
    old, new = pair
    assert diff(old, new, limit=limit) == _reference(old, new, limit=limit)
