import copy

from kubetrail.events.changes import changed_paths
from tests.support.k8s_objects import pod


def test_image_change_is_named_by_container_name():
    old = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "app", "image": "a:1"},
                        {"name": "side", "image": "s:1"},
                    ]
                }
            }
        }
    }
    new = copy.deepcopy(old)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "a:2"
    assert changed_paths(old, new) == ["spec.template.spec.containers[app].image"]


def test_added_removed_and_changed_keys_and_noise_ignored():
    old = pod()
    new = copy.deepcopy(old)
    new["metadata"]["resourceVersion"] = "9999"
    new["metadata"]["managedFields"] = []
    new["metadata"]["labels"]["tier"] = "web"
    del new["metadata"]["labels"]["pod-template-hash"]
    new["status"]["phase"] = "Failed"
    assert changed_paths(old, new) == [
        "metadata.labels.pod-template-hash",
        "metadata.labels.tier",
        "status.phase",
    ]


def test_conditions_are_matched_by_type():
    old = {
        "status": {
            "conditions": [
                {"type": "Ready", "status": "True"},
                {"type": "PodScheduled", "status": "True"},
            ]
        }
    }
    new = {
        "status": {
            "conditions": [
                {"type": "PodScheduled", "status": "True"},
                {"type": "Ready", "status": "False"},
            ]
        }
    }
    assert changed_paths(old, new) == ["status.conditions[Ready].status"]


def test_unkeyed_lists_by_position_and_length():
    assert changed_paths({"a": [1, 2]}, {"a": [1, 3]}) == ["a[1]"]
    assert changed_paths({"a": [1, 2]}, {"a": [1]}) == ["a"]
    assert changed_paths({"a": 1}, {"a": 1}) == []


def test_limit_caps_output():
    old = {f"k{i}": i for i in range(50)}
    new = {f"k{i}": i + 1 for i in range(50)}
    assert len(changed_paths(old, new, limit=10)) == 10
