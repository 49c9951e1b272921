"""A CronJob written with ``kubectl apply``, the Jobs its controller creates, and a
Job applied by hand."""

from __future__ import annotations

import copy
from datetime import datetime

from kubetrail.demo.fields import touch
from kubetrail.demo.objects.meta import LAST_APPLIED, applied_manifest, object_meta
from kubetrail.demo.primitives import KCM, Obj, ts
from kubetrail.demo.simulation import Sim


def new_cronjob(sim: Sim, name: str, namespace: str, image: str, schedule: str) -> Obj:
    container = {
        "args": ["--since=1h", "--to=s3://reports/hourly/"],
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "name": name,
        "resources": {
            "limits": {"memory": "256Mi"},
            "requests": {"cpu": "100m", "memory": "128Mi"},
        },
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    }
    obj: Obj = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": object_meta(sim, "CronJob", name, namespace, sim.now, generation=1),
        "spec": {
            "concurrencyPolicy": "Forbid",
            "failedJobsHistoryLimit": 1,
            "jobTemplate": {
                "metadata": {"creationTimestamp": None},
                "spec": {
                    "backoffLimit": 2,
                    "template": {
                        "metadata": {"creationTimestamp": None, "labels": {"app": name}},
                        "spec": {
                            "containers": [container],
                            "dnsPolicy": "ClusterFirst",
                            "nodeSelector": {"node.example.com/pool": "batch"},
                            "restartPolicy": "OnFailure",
                            "schedulerName": "default-scheduler",
                            "securityContext": {},
                            "terminationGracePeriodSeconds": 30,
                        },
                    },
                },
            },
            "schedule": schedule,
            "successfulJobsHistoryLimit": 3,
            "suspend": False,
        },
        "status": {},
    }
    applied_container = {k: container[k] for k in ("args", "image", "name", "resources")}
    obj["metadata"]["annotations"] = {
        LAST_APPLIED: applied_manifest(
            obj,
            spec={
                "concurrencyPolicy": "Forbid",
                "jobTemplate": {
                    "spec": {
                        "backoffLimit": 2,
                        "template": {
                            "metadata": {"labels": {"app": name}},
                            "spec": {
                                "containers": [applied_container],
                                "nodeSelector": {"node.example.com/pool": "batch"},
                                "restartPolicy": "OnFailure",
                            },
                        },
                    }
                },
                "schedule": schedule,
            },
        )
    }
    touch(obj, "kubectl-client-side-apply", sim.now, ("metadata", "annotations"), ("spec",))
    return obj


def new_job(sim: Sim, cron: Obj, scheduled: datetime) -> Obj:
    name = f"{cron['metadata']['name']}-{int(scheduled.timestamp()) // 60}"
    namespace = cron["metadata"]["namespace"]
    uid = sim.uid("Job", namespace, name)
    labels = {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": name,
        "controller-uid": uid,
        "job-name": name,
    }
    spec = copy.deepcopy(cron["spec"]["jobTemplate"]["spec"])
    spec["template"]["metadata"]["labels"].update(labels)
    spec.update(
        completionMode="NonIndexed",
        completions=1,
        manualSelector=False,
        parallelism=1,
        podReplacementPolicy="TerminatingOrFailed",
        selector={"matchLabels": {"batch.kubernetes.io/controller-uid": uid}},
        suspend=False,
    )
    obj: Obj = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": object_meta(
            sim,
            "Job",
            name,
            namespace,
            sim.now,
            labels=labels,
            annotations={"batch.kubernetes.io/cronjob-scheduled-timestamp": ts(scheduled)},
            owner=cron,
            generation=1,
        ),
        "spec": spec,
        "status": {},
    }
    touch(
        obj,
        KCM,
        sim.now,
        ("metadata", "annotations"),
        ("metadata", "ownerReferences"),
        ("spec", "backoffLimit"),
        ("spec", "template"),
    )
    return obj


def new_applied_job(
    sim: Sim, name: str, namespace: str, container: Obj, *, backoff_limit: int
) -> Obj:
    """A one-off Job as ``kubectl apply`` creates it (``restartPolicy: Never``), with the
    defaults the API server adds (selector, completions, pod labels)."""
    uid = sim.uid("Job", namespace, name)
    labels = {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": name,
        "controller-uid": uid,
        "job-name": name,
    }
    full = {
        "imagePullPolicy": "IfNotPresent",
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        **copy.deepcopy(container),
    }
    obj: Obj = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": object_meta(
            sim, "Job", name, namespace, sim.now, labels={"app": name}, generation=1
        ),
        "spec": {
            "backoffLimit": backoff_limit,
            "completionMode": "NonIndexed",
            "completions": 1,
            "manualSelector": False,
            "parallelism": 1,
            "podReplacementPolicy": "TerminatingOrFailed",
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}},
            "suspend": False,
            "template": {
                "metadata": {"creationTimestamp": None, "labels": {"app": name, **labels}},
                "spec": {
                    "containers": [full],
                    "dnsPolicy": "ClusterFirst",
                    "restartPolicy": "Never",
                    "schedulerName": "default-scheduler",
                    "securityContext": {},
                    "terminationGracePeriodSeconds": 30,
                },
            },
        },
        "status": {},
    }
    obj["metadata"]["annotations"] = {
        LAST_APPLIED: applied_manifest(
            obj,
            spec={
                "backoffLimit": backoff_limit,
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [container], "restartPolicy": "Never"},
                },
            },
        )
    }
    touch(
        obj,
        "kubectl-client-side-apply",
        sim.now,
        ("metadata", "annotations"),
        ("metadata", "labels"),
        ("spec", "backoffLimit"),
        ("spec", "template"),
    )
    return obj
