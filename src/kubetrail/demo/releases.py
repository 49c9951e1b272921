"""How an application's owner ships it: install and upgrade.

Through helm (release Secrets, superseded then deployed), argocd or ``kubectl
apply`` (last-applied annotations), or kubeadm: the owner writes the
Deployment's spec, the deployment controller rolls it out.
"""

from __future__ import annotations

from kubetrail.demo.controllers.deployment import rollout
from kubetrail.demo.objects.apps import App
from kubetrail.demo.objects.core import (
    new_applied_secret,
    new_config_map,
    new_helm_release,
    new_service,
    set_release_status,
)
from kubetrail.demo.objects.workloads import new_deployment, write_deployment_spec
from kubetrail.demo.primitives import Obj, Process
from kubetrail.demo.simulation import Sim


def _app_service(sim: Sim, app: App) -> Obj:
    ports = [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http"}]
    return new_service(
        sim,
        app.namespace,
        app.name,
        selector=app.selector(),
        ports=ports,
        created=sim.now,
        manager=app.manager,
        labels=app.object_labels(app.history[0][1]),
        load_balancer_ip=app.load_balancer_ip,
    )


def install(sim: Sim, app: App, version: str) -> Process:
    """The first release of an app: its config, its Service, its Deployment."""
    if app.config:
        sim.create(
            new_config_map(
                sim,
                app.namespace,
                app.config,
                dict(app.config_data),
                sim.now,
                "kubectl-client-side-apply",
            )
        )
    if app.db_secret:
        sim.create(
            new_applied_secret(
                sim,
                app.namespace,
                app.db_secret,
                dict(app.db_credentials),
                sim.now,
            )
        )
    if app.manager == "helm":
        sim.create(new_helm_release(sim, app.name, app.namespace, 1, "deployed", sim.now))
    yield 1
    if app.service:
        sim.create(_app_service(sim, app))
    deploy = sim.create(new_deployment(sim, app, version))
    yield from rollout(sim, deploy)


def upgrade(sim: Sim, app: App, version: str) -> Process:
    """A new version through the app's owner: helm upgrade, argocd sync, kubectl apply."""
    deploy = sim.find("Deployment", app.namespace, app.name)
    assert deploy is not None
    release = previous = None
    if app.manager == "helm":
        releases = [
            o
            for o in sim.live.values()
            if o["kind"] == "Secret"
            and o["metadata"].get("labels", {}).get("name") == app.name
            and o["metadata"]["labels"].get("owner") == "helm"
        ]
        previous = max(releases, key=lambda o: int(o["metadata"]["labels"]["version"]))
        number = int(previous["metadata"]["labels"]["version"]) + 1
        release = sim.create(
            new_helm_release(sim, app.name, app.namespace, number, "pending-upgrade", sim.now)
        )
        for old in releases:
            if int(old["metadata"]["labels"]["version"]) < number - 1:
                sim.delete(old)  # helm keeps the last revisions only
        yield 1
    write_deployment_spec(sim, deploy, app, version)
    deploy["metadata"]["generation"] += 1
    sim.update(deploy)
    if release is not None and previous is not None:
        sim.later(2, _helm_finish(sim, previous, release))
    yield 1
    yield from rollout(sim, deploy)


def _helm_finish(sim: Sim, previous: Obj, release: Obj) -> Process:
    set_release_status(sim, previous, "superseded")
    set_release_status(sim, release, "deployed")
    yield from ()
