"""The kubelet: runs a bound pod, crash-loops it, stops it.

:func:`pod_lifecycle` is the life of a new pod: scheduled, then run by the
kubelet as its image's behaviour (:mod:`kubetrail.demo.behaviours`) says, with
the container Events and status a real kubelet writes. A node whose kubelet is
down (``sim.down``) does nothing any more.
"""

from __future__ import annotations

from datetime import timedelta

from kubetrail.demo.behaviours import Completes, Crashes, MissingImage, Runs
from kubetrail.demo.controllers.scheduler import schedule_pod
from kubetrail.demo.controllers.status import sync_owner
from kubetrail.demo.fields import touch
from kubetrail.demo.objects.events import record
from kubetrail.demo.objects.pods import (
    container_id,
    container_status,
    first_container,
    image_id,
    set_pod_conditions,
)
from kubetrail.demo.primitives import Obj, Process, go_duration, pick, ts
from kubetrail.demo.simulation import Sim


def kubelet_alive(sim: Sim, pod: Obj) -> bool:
    """Whether the kubelet still looks after ``pod`` (alive, not deleting, node up)."""
    return (
        sim.alive(pod)
        and not pod["metadata"].get("deletionTimestamp")
        and pod["spec"].get("nodeName") not in sim.down
    )


def _kubelet_update(sim: Sim, pod: Obj) -> None:
    touch(pod, "kubelet", sim.now, ("status",), subresource="status")
    sim.update(pod)
    sync_owner(sim, pod)


def pod_lifecycle(sim: Sim, pod: Obj) -> Process:
    """A new pod's life: scheduled, then run by the kubelet of its node."""
    node = yield from schedule_pod(sim, pod)
    if node is None:
        return
    yield 1
    yield from _kubelet_run(sim, pod)


def _kubelet_run(sim: Sim, pod: Obj) -> Process:
    if not kubelet_alive(sim, pod):
        return
    node = pod["spec"]["nodeName"]
    container = first_container(pod)
    image = container["image"]
    status = pod["status"]
    status.update(
        hostIP=sim.nodes[node]["status"]["addresses"][0]["address"], startTime=ts(sim.now)
    )
    status["hostIPs"] = [{"ip": status["hostIP"]}]
    status["containerStatuses"] = [
        {
            "image": image,
            "imageID": "",
            "lastState": {},
            "name": container["name"],
            "ready": False,
            "restartCount": 0,
            "started": False,
            "state": {"waiting": {"reason": "ContainerCreating"}},
        }
    ]
    set_pod_conditions(pod, sim.now, sandbox=False, ready=False)
    _kubelet_update(sim, pod)
    yield 2
    if not kubelet_alive(sim, pod):
        return
    cidr = sim.nodes[node]["spec"]["podCIDR"].rsplit(".", 1)[0]
    status["podIP"] = f"{cidr}.{2 + pick(250, pod['metadata']['uid'])}"
    status["podIPs"] = [{"ip": status["podIP"]}]
    behaviour = sim.behaviour.get(image, Runs())
    if isinstance(behaviour, MissingImage):
        yield from _image_pull_backoff(sim, pod)
        return
    yield from _pull(sim, pod)
    _start_container(sim, pod, restarts=0)
    if isinstance(behaviour, Runs):
        if container.get("readinessProbe"):
            yield behaviour.ready_after
            if not kubelet_alive(sim, pod):
                return
            container_status(pod)["ready"] = True
            set_pod_conditions(pod, sim.now, sandbox=True, ready=True)
            _kubelet_update(sim, pod)
    elif isinstance(behaviour, Completes):
        yield behaviour.runtime + pick(30, pod["metadata"]["uid"])
        if kubelet_alive(sim, pod):
            _complete(sim, pod)
    elif pod["spec"].get("restartPolicy") == "Never":
        yield behaviour.runtime
        if kubelet_alive(sim, pod):
            _fail(sim, pod, behaviour)
    else:
        yield from crash_loop(sim, pod, behaviour, first_in=behaviour.runtime)


def _container_event(sim: Sim, pod: Obj, reason: str, message: str, type_: str = "Normal") -> None:
    name = first_container(pod)["name"]
    record(
        sim,
        pod,
        reason,
        message,
        type_=type_,
        host=pod["spec"]["nodeName"],
        field_path=f"spec.containers{{{name}}}",
    )


