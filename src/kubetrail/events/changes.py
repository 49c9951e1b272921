"""What changed between two versions of an object, as a list of paths.

Paths read like ``kubectl explain`` paths: ``spec.replicas``,
``metadata.labels.app``. Lists whose items all carry a ``name`` (containers,
env, volumes, ports) are matched by name, and conditions by ``type``, so a
rollout reads ``spec.template.spec.containers[app].image`` rather than an index
that shifts when a sidecar is added. Other lists are compared by position.

Bookkeeping that changes on every write (``resourceVersion``, ``managedFields``,
``generation``) is left out: it is noise next to the change a person made.
The walk is :mod:`~kubetrail.events.diff`'s, which also gives each path's values
before and after.
"""

from __future__ import annotations

from typing import Any

from kubetrail.events.diff import IGNORED_PATHS, diff

__all__ = ["IGNORED_PATHS", "MAX_PATHS", "changed_paths"]

MAX_PATHS = 200


def changed_paths(old: Any, new: Any, *, limit: int = MAX_PATHS) -> list[str]:
    """Sorted paths where ``new`` differs from ``old`` (added, removed or changed),
    at most ``limit`` of them: the paths of :func:`~kubetrail.events.diff.diff`."""
    return sorted(change.path for change in diff(old, new, limit=limit))
