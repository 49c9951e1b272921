"""Building an OpenSearch client from a store URL.

Authentication, in order: an API key (``Authorization: ApiKey …``), else basic
auth from the URL's ``user:password@``. The environment's credentials
(``KUBETRAIL_OPENSEARCH_*``) are read by :class:`kubetrail.config.Settings`;
callers pass them in (:meth:`~kubetrail.store.url.StoreURL.with_credentials`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from opensearchpy import OpenSearch

from kubetrail.store.url import StoreURL


def make_client(
    url: StoreURL,
    *,
    ca_cert: str | Path | None = None,
    insecure: bool = False,
    api_key: str | None = None,
    timeout: float = 30,
) -> OpenSearch:
    """A client for an ``opensearch+http(s)://`` store URL. Raises ValueError on bad options.

    No request is sent: an unreachable cluster shows on the first call
    (:func:`~kubetrail.store.opensearch.errors.describe_error` turns that into one line).
    """
    if url.scheme not in ("opensearch+http", "opensearch+https"):
        raise ValueError(f"{url.redacted()} is not an OpenSearch store URL")
    tls = url.scheme == "opensearch+https"
    if not tls and (ca_cert or insecure):
        option = "--ca-cert" if ca_cert else "--insecure"
        raise ValueError(f"{option} needs an opensearch+https:// store URL")
    if ca_cert and insecure:
        raise ValueError("--ca-cert and --insecure exclude each other")
    if ca_cert and not Path(ca_cert).is_file():
        raise ValueError(f"CA certificate {ca_cert} is not a file")
    if api_key is not None and not api_key.strip():
        raise ValueError("the API key is empty")
    if api_key and url.username:
        raise ValueError("use either an API key or a user name and password, not both")
    kwargs: dict[str, Any] = {
        "hosts": [{"host": url.host, "port": url.port or 9200}],
        "use_ssl": tls,
        "http_compress": True,
        "timeout": timeout,
    }
    if tls:
        kwargs["verify_certs"] = not insecure
        if insecure:
            kwargs["ssl_assert_hostname"] = False
            kwargs["ssl_show_warn"] = False
        if ca_cert:
            kwargs["ca_certs"] = str(ca_cert)
    if api_key:
        kwargs["headers"] = {"Authorization": f"ApiKey {api_key.strip()}"}
    elif url.username:
        kwargs["http_auth"] = (url.username, url.password or "")
    return OpenSearch(**kwargs)