def _pull(sim: Sim, pod: Obj) -> Process:
    node = pod["spec"]["nodeName"]
    image = first_container(pod)["image"]
    if image in sim.images[node]:
        _container_event(
            sim, pod, "Pulled", f'Container image "{image}" already present on machine'
        )
        return
    _container_event(sim, pod, "Pulling", f'Pulling image "{image}"')
    millis = 1200 + pick(3800, image, node)
    yield millis // 1000 + 1
    took = f"{millis / 1000:.3f}s"
    _container_event(
        sim,
        pod,
        "Pulled",
        f'Successfully pulled image "{image}" in {took} ({took} including waiting)',
    )
    sim.images[node].add(image)


def _start_container(sim: Sim, pod: Obj, *, restarts: int, last: Obj | None = None) -> None:
    container = first_container(pod)
    name = container["name"]
    _container_event(sim, pod, "Created", f"Created container {name}")
    _container_event(sim, pod, "Started", f"Started container {name}")
    ready = not container.get("readinessProbe")
    pod["status"]["phase"] = "Running"
    pod["status"]["containerStatuses"] = [
        {
            "containerID": container_id(pod, restarts),
            "image": container["image"],
            "imageID": image_id(container["image"]),
            "lastState": last or {},
            "name": name,
            "ready": ready,
            "restartCount": restarts,
            "started": True,
            "state": {"running": {"startedAt": ts(sim.now)}},
        }
    ]
    set_pod_conditions(pod, sim.now, sandbox=True, ready=ready)
    _kubelet_update(sim, pod)


def _complete(sim: Sim, pod: Obj) -> None:
    cs = container_status(pod)
    cs["state"] = {
        "terminated": {
            "containerID": cs["containerID"],
            "exitCode": 0,
            "finishedAt": ts(sim.now),
            "reason": "Completed",
            "startedAt": cs["state"]["running"]["startedAt"],
        }
    }
    cs.update(ready=False, started=False)
    pod["status"]["phase"] = "Succeeded"
    set_pod_conditions(pod, sim.now, sandbox=False, ready=False, completed=True)
    _kubelet_update(sim, pod)


def _fail(sim: Sim, pod: Obj, crash: Crashes) -> None:
    """The container dies and, with ``restartPolicy: Never``, so does the pod: Failed."""
    cs = container_status(pod)
    terminated: Obj = {
        "containerID": cs["containerID"],
        "exitCode": crash.exit_code,
        "finishedAt": ts(sim.now),
        "reason": crash.reason,
        "startedAt": cs["state"]["running"]["startedAt"],
    }
    if crash.message and first_container(pod)["terminationMessagePolicy"] == (
        "FallbackToLogsOnError"
    ):
        terminated["message"] = crash.message
    cs.update(ready=False, started=False, state={"terminated": terminated})
    pod["status"]["phase"] = "Failed"
    set_pod_conditions(pod, sim.now, sandbox=False, ready=False, failed=True)
    _kubelet_update(sim, pod)


def crash_loop(sim: Sim, pod: Obj, crash: Crashes, *, first_in: int) -> Process:
    """The container dies; the kubelet restarts it after a back-off doubling from
    10s to 5m; ``status`` shows CrashLoopBackOff with the last termination."""
    backoff = 10
    yield first_in
    container = first_container(pod)
    name, ns, pod_name = container["name"], pod["metadata"]["namespace"], pod["metadata"]["name"]
    uid = pod["metadata"]["uid"]
    while kubelet_alive(sim, pod):
        cs = container_status(pod)
        restarts = cs["restartCount"]
        terminated: Obj = {
            "containerID": cs["containerID"],
            "exitCode": crash.exit_code,
            "finishedAt": ts(sim.now),
            "reason": crash.reason,
            "startedAt": cs["state"]["running"]["startedAt"],
        }
        if crash.message and container["terminationMessagePolicy"] == "FallbackToLogsOnError":
            terminated["message"] = crash.message
        cs.update(
            lastState={"terminated": terminated},
            ready=False,
            started=False,
            state={
                "waiting": {
                    "message": f"back-off {go_duration(backoff)} restarting failed "
                    f"container={name} pod={pod_name}_{ns}({uid})",
                    "reason": "CrashLoopBackOff",
                }
            },
        )
        set_pod_conditions(pod, sim.now, sandbox=True, ready=False)
        _kubelet_update(sim, pod)
        node = pod["spec"]["nodeName"]
        if crash.oom_process:
            pid = 20_000 + pick(40_000, uid, restarts)
            record(
                sim,
                sim.nodes[node],
                "SystemOOM",
                f"System OOM encountered, victim process: {crash.oom_process}, pid: {pid}",
                type_="Warning",
                host=node,
            )
        _container_event(
            sim,
            pod,
            "BackOff",
            f"Back-off restarting failed container {name} in pod {pod_name}_{ns}({uid})",
            "Warning",
        )
        yield backoff
        if not kubelet_alive(sim, pod):
            return
        image = container["image"]
        _container_event(
            sim, pod, "Pulled", f'Container image "{image}" already present on machine'
        )
        _start_container(sim, pod, restarts=restarts + 1, last={"terminated": terminated})
        backoff = min(backoff * 2, 300)
        yield crash.runtime + (pick(crash.jitter, uid, restarts) if crash.jitter else 0)


