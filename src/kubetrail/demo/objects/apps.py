"""An application as its owner describes it, and the pod template made from it.

:class:`App` holds what a helm chart, an argocd app or a manifest would say about
one application (image, replicas, resources, probes, env, rollout strategy). The
workload builders turn it into a Deployment or StatefulSet through
:func:`pod_template`; :func:`hash_template` gives the ``pod-template-hash``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from kubetrail.demo.primitives import Obj, pick, token


@dataclass(frozen=True)
class App:
    """One application as its owner deploys it (a helm chart, an argocd app, a manifest)."""

    namespace: str
    name: str
    repo: str
    replicas: int
    manager: str  # helm | argocd-controller | kubectl-client-side-apply | kubeadm
    history: tuple[tuple[float, str], ...]  # (days ago, version) of each rollout
    port: int = 8080
    cpu: str = "100m"
    memory: str = "128Mi"
    memory_limit: str = "256Mi"
    max_surge: int | str = "25%"
    max_unavailable: int | str = "25%"
    progress_deadline: int = 600
    probes: tuple[tuple[str, int | str], ...] = (("/healthz", "http"), ("/ready", "http"))
    env: tuple[tuple[str, str], ...] = ()
    config: str | None = None  # envFrom this ConfigMap
    config_data: tuple[tuple[str, str], ...] = ()  # ``config`` as first applied
    db_secret: str | None = None  # DB_USER / DB_PASSWORD from this Secret
    db_credentials: tuple[tuple[str, str], ...] = ()  # ``db_secret`` as first applied
    service: bool = True  # installed with a Service in front of it
    load_balancer_ip: str | None = None  # that Service is a LoadBalancer with this IP
    node_pool: str | None = None
    labels: tuple[tuple[str, str], ...] = ()  # selector override (kubeadm addons)
    service_account: str | None = None
    args: tuple[str, ...] = ()
    ports: tuple[tuple[str, int, str], ...] = ()
    config_volume: tuple[str, str] | None = None  # (ConfigMap, mountPath)
    priority_class: str | None = None

    def image(self, version: str) -> str:
        return f"{self.repo}:{version}"

    def selector(self) -> dict[str, str]:
        if self.labels:
            return dict(self.labels)
        if self.manager == "helm":
            return {"app.kubernetes.io/instance": self.name, "app.kubernetes.io/name": self.name}
        return {"app": self.name}

    def object_labels(self, version: str) -> dict[str, str]:
        labels = self.selector()
        if self.manager == "helm":
            labels.update(
                {
                    "app.kubernetes.io/managed-by": "Helm",
                    "app.kubernetes.io/version": version,
                    "helm.sh/chart": f"{self.name}-{version}",
                }
            )
        if self.manager == "argocd-controller":
            labels["app.kubernetes.io/instance"] = self.namespace
        return labels


def _probe(path: str, port: int | str, delay: int) -> Obj:
    return {
        "failureThreshold": 3,
        "httpGet": {"path": path, "port": port, "scheme": "HTTP"},
        "initialDelaySeconds": delay,
        "periodSeconds": 10,
        "successThreshold": 1,
        "timeoutSeconds": 1,
    }


def app_container(app: App, version: str, *, defaults: bool = True) -> Obj:
    """The app's container; ``defaults=False`` gives it as written in the manifest."""
    c: Obj = {"name": app.name, "image": app.image(version)}
    if app.args:
        c["args"] = list(app.args)
    env: list[Obj] = [{"name": k, "value": v} for k, v in app.env]
    if app.db_secret:
        env += [
            {"name": var, "valueFrom": {"secretKeyRef": {"key": key, "name": app.db_secret}}}
            for var, key in (("DB_USER", "username"), ("DB_PASSWORD", "password"))
        ]
    if env:
        c["env"] = env
    if app.config:
        c["envFrom"] = [{"configMapRef": {"name": app.config}}]
    ports = app.ports or (("http", app.port, "TCP"),)
    c["ports"] = [{"containerPort": p, "name": n, "protocol": proto} for n, p, proto in ports]
    if app.probes:
        (live_path, live_port), (ready_path, ready_port) = app.probes
        c["livenessProbe"] = _probe(live_path, live_port, 10)
        c["readinessProbe"] = _probe(ready_path, ready_port, 5)
    c["resources"] = {
        "limits": {"memory": app.memory_limit},
        "requests": {"cpu": app.cpu, "memory": app.memory},
    }
    if app.config_volume:
        c["volumeMounts"] = [
            {"mountPath": app.config_volume[1], "name": "config-volume", "readOnly": True}
        ]
    if defaults:
        c["imagePullPolicy"] = "IfNotPresent"
        c["terminationMessagePath"] = "/dev/termination-log"
        c["terminationMessagePolicy"] = "FallbackToLogsOnError" if app.manager == "helm" else "File"
    return c


def pod_template(app: App, version: str) -> Obj:
    """The pod template of ``app`` at ``version``, as its Deployment holds it."""
    meta: Obj = {"creationTimestamp": None, "labels": app.selector()}
    if app.probes and app.manager != "kubeadm":
        meta["annotations"] = {"prometheus.io/port": str(app.port), "prometheus.io/scrape": "true"}
    spec: Obj = {
        "containers": [app_container(app, version)],
        "dnsPolicy": "Default" if app.name == "coredns" else "ClusterFirst",
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "securityContext": {},
        "terminationGracePeriodSeconds": 30,
    }
    if app.node_pool:
        spec["nodeSelector"] = {"node.example.com/pool": app.node_pool}
    if app.service_account:
        spec["serviceAccount"] = spec["serviceAccountName"] = app.service_account
    if app.priority_class:
        spec["priorityClassName"] = app.priority_class
    if app.name == "coredns":
        spec["tolerations"] = [
            {"key": "CriticalAddonsOnly", "operator": "Exists"},
            {"effect": "NoSchedule", "key": "node-role.kubernetes.io/control-plane"},
        ]
    if app.config_volume:
        spec["volumes"] = [
            {
                "configMap": {
                    "defaultMode": 420,
                    "items": [{"key": "Corefile", "path": "Corefile"}],
                    "name": app.config_volume[0],
                },
                "name": "config-volume",
            }
        ]
    return {"metadata": meta, "spec": spec}


def hash_template(template: Obj) -> str:
    """The ``pod-template-hash`` (and controller revision suffix) of a template."""
    text = json.dumps(template, sort_keys=True)
    return token(9 + pick(2, text), text)
