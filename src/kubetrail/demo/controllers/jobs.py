"""The CronJob and job controllers: one scheduled run, from Job to history pruning;
and a Job whose pods keep failing, up to its backoff limit."""

from __future__ import annotations

from datetime import datetime

from kubetrail.demo.controllers.kubelet import pod_lifecycle
from kubetrail.demo.fields import touch
from kubetrail.demo.objects.events import record
from kubetrail.demo.objects.jobs import new_job
from kubetrail.demo.objects.pods import new_pod
from kubetrail.demo.primitives import KCM, Obj, Process, token, ts
from kubetrail.demo.simulation import Sim


def run_cronjob(sim: Sim, *, namespace: str, name: str, scheduled: datetime) -> Process:
    """One scheduled run of a CronJob: the CronJob controller starts a Job; the job
    controller runs its pod; the CronJob controller notes completion and prunes
    history to three Jobs."""
    cron = sim.find("CronJob", namespace, name)
    assert cron is not None
    yield 1
    job = sim.create(new_job(sim, cron, scheduled))
    job_name = job["metadata"]["name"]
    record(sim, cron, "SuccessfulCreate", f"Created job {job_name}", component="cronjob-controller")
    cron["status"]["active"] = [
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "name": job_name,
            "namespace": namespace,
            "resourceVersion": "",
            "uid": job["metadata"]["uid"],
        }
    ]
    cron["status"]["lastScheduleTime"] = ts(scheduled)
    touch(cron, KCM, sim.now, ("status",), subresource="status")
    sim.update(cron)

    pod = _create_pod(sim, job, f"{job_name}-{token(5, sim.seed, job_name)}")
    job["status"] = {
        "active": 1,
        "ready": 0,
        "startTime": ts(sim.now),
        "terminating": 0,
        "uncountedTerminatedPods": {},
    }
    touch(job, KCM, sim.now, ("status",), subresource="status")
    sim.update(job)
    yield from pod_lifecycle(sim, pod)
    if pod["status"]["phase"] != "Succeeded":
        return
    yield 1
    pod["metadata"].pop("finalizers", None)
    touch(pod, KCM, sim.now, ("metadata", "labels"), ("metadata", "ownerReferences"), ("spec",))
    sim.update(pod)
    job["status"] = {
        "completionTime": ts(sim.now),
        # SuccessCriteriaMet first, as the job controller has written since 1.31 (an API
        # server refuses Complete without it)
        "conditions": [
            {
                "lastProbeTime": ts(sim.now),
                "lastTransitionTime": ts(sim.now),
                "message": "Reached expected number of succeeded pods",
                "reason": "CompletionsReached",
                "status": "True",
                "type": type_,
            }
            for type_ in ("SuccessCriteriaMet", "Complete")
        ],
        "ready": 0,
        "startTime": job["status"]["startTime"],
        "succeeded": 1,
        "terminating": 0,
        "uncountedTerminatedPods": {},
    }
    touch(job, KCM, sim.now, ("status",), subresource="status")
    sim.update(job)
    record(sim, job, "Completed", "Job completed", component="job-controller")
    yield 1
    cron["status"].pop("active", None)
    cron["status"]["lastSuccessfulTime"] = ts(sim.now)
    touch(cron, KCM, sim.now, ("status",), subresource="status")
    sim.update(cron)
    record(
        sim,
        cron,
        "SawCompletedJob",
        f"Saw completed job: {job_name}, status: Complete",
        component="cronjob-controller",
    )
    jobs = sorted(sim.owned(cron, "Job"), key=lambda j: j["metadata"]["creationTimestamp"])
    for old in jobs[: max(0, len(jobs) - 3)]:
        record(
            sim,
            cron,
            "SuccessfulDelete",
            f"Deleted job {old['metadata']['name']}",
            component="cronjob-controller",
        )
        sim.delete(old)
        yield 1
        for old_pod in sim.owned(old, "Pod"):  # the garbage collector
            sim.delete(old_pod)


def run_job(sim: Sim, job: Obj) -> Process:
    """The job controller running a Job whose pods do not restart: a new pod after each
    failure, after a back-off doubling from 10s, until ``backoffLimit`` failures are
    exceeded (``Failed``, reason ``BackoffLimitExceeded``) or a pod succeeds."""
    name = job["metadata"]["name"]
    start = ts(sim.now)
    failed = 0
    while True:
        yield 1
        pod = _create_pod(sim, job, f"{name}-{token(5, sim.seed, name, failed)}")
        job["status"] = {
            "active": 1,
            **({"failed": failed} if failed else {}),
            "ready": 0,
            "startTime": start,
            "terminating": 0,
            "uncountedTerminatedPods": {},
        }
        touch(job, KCM, sim.now, ("status",), subresource="status")
        sim.update(job)
        yield from pod_lifecycle(sim, pod)
        if pod["status"]["phase"] != "Failed":
            return  # succeeded, or the pod went away: not part of this story
        yield 1
        failed += 1
        pod["metadata"].pop("finalizers", None)
        touch(pod, KCM, sim.now, ("metadata", "labels"), ("metadata", "ownerReferences"))
        sim.update(pod)
        status: Obj = {
            "failed": failed,
            "ready": 0,
            "startTime": start,
            "terminating": 0,
            "uncountedTerminatedPods": {},
        }
        if failed > job["spec"]["backoffLimit"]:
            message = "Job has reached the specified backoff limit"
            status["conditions"] = [
                {
                    "lastProbeTime": ts(sim.now),
                    "lastTransitionTime": ts(sim.now),
                    "message": message,
                    "reason": "BackoffLimitExceeded",
                    "status": "True",
                    "type": type_,
                }
                for type_ in ("FailureTarget", "Failed")
            ]
            job["status"] = status
            touch(job, KCM, sim.now, ("status",), subresource="status")
            sim.update(job)
            record(
                sim,
                job,
                "BackoffLimitExceeded",
                message,
                type_="Warning",
                component="job-controller",
            )
            return
        job["status"] = status
        touch(job, KCM, sim.now, ("status",), subresource="status")
        sim.update(job)
        yield 10 * 2 ** (failed - 1)


def _create_pod(sim: Sim, job: Obj, pod_name: str) -> Obj:
    """The job controller creating one of the Job's pods, and saying so in an Event."""
    pod = sim.create(
        new_pod(
            sim,
            job,
            job["spec"]["template"],
            pod_name,
            generate_name=f"{job['metadata']['name']}-",
            finalizers=["batch.kubernetes.io/job-tracking"],
        )
    )
    record(sim, job, "SuccessfulCreate", f"Created pod: {pod_name}", component="job-controller")
    return pod
