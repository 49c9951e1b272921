"""Stores keep event documents: the protocol, and a factory from a store URL."""

from __future__ import annotations

from collections.abc import Mapping

from kubetrail.config import OpenSearchSettings
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


def open_store(
    url: str,
    env: Mapping[str, str] | None = None,
    *,
    bulk: bool = False,
    read_only: bool = False,
    opensearch: OpenSearchSettings | None = None,
) -> Store:
    """Open the store a URL names. Raises :class:`StoreError` with one clear line.

    OpenSearch options (credentials when the URL has none, API key, CA certificate,
    ``insecure``, index prefix) are ``opensearch``, the commands' part of
    :class:`~kubetrail.config.Settings`; without it they are read from ``env``
    (default: the process environment) the same way, see :mod:`kubetrail.config`.
    ``bulk``: opened for a one-off bulk load (``kubetrail ingest``): the embedded
    store then gives its writer a 256 MB page cache and commits about every
    :data:`~kubetrail.store.sqlite.BULK_ROWS_PER_COMMIT` rows, and on ``flush``
    and ``close``.
    ``read_only``: for a command that only reads. The embedded store then refuses
    writes and opens a file it cannot write read-only (a read-only file system, a
    file or directory of another user), see :mod:`kubetrail.store.sqlite.access`;
    without it such a file is refused with one line saying "read-only". OpenSearch
    ignores it: what a client may do there is the cluster's permissions.
    """
    if bulk and read_only:
        raise ValueError("a store opened for a bulk load cannot be read-only")
    parsed = parse_store_url(url)
    if parsed.scheme == "sqlite":
        from kubetrail.store.sqlite import BULK_ROWS_PER_COMMIT, open_embedded

        return open_embedded(
            parsed.path, bulk=bulk, read_only=read_only, rows_per_commit=BULK_ROWS_PER_COMMIT
        )
    if opensearch is None:
        opensearch = OpenSearchSettings.from_env(env)
    return _open_opensearch(parsed, opensearch)


def _open_opensearch(parsed: StoreURL, options: OpenSearchSettings) -> Store:
    from kubetrail.store.opensearch import DEFAULT_PREFIX, OpenSearchStore
    from kubetrail.store.opensearch.client import make_client

    if not options.api_key:
        parsed = parsed.with_credentials(options.user, options.password)
    try:
        client = make_client(
            parsed, ca_cert=options.ca_cert, insecure=options.insecure, api_key=options.api_key
        )
    except ValueError as exc:
        raise StoreUnavailable(str(exc)) from None
    try:
        return OpenSearchStore(
            client, prefix=options.prefix or DEFAULT_PREFIX, name=parsed.redacted()
        )
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
