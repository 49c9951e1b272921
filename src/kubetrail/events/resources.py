"""Names of things: a kind's plural resource name and an object's request URI.

The API server is the source of truth for plurals (discovery tells them, and the
shipper passes them in). A recorded file carries only ``kind``, so this module
knows the plurals of the built-in kinds and falls back to the same English rules
``kubectl`` and the API machinery's ``UnsafeGuessKindToResource`` use for the
rest (``Policy`` → ``policies``, ``Ingress`` → ``ingresses``).
"""

from __future__ import annotations

#: The API versions whose ``kind: Event`` is a Kubernetes Event (core and events.k8s.io).
EVENT_API_VERSIONS = frozenset({"v1", "events.k8s.io/v1", "events.k8s.io/v1beta1"})

#: API groups that ship with Kubernetes: the shipper watches only these with
#: ``discoverCRDs: false``; an object of any other group is a custom resource (redaction).
BUILTIN_GROUPS = frozenset(
    {
        "",
        "apps",
        "batch",
        "autoscaling",
        "policy",
        "networking.k8s.io",
        "rbac.authorization.k8s.io",
        "storage.k8s.io",
        "apiextensions.k8s.io",
        "admissionregistration.k8s.io",
        "scheduling.k8s.io",
        "node.k8s.io",
        "discovery.k8s.io",
        "events.k8s.io",
        "coordination.k8s.io",
        "certificates.k8s.io",
        "flowcontrol.apiserver.k8s.io",
        "apiregistration.k8s.io",
        "resource.k8s.io",
    }
)

_KNOWN_PLURALS: dict[str, str] = {
    "Endpoints": "endpoints",
    "EndpointSlice": "endpointslices",
    "Ingress": "ingresses",
    "IngressClass": "ingressclasses",
    "NetworkPolicy": "networkpolicies",
    "PodSecurityPolicy": "podsecuritypolicies",
    "PriorityClass": "priorityclasses",
    "StorageClass": "storageclasses",
    "RuntimeClass": "runtimeclasses",
    "VolumeAttributesClass": "volumeattributesclasses",
    "ResourceQuota": "resourcequotas",
    "Lease": "leases",
    "Event": "events",
    "ComponentStatus": "componentstatuses",
    "CustomResourceDefinition": "customresourcedefinitions",
}


def split_api_version(api_version: str) -> tuple[str, str]:
    """``"apps/v1"`` → ``("apps", "v1")``; ``"v1"`` → ``("", "v1")``."""
    group, _, version = api_version.rpartition("/")
    return group, version


def plural_for_kind(kind: str) -> str:
    """The lower-case plural resource name of a kind."""
    known = _KNOWN_PLURALS.get(kind)
    if known:
        return known
    lower = kind.lower()
    if not lower:
        return ""
    if lower.endswith(("s", "x", "z", "ch", "sh")):
        return lower + "es"
    if lower.endswith("y") and len(lower) > 1 and lower[-2] not in "aeiou":
        return lower[:-1] + "ies"
    return lower + "s"


def request_uri(*, api_group: str, api_version: str, namespace: str, plural: str, name: str) -> str:
    """The REST path of one object, as the API server (and the audit log) spells it."""
    base = f"/apis/{api_group}/{api_version}" if api_group else f"/api/{api_version}"
    if namespace:
        return f"{base}/namespaces/{namespace}/{plural}/{name}"
    return f"{base}/{plural}/{name}"
