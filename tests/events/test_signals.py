"""Each signal from a realistic object, shaped as `kubectl get -o json` prints it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubetrail.events.signals import derive_signals
from tests.support.k8s_objects import crashlooping_status, k8s_event, node, pod


def _waiting_pod(reason: str, message: str = "") -> dict[str, Any]:
    status = {
        "phase": "Pending",
        "conditions": [
            {
                "type": "PodScheduled",
                "status": "True",
                "lastTransitionTime": "2026-11-25T03:00:00Z",
            },
            {
                "type": "Ready",
                "status": "False",
                "reason": "ContainersNotReady",
                "lastTransitionTime": "2026-11-25T03:00:00Z",
            },
        ],
        "containerStatuses": [
            {
                "name": "app",
                "ready": False,
                "started": False,
                "restartCount": 0,
                "image": "registry.example.com/payments/payment-api:v2.3.O",
                "imageID": "",
                "state": {"waiting": {"reason": reason, "message": message}},
            }
        ],
    }
    return pod(status=status)


@pytest.mark.parametrize(
    "reason",
    [
        "ImagePullBackOff",
        "ErrImagePull",
        "CreateContainerConfigError",
        "CreateContainerError",
        "InvalidImageName",
        "RunContainerError",
    ],
)
def test_waiting_reasons_become_signals(reason: str) -> None:
    signals = derive_signals(_waiting_pod(reason, "something failed"))
    assert f"pod.waiting:{reason}" in signals


def test_normal_startup_waiting_is_not_a_signal() -> None:
    assert derive_signals(_waiting_pod("ContainerCreating")) == []
    assert derive_signals(_waiting_pod("PodInitializing")) == []


def test_crashloop_carries_last_termination_and_exit_code() -> None:
    signals = derive_signals(pod(status=crashlooping_status()))
    assert signals == [
        "pod.exitCode:1",
        "pod.lastTerminated:Error",
        "pod.notReady",
        "pod.waiting:CrashLoopBackOff",
    ]


def test_oomkilled_last_state() -> None:
    status = crashlooping_status()
    last = status["containerStatuses"][0]["lastState"]["terminated"]
    last.update(reason="OOMKilled", exitCode=137)
    signals = derive_signals(pod(status=status))
    assert "pod.lastTerminated:OOMKilled" in signals
    assert "pod.exitCode:137" in signals


def test_successful_termination_is_not_a_signal() -> None:
    status = {
        "phase": "Succeeded",
        "containerStatuses": [
            {
                "name": "job",
                "ready": False,
                "restartCount": 0,
                "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
            }
        ],
    }
    assert derive_signals(pod(status=status)) == []


def test_terminated_with_error_exit() -> None:
    status = {
        "phase": "Failed",
        "containerStatuses": [
            {"name": "job", "state": {"terminated": {"exitCode": 2, "reason": "Error"}}}
        ],
    }
    assert derive_signals(pod(status=status)) == [
        "pod.exitCode:2",
        "pod.phase:Failed",
        "pod.terminated:Error",
    ]


def test_init_container_failures_are_seen() -> None:
    status = {
        "phase": "Pending",
        "initContainerStatuses": [
            {
                "name": "migrate",
                "restartCount": 3,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
            }
        ],
        "containerStatuses": [{"name": "app", "state": {"waiting": {"reason": "PodInitializing"}}}],
    }
    signals = derive_signals(pod(status=status))
    assert "pod.waiting:CrashLoopBackOff" in signals
    assert "pod.lastTerminated:Error" in signals
    assert "pod.waiting:PodInitializing" not in signals


def test_evicted_pod() -> None:
    status = {
        "phase": "Failed",
        "reason": "Evicted",
        "message": "The node was low on resource: memory. Threshold quantity: 100Mi, available: 92Mi.",
    }
    assert derive_signals(pod(status=status)) == ["pod.phase:Failed", "pod.reason:Evicted"]


def test_unschedulable_pod() -> None:
    status = {
        "phase": "Pending",
        "conditions": [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/4 nodes are available: 4 pod has unbound immediate PersistentVolumeClaims.",
                "lastTransitionTime": "2026-11-25T04:00:00Z",
            }
        ],
    }
    assert derive_signals(pod(status=status)) == ["pod.unschedulable"]


def test_not_ready_only_for_running_pods_not_being_deleted() -> None:
    status = copy.deepcopy(pod()["status"])
    status["conditions"][0]["status"] = "False"
    assert derive_signals(pod(status=status)) == ["pod.notReady"]

    terminating = pod(status=status)
    terminating["metadata"]["deletionTimestamp"] = "2026-11-25T04:00:00Z"
    assert derive_signals(terminating) == []


def test_healthy_pod_has_no_signals() -> None:
    assert derive_signals(pod()) == []


@pytest.mark.parametrize("status", ["Unknown", "False"])
def test_node_not_ready(status: str) -> None:
    assert derive_signals(node(ready=status)) == [f"node.condition:Ready={status}"]


def test_node_healthy() -> None:
    assert derive_signals(node()) == []


@pytest.mark.parametrize(
    "pressure", ["MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable"]
)
def test_node_pressure(pressure: str) -> None:
    obj = node()
    obj["status"]["conditions"].append(
        {
            "type": pressure,
            "status": "True",
            "reason": f"Kubelet Has {pressure}",
            "lastHeartbeatTime": "2026-11-25T04:00:00Z",
            "lastTransitionTime": "2026-11-25T03:58:00Z",
        }
    )
    assert derive_signals(obj) == [f"node.condition:{pressure}=True"]


def test_node_pressure_false_is_healthy() -> None:
    obj = node()
    obj["status"]["conditions"].append({"type": "MemoryPressure", "status": "False"})
    assert derive_signals(obj) == []


def test_cordoned_node() -> None:
    obj = node()
    obj["spec"]["unschedulable"] = True
    obj["spec"]["taints"] = [
        {
            "key": "node.kubernetes.io/unschedulable",
            "effect": "NoSchedule",
            "timeAdded": "2026-11-25T04:00:00Z",
        }
    ]
    assert derive_signals(obj) == ["node.unschedulable"]


def _pvc(phase: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": "postgres-data",
            "namespace": "data",
            "uid": "pvc-uid-1",
            "resourceVersion": "9001",
            "creationTimestamp": "2026-11-25T04:00:00Z",
            "finalizers": ["kubernetes.io/pvc-protection"],
        },
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "20Gi"}},
            "storageClassName": "fast-ssd",
            "volumeMode": "Filesystem",
        },
        "status": {"phase": phase},
    }


@pytest.mark.parametrize("phase", ["Pending", "Lost"])
def test_pvc_problem_phases(phase: str) -> None:
    assert derive_signals(_pvc(phase)) == [f"pvc.phase:{phase}"]


def test_bound_pvc_is_healthy() -> None:
    assert derive_signals(_pvc("Bound")) == []


def test_failed_pv() -> None:
    pv = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": "pvc-123", "uid": "pv-1", "resourceVersion": "1"},
        "status": {"phase": "Failed", "message": "recycler failed"},
    }
    assert derive_signals(pv) == ["pv.phase:Failed"]


def test_core_event_reason_and_type() -> None:
    assert derive_signals(k8s_event()) == ["event.reason:BackOff", "event.type:Warning"]
    normal = k8s_event(reason="Pulled", type_="Normal")
    assert derive_signals(normal) == ["event.reason:Pulled", "event.type:Normal"]


def test_events_k8s_io_event() -> None:
    event = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {
            "name": "worker-3.180a",
            "namespace": "default",
            "uid": "ev-2",
            "resourceVersion": "5",
        },
        "eventTime": "2026-11-25T04:20:00.000000Z",
        "reason": "NodeNotReady",
        "note": "Node worker-3 status is now: NodeNotReady",
        "type": "Normal",
        "regarding": {"kind": "Node", "name": "worker-3", "uid": "node-worker-3-uid"},
        "reportingController": "node-controller",
        "reportingInstance": "",
        "action": "NodeNotReady",
    }
    assert derive_signals(event) == ["event.reason:NodeNotReady", "event.type:Normal"]


def test_event_kind_of_another_api_group_is_not_a_kubernetes_event() -> None:
    crd = {
        "apiVersion": "example.com/v1",
        "kind": "Event",
        "metadata": {"name": "x"},
        "reason": "Foo",
    }
    assert derive_signals(crd) == []


def _deployment(conditions: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "checkout",
            "namespace": "shop",
            "uid": "dep-1",
            "resourceVersion": "7",
            "generation": 4,
        },
        "spec": {"replicas": 3},
        "status": {
            "observedGeneration": 4,
            "replicas": 4,
            "updatedReplicas": 1,
            "readyReplicas": 2,
            "availableReplicas": 2,
            "unavailableReplicas": 2,
            "conditions": conditions,
        },
    }


def test_deployment_progress_deadline_exceeded() -> None:
    obj = _deployment(
        [
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
            {
                "type": "Progressing",
                "status": "False",
                "reason": "ProgressDeadlineExceeded",
                "message": 'ReplicaSet "checkout-6c8f9d7b4" has timed out progressing.',
            },
        ]
    )
    assert derive_signals(obj) == [
        "deployment.condition:Progressing=False",
        "deployment.reason:ProgressDeadlineExceeded",
    ]


def test_deployment_unavailable_and_replica_failure() -> None:
    obj = _deployment(
        [
            {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"},
            {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate"},
            {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"},
        ]
    )
    assert derive_signals(obj) == [
        "deployment.condition:Available=False",
        "deployment.condition:ReplicaFailure=True",
        "deployment.reason:FailedCreate",
        "deployment.reason:MinimumReplicasUnavailable",
    ]


def test_failed_job() -> None:
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "etl-nightly",
            "namespace": "data",
            "uid": "job-1",
            "resourceVersion": "3",
        },
        "status": {
            "failed": 6,
            "conditions": [
                {
                    "type": "Failed",
                    "status": "True",
                    "reason": "BackoffLimitExceeded",
                    "message": "Job has reached the specified backoff limit",
                }
            ],
        },
    }
    assert derive_signals(job) == ["job.condition:Failed=True", "job.reason:BackoffLimitExceeded"]


def test_job_past_its_deadline_is_a_failure_target_first() -> None:
    # since 1.31 the controller sets FailureTarget while the pods terminate, then Failed
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "report", "namespace": "batch", "generation": 1},
        "spec": {"activeDeadlineSeconds": 600, "backoffLimit": 6},
        "status": {
            "active": 1,
            "startTime": "2026-11-25T10:05:00Z",
            "conditions": [
                {
                    "type": "FailureTarget",
                    "status": "True",
                    "reason": "DeadlineExceeded",
                    "message": "Job was active longer than specified deadline",
                }
            ],
        },
    }
    assert derive_signals(job) == [
        "job.condition:FailureTarget=True",
        "job.reason:DeadlineExceeded",
    ]


def _statefulset(status: dict[str, Any], *, generation: int = 2, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "postgres", "namespace": "data", "generation": generation},
        "spec": {
            "replicas": 3,
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            **spec,
        },
        "status": status,
    }


_STS_DONE = {
    "observedGeneration": 2,
    "replicas": 3,
    "readyReplicas": 3,
    "currentReplicas": 3,
    "updatedReplicas": 3,
    "currentRevision": "postgres-5d8f7c9b6",
    "updateRevision": "postgres-5d8f7c9b6",
    "availableReplicas": 3,
}


@pytest.mark.parametrize(
    ("status", "spec", "expected"),
    [
        (_STS_DONE, {}, []),
        ({**_STS_DONE, "observedGeneration": 1}, {}, ["statefulset.rollout:NotObserved"]),
        ({}, {}, ["statefulset.rollout:NotObserved"]),  # just created
        ({**_STS_DONE, "readyReplicas": 2}, {}, ["statefulset.rollout:PodsNotReady"]),
        (
            {**_STS_DONE, "updatedReplicas": 1, "updateRevision": "postgres-7b6c5d4f3"},
            {},
            ["statefulset.rollout:Updating"],
        ),
        (  # a partitioned rollout is done once the pods above the partition are updated
            {**_STS_DONE, "updatedReplicas": 1, "updateRevision": "postgres-7b6c5d4f3"},
            {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}},
            [],
        ),
        (  # OnDelete: kubectl has no rollout to wait for
            {**_STS_DONE, "updatedReplicas": 0, "updateRevision": "postgres-7b6c5d4f3"},
            {"updateStrategy": {"type": "OnDelete"}},
            [],
        ),
    ],
)
def test_statefulset_rollout_signals(status: dict, spec: dict, expected: list[str]) -> None:
    assert derive_signals(_statefulset(status, **spec)) == expected


def test_daemonset_rollout_signals() -> None:
    ds = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "node-exporter", "namespace": "monitoring", "generation": 4},
        "spec": {"updateStrategy": {"type": "RollingUpdate"}},
        "status": {
            "observedGeneration": 4,
            "desiredNumberScheduled": 4,
            "currentNumberScheduled": 4,
            "updatedNumberScheduled": 2,
            "numberReady": 3,
            "numberAvailable": 3,
            "numberUnavailable": 1,
            "numberMisscheduled": 0,
        },
    }
    assert derive_signals(ds) == ["daemonset.rollout:PodsUnavailable", "daemonset.rollout:Updating"]
    ds["status"].update(updatedNumberScheduled=4, numberAvailable=4, numberReady=4)
    del ds["status"]["numberUnavailable"]
    assert derive_signals(ds) == []
    ds["metadata"]["generation"] = 5
    assert derive_signals(ds) == ["daemonset.rollout:NotObserved"]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({}, []),  # never scheduled yet
        (  # running now
            {
                "active": [{"kind": "Job", "name": "backup-29400000"}],
                "lastScheduleTime": "2026-11-25T10:00:00Z",
                "lastSuccessfulTime": "2026-11-25T09:00:41Z",
            },
            [],
        ),
        (
            {
                "lastScheduleTime": "2026-11-25T10:00:00Z",
                "lastSuccessfulTime": "2026-11-25T10:00:52Z",
            },
            [],
        ),
        (  # the last run ended without succeeding
            {
                "lastScheduleTime": "2026-11-25T10:00:00Z",
                "lastSuccessfulTime": "2026-11-25T09:00:41Z",
            },
            ["cronjob.lastRunFailed"],
        ),
        ({"lastScheduleTime": "2026-11-25T10:00:00Z"}, ["cronjob.lastRunFailed"]),
    ],
)
def test_cronjob_last_run_failed(status: dict, expected: list[str]) -> None:
    cron = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "backup", "namespace": "data", "generation": 1},
        "spec": {"schedule": "0 * * * *"},
        "status": status,
    }
    assert derive_signals(cron) == expected


@pytest.mark.parametrize(
    "obj",
    [
        {},
        {"kind": "Pod"},
        {"kind": "Pod", "status": []},
        {"kind": "Pod", "status": {"containerStatuses": "oops"}},
        {"kind": "Pod", "status": {"containerStatuses": [{"state": {"waiting": {"reason": 5}}}]}},
        {"kind": "Node", "status": {"conditions": [{"type": "Ready"}, "x", None]}},
        {"kind": "Node", "spec": None},
        {"kind": "Event", "apiVersion": "v1", "reason": ["x"]},
        {"kind": ["Pod"]},
    ],
)
def test_malformed_objects_never_raise(obj: Any) -> None:
    assert derive_signals(obj) == []


def test_unknown_kind_has_no_signals() -> None:
    assert (
        derive_signals({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}) == []
    )
