"""Retention, the same everywhere: what ``kubetrail prune`` and the shipper run.

- Embedded store: delete events older than the retention (in short chunks, so
  readers never stall).
- OpenSearch with ISM: OpenSearch deletes whole indices by itself; deleting by
  query as well only catches the few expired events left in the write index.
- OpenSearch without ISM (setup recorded ``retention: fallback``): first roll the
  write index over when it is due and delete whole indices whose newest event is
  older than setup's retention (never the write index), as ISM would; then delete
  the remaining expired events by query.

A store that may drop whole indices says so by implementing
:class:`~kubetrail.store.base.IndexRetention`; this module knows no store by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from kubetrail.store.base import IndexRetention, Store


@dataclass(slots=True)
class RetentionResult:
    deleted_events: int = 0
    deleted_indices: list[str] = field(default_factory=list)
    rolled_over: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def enforce_retention(store: Store, *, days: int, now: datetime) -> RetentionResult:
    if days < 1:
        raise ValueError("retention must be at least 1 day")
    result = RetentionResult()
    if isinstance(store, IndexRetention):
        changes = store.manage_indices(days=days, now=now)
        result.rolled_over, result.deleted_indices = changes.rolled_over, changes.deleted
        result.warnings = changes.warnings
    result.deleted_events = store.delete_before(now - timedelta(days=days))
    return result