def _image_pull_backoff(sim: Sim, pod: Obj) -> Process:
    """ErrImagePull, then ImagePullBackOff, retried with a back-off up to 5 minutes."""
    image = first_container(pod)["image"]
    not_found = (
        f'rpc error: code = NotFound desc = failed to pull and unpack image "{image}": '
        f'failed to resolve reference "{image}": {image}: not found'
    )
    backoff = 10
    while kubelet_alive(sim, pod):
        _container_event(sim, pod, "Pulling", f'Pulling image "{image}"')
        yield 1
        if not kubelet_alive(sim, pod):
            return
        _container_event(
            sim, pod, "Failed", f'Failed to pull image "{image}": {not_found}', "Warning"
        )
        _container_event(sim, pod, "Failed", "Error: ErrImagePull", "Warning")
        container_status(pod)["state"] = {
            "waiting": {"message": not_found, "reason": "ErrImagePull"}
        }
        set_pod_conditions(pod, sim.now, sandbox=True, ready=False)
        _kubelet_update(sim, pod)
        yield 1 + pick(10, pod["metadata"]["uid"], backoff)
        if not kubelet_alive(sim, pod):
            return
        back_off = f'Back-off pulling image "{image}"'
        _container_event(sim, pod, "BackOff", back_off)
        _container_event(sim, pod, "Failed", "Error: ImagePullBackOff", "Warning")
        container_status(pod)["state"] = {
            "waiting": {"message": back_off, "reason": "ImagePullBackOff"}
        }
        _kubelet_update(sim, pod)
        yield backoff
        backoff = min(backoff * 2, 300)


def start_termination(sim: Sim, pod: Obj, grace: int = 30) -> None:
    """Delete ``pod`` gracefully: mark it Terminating; its kubelet stops it."""
    pod["metadata"]["deletionTimestamp"] = ts(sim.now + timedelta(seconds=grace))
    pod["metadata"]["deletionGracePeriodSeconds"] = grace
    sim.update(pod)
    sim.later(1, _kubelet_terminate(sim, pod))


def _kubelet_terminate(sim: Sim, pod: Obj) -> Process:
    """The kubelet stops a pod being deleted, then confirms the deletion."""
    node = pod["spec"].get("nodeName")
    if node is None:
        sim.delete(pod)
        return
    if node in sim.down:
        return  # nobody confirms: the pod stays Terminating
    name = first_container(pod)["name"]
    record(
        sim,
        pod,
        "Killing",
        f"Stopping container {name}",
        host=node,
        field_path=f"spec.containers{{{name}}}",
    )
    yield 2 + pick(3, pod["metadata"]["uid"])
    if not pod["status"].get("containerStatuses"):
        sim.delete(pod)
        sync_owner(sim, pod)
        return
    cs = container_status(pod)
    running = cs["state"].get("running")
    if running:
        cs["state"] = {
            "terminated": {
                "containerID": cs["containerID"],
                "exitCode": 0,
                "finishedAt": ts(sim.now),
                "reason": "Completed",
                "startedAt": running["startedAt"],
            }
        }
    cs.update(ready=False, started=False)
    pod["status"]["phase"] = "Succeeded"
    set_pod_conditions(pod, sim.now, sandbox=False, ready=False, completed=True)
    _kubelet_update(sim, pod)
    yield 1
    sim.delete(pod)
    sync_owner(sim, pod)
