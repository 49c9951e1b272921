"""Building an OpenSearch client from a store URL, and saying why it failed.

Authentication, in order: an API key (``Authorization: ApiKey …``), else basic
auth from the URL's ``user:password@``. :func:`with_env_credentials` fills them
from the environment for commands:

| variable | meaning |
| --- | --- |
| ``KUBETRAIL_OPENSEARCH_USER``, ``…_PASSWORD`` | basic auth when the URL has none |
| ``KUBETRAIL_OPENSEARCH_API_KEY`` | API key (``--api-key`` wins) |
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import TransportError

from kubetrail.store.url import StoreURL

ENV_USER = "KUBETRAIL_OPENSEARCH_USER"
ENV_PASSWORD = "KUBETRAIL_OPENSEARCH_PASSWORD"
ENV_API_KEY = "KUBETRAIL_OPENSEARCH_API_KEY"


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
    (:func:`describe_error` turns that into one line).
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
    kwargs: dict[str, object] = {
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


def with_env_credentials(url: StoreURL, env: Mapping[str, str] | None = None) -> StoreURL:
    """The URL with user/password from the environment when it carries none."""
    env = os.environ if env is None else env
    user = env.get(ENV_USER)
    if url.username or not user:
        return url
    return replace(url, username=user, password=env.get(ENV_PASSWORD) or None)


def api_key_from_env(env: Mapping[str, str] | None = None) -> str | None:
    env = os.environ if env is None else env
    return env.get(ENV_API_KEY) or None


def root_reason(exc: BaseException) -> str:
    """The innermost readable cause of a connection failure (``Connection refused``)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    best = ""
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLError):
            return f"TLS error: {current.reason or current}"
        if isinstance(current, OSError) and current.strerror:
            best = current.strerror
        nxt = getattr(current, "reason", None)
        if not isinstance(nxt, BaseException):
            nxt = getattr(current, "info", None)
        if not isinstance(nxt, BaseException):
            nxt = current.__cause__ or current.__context__
        current = nxt
    if best:
        return best
    text = str(exc.info if isinstance(exc, OSConnectionError) else exc)
    return text.splitlines()[0][:200] if text else type(exc).__name__


def is_unreachable(exc: BaseException) -> bool:
    return isinstance(exc, OSConnectionError)


def describe_error(exc: BaseException, url: StoreURL) -> str:
    """One line for a failed request: never the password, never a traceback."""
    where = url.redacted()
    if isinstance(exc, OSConnectionError):
        return f"cannot reach OpenSearch at {where}: {root_reason(exc)}"
    if isinstance(exc, TransportError):
        status = exc.status_code
        if status in (401, 403):
            return f"OpenSearch at {where} refused the credentials ({status}): {error_reason(exc)}"
        return f"OpenSearch at {where} answered {status}: {error_reason(exc)}"
    return f"OpenSearch at {where}: {exc}"


def error_reason(exc: TransportError) -> str:
    """``type: reason`` of an OpenSearch error body, or its text."""
    info = exc.info
    if isinstance(info, dict):
        err = info.get("error")
        if isinstance(err, dict):
            kind, reason = err.get("type"), err.get("reason")
            if kind and reason:
                return f"{kind}: {reason}"
            return str(reason or kind or err)
        if err:
            return str(err)
    return str(exc.error or info or exc)
