"""Which resources to watch: API discovery, filtered.

Every group's *preferred* version, every resource that supports ``list`` and
``watch`` (subresources such as ``pods/status`` are not resources). Core
``events`` are watched once: ``events.events.k8s.io`` shows the same objects
again and is skipped when core Events exist. Leases are excluded by default
(every node renews one every ten seconds: heartbeats, not history). Resources
configured explicitly in ``resources.yaml`` are added even when discovery does
not list them. CRDs are just more groups here: when one is created or deleted
the shipper runs discovery again (the API server is the source of truth; the
CRD object itself is not interpreted).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kubetrail.events.resources import BUILTIN_GROUPS as BUILTIN_GROUPS  # re-exported
from kubetrail.shipper.config import ResourceSpec
from kubetrail.shipper.kube import Kube, KubeError


@dataclass(frozen=True, slots=True)
class Discovered:
    resources: tuple[ResourceSpec, ...]
    failed_groups: tuple[str, ...]  # group versions whose discovery failed (kept as they were)


def discover(kube: Kube) -> Discovered:
    found: list[ResourceSpec] = []
    failed: list[str] = []
    core = kube.get("/api")
    for version in core.get("versions") or ["v1"]:
        found.extend(_resources(kube, "", version, failed))
    groups = kube.get("/apis").get("groups") or []
    for group in groups:
        preferred = (group.get("preferredVersion") or {}).get("version")
        if not preferred and group.get("versions"):
            preferred = group["versions"][0].get("version")
        if preferred:
            found.extend(_resources(kube, group["name"], preferred, failed))
    return Discovered(resources=tuple(found), failed_groups=tuple(failed))


def _resources(kube: Kube, group: str, version: str, failed: list[str]) -> list[ResourceSpec]:
    path = f"/apis/{group}/{version}" if group else f"/api/{version}"
    try:
        listing = kube.get(path)
    except KubeError:
        # An aggregated API that is down (metrics-server…) must not stop the others.
        failed.append(f"{group}/{version}" if group else version)
        return []
    out = []
    for res in listing.get("resources") or []:
        name = res.get("name", "")
        verbs = set(res.get("verbs") or [])
        if "/" in name or not {"list", "watch"} <= verbs:
            continue
        out.append(
            ResourceSpec(
                group=group,
                version=version,
                kind=res.get("kind", ""),
                plural=name,
                namespaced=bool(res.get("namespaced")),
            )
        )
    return out


def select(
    discovered: Iterable[ResourceSpec],
    *,
    include: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    explicit: tuple[ResourceSpec, ...] = (),
    discover_crds: bool = True,
    builtin_groups: frozenset[str] | None = None,
) -> list[ResourceSpec]:
    """The resources to watch, by key (``plural`` or ``plural.group``), sorted.

    ``include`` (if given) and ``exclude`` match a resource's key or kind.
    ``discover_crds=False`` keeps only ``builtin_groups`` (and explicit ones).
    """
    chosen: dict[str, ResourceSpec] = {}
    all_resources = list(discovered)
    have_core_events = any(r.group == "" and r.plural == "events" for r in all_resources)
    for res in all_resources:
        if have_core_events and res.group == "events.k8s.io" and res.plural == "events":
            continue
        if not discover_crds and builtin_groups is not None and res.group not in builtin_groups:
            continue
        if include and not _matches(res, include):
            continue
        if _matches(res, exclude):
            continue
        chosen[res.key] = res
    for res in explicit:
        chosen[res.key] = res
    return [chosen[k] for k in sorted(chosen)]


def _matches(res: ResourceSpec, patterns: tuple[str, ...]) -> bool:
    return any(p in (res.key, res.kind, res.plural) for p in patterns)
