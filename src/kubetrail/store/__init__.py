"""Stores keep event documents: the protocol, and a factory from a store URL."""

from kubetrail.store.base import (
    GROUP_KEYS,
    AggregateQuery,
    AggregateResult,
    Bucket,
    Cursor,
    EventFilter,
    EventPage,
    EventQuery,
    Health,
    InvalidQuery,
    Store,
    StoreError,
    StoreUnavailable,
    WriteResult,
)
from kubetrail.store.url import DEFAULT_STORE_URL, InvalidStoreURL, StoreURL, parse_store_url


def open_store(url: str) -> Store:
    """Open the store a URL names. Raises :class:`StoreError` with one clear line."""
    parsed = parse_store_url(url)
    if parsed.scheme == "sqlite":
        from kubetrail.store.sqlite import SQLiteStore

        return SQLiteStore(parsed.path)
    raise StoreUnavailable(
        f"{parsed.redacted()}: the OpenSearch store is not part of this build yet; "
        "use a sqlite:/// store URL"
    )


__all__ = [
    "DEFAULT_STORE_URL",
    "GROUP_KEYS",
    "AggregateQuery",
    "AggregateResult",
    "Bucket",
    "Cursor",
    "EventFilter",
    "EventPage",
    "EventQuery",
    "Health",
    "InvalidQuery",
    "InvalidStoreURL",
    "Store",
    "StoreError",
    "StoreURL",
    "StoreUnavailable",
    "WriteResult",
    "open_store",
    "parse_store_url",
]
