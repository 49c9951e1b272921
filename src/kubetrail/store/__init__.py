"""Stores keep event documents: the protocol, and a factory from a store URL."""

import os
from collections.abc import Mapping

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


def open_store(url: str, env: Mapping[str, str] | None = None, *, bulk: bool = False) -> Store:
    """Open the store a URL names. Raises :class:`StoreError` with one clear line.

    OpenSearch options come from the environment (the CLI and the API share them):
    ``KUBETRAIL_OPENSEARCH_USER`` / ``_PASSWORD`` (when the URL has none),
    ``_API_KEY``, ``_CA_CERT``, ``_INSECURE`` (``true`` skips certificate checks)
    and ``_PREFIX`` (index prefix and write alias, default ``kubetrail-events``).
    ``bulk``: opened for a one-off bulk load (``kubetrail ingest``): the embedded
    store then gives its writer a 256 MB page cache and commits about every
    :data:`~kubetrail.store.sqlite.BULK_ROWS_PER_COMMIT` rows, and on ``flush``
    and ``close``.
    """
    parsed = parse_store_url(url)
    if parsed.scheme == "sqlite":
        from kubetrail.store.sqlite import BULK_ROWS_PER_COMMIT, SQLiteStore

        if bulk:
            return SQLiteStore(
                parsed.path, writer_cache_mb=256, rows_per_commit=BULK_ROWS_PER_COMMIT
            )
        return SQLiteStore(parsed.path)
    return _open_opensearch(parsed, os.environ if env is None else env)


def _open_opensearch(parsed: StoreURL, env: Mapping[str, str]) -> Store:
    from kubetrail.store.opensearch import DEFAULT_PREFIX, OpenSearchStore
    from kubetrail.store.os_client import api_key_from_env, make_client, with_env_credentials

    api_key = api_key_from_env(env)
    if not api_key:
        parsed = with_env_credentials(parsed, env)
    insecure = env.get("KUBETRAIL_OPENSEARCH_INSECURE", "").lower() in ("1", "true", "yes")
    try:
        client = make_client(
            parsed,
            ca_cert=env.get("KUBETRAIL_OPENSEARCH_CA_CERT") or None,
            insecure=insecure,
            api_key=api_key,
        )
    except ValueError as exc:
        raise StoreUnavailable(str(exc)) from None
    prefix = env.get("KUBETRAIL_OPENSEARCH_PREFIX") or DEFAULT_PREFIX
    try:
        return OpenSearchStore(client, prefix=prefix, name=parsed.redacted())
    except StoreError:
        client.close()
        raise


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
