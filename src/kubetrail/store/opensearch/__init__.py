"""The OpenSearch store: the production store for a real cluster.

One module per job:

- :mod:`.store`: :class:`OpenSearchStore`, the :class:`~kubetrail.store.base.Store`
  over an index alias (writes, searches, aggregations, health);
- :mod:`.queries`: the request bodies it sends (pure: dicts in, dicts out);
- :mod:`.client`: an ``opensearch-py`` client from a store URL;
- :mod:`.errors`: every failed request worded as one line;
- :mod:`.templates`: the index templates and ISM policy, rendered from
  ``index_templates/*.json.j2``;
- :mod:`.setup`: ``kubetrail setup`` — create or update them on a cluster, idempotently;
- :mod:`.retention`: dropping whole expired indices when the cluster has no ISM;
- :mod:`.dashboards`: the OpenSearch Dashboards saved objects
  (``saved_objects/*.json.j2``), rendered and imported.

Every object kubetrail creates is named after one index prefix,
:data:`DEFAULT_PREFIX` unless ``--prefix`` / ``KUBETRAIL_OPENSEARCH_PREFIX`` says
otherwise. Importing this package is cheap: :class:`OpenSearchStore` (and with it
opensearch-py, half a second to import) is loaded on first use, so a command-line
parser can show the default prefix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

#: The index prefix, write alias and index template name when none is given.
DEFAULT_PREFIX = "kubetrail-events"


def index_pattern(prefix: str) -> str:
    """The indices of one install: ``<prefix>-0*``, which ``<prefix>-000001`` and every
    rollover successor (``-000002``, …) match, while another install's indices
    (``<prefix>-dev-000001`` for the prefix ``<prefix>-dev``) do not. The index template,
    the ISM template, the store's reads and the Dashboards index pattern all use it."""
    return f"{prefix}-0*"


def audit_index(prefix: str) -> str:
    """The index of one install's audit records: ``<prefix>-audit``, which
    :func:`index_pattern` does not match (event searches, the index template, ISM and the
    retention fallback's index deletions leave it alone)."""
    return f"{prefix}-audit"


def is_own_index(prefix: str, name: str) -> bool:
    """``<prefix>-`` followed by digits only: an index of this install. Anything that
    deletes or changes indices checks it, so that even a prefix nested in another
    (``a`` and ``a-0x``, whose indices ``a-0*`` also matches) never touches the other's."""
    rest = name.removeprefix(f"{prefix}-")
    return rest != name and rest.isascii() and rest.isdigit()


if TYPE_CHECKING:
    from kubetrail.store.opensearch.store import OpenSearchStore


def __getattr__(name: str) -> Any:
    if name == "OpenSearchStore":
        from kubetrail.store.opensearch.store import OpenSearchStore

        return OpenSearchStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["DEFAULT_PREFIX", "OpenSearchStore", "audit_index", "index_pattern", "is_own_index"]
