"""Where an object's page is: ``/ui/objects/{namespace}/{resourceType}/{name}``, with ``_``
as the namespace of cluster-scoped objects."""

from __future__ import annotations

from urllib.parse import quote

from kubetrail.events.resources import plural_for_kind
from kubetrail.queries import CLUSTER_SCOPE

UI_PATH = "/ui"


def object_url(namespace: str, resource_type: str, name: str, *, version: str = "") -> str:
    """The page of one object; ``version`` (a resourceVersion) jumps to that version."""
    parts = (namespace or CLUSTER_SCOPE, resource_type, name)
    url = f"{UI_PATH}/objects/" + "/".join(quote(p, safe="") for p in parts)
    return f"{url}#rv-{quote(version, safe='')}" if version else url


def kind_object_url(kind: str, namespace: str, name: str) -> str:
    """The page of an object named by its kind (a finding's, an Event's involvedObject)."""
    return object_url(namespace, plural_for_kind(kind), name)
