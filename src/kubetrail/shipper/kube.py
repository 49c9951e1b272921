"""Raw access to the Kubernetes API through the ``kubernetes`` client.

The client's connection handling and authentication (kubeconfig, in-cluster
service account, exec plugins, TLS) are used as they are; its model
deserialization is not: lists and watches are read as raw bytes
(``_preload_content=False``) and parsed with orjson, because turning every
object into generated model classes is what makes naive watchers slow.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from kubetrail.shipper.chunked import decode_chunked

_CHUNK = 64 * 1024


class KubeError(Exception):
    """A request failed; ``status`` is the HTTP status (0: no answer)."""

    def __init__(self, message: str, *, status: int = 0, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


def load_client(
    *, kubeconfig: str | None = None, context: str | None = None
) -> k8s_client.ApiClient:
    """In-cluster config when running in a pod (and no kubeconfig was given), else kubeconfig."""
    configuration = k8s_client.Configuration()
    if kubeconfig is None and context is None:
        try:
            k8s_config.load_incluster_config(client_configuration=configuration)
            return k8s_client.ApiClient(configuration)
        except k8s_config.ConfigException:
            pass
    try:
        k8s_config.load_kube_config(
            config_file=kubeconfig, context=context, client_configuration=configuration
        )
    except (k8s_config.ConfigException, OSError, TypeError) as exc:
        where = kubeconfig or "~/.kube/config"
        raise KubeError(f"cannot load Kubernetes config from {where}: {exc}") from None
    return k8s_client.ApiClient(configuration)


class Kube:
    """GET requests returning parsed JSON or a stream of JSON lines."""

    def __init__(self, api: k8s_client.ApiClient) -> None:
        self.api = api

    @property
    def server(self) -> str:
        return str(self.api.configuration.host)

    def _open(self, path: str, query: list[tuple[str, Any]], timeout: tuple[float, float]) -> Any:
        method, url, headers, body, post = self.api.param_serialize(
            "GET",
            path,
            query_params=query,
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        try:
            resp = self.api.call_api(method, url, headers, body, post, _request_timeout=timeout)
        except Exception as exc:  # urllib3/socket errors: no answer
            raise KubeError(f"GET {path}: {type(exc).__name__}: {exc}".splitlines()[0]) from None
        raw = resp.response
        if raw.status >= 300:
            data = raw.read()
            raw.release_conn()
            reason, message = "", data[:300].decode(errors="replace")
            try:
                status = orjson.loads(data)
                reason, message = status.get("reason", ""), status.get("message", message)
            except (orjson.JSONDecodeError, AttributeError):
                pass
            raise KubeError(f"GET {path}: {raw.status} {message}", status=raw.status, reason=reason)
        return raw

    def get(
        self, path: str, query: list[tuple[str, Any]] | None = None, *, timeout: float = 30
    ) -> Any:
        raw = self._open(path, query or [], (10.0, timeout))
        try:
            return orjson.loads(raw.read())
        finally:
            raw.release_conn()

    def stream_lines(
        self, path: str, query: list[tuple[str, Any]], *, read_timeout: float
    ) -> Iterator[bytes]:
        """The response's lines as they arrive; a read stalled for ``read_timeout``
        seconds raises :class:`KubeError` (the caller restarts the watch)."""
        raw = self._open(path, query, (10.0, read_timeout))
        blocks = _body_blocks(raw)
        pending = b""
        try:
            while True:
                try:
                    chunk = next(blocks, b"")
                except Exception as exc:  # read timeout, reset connection, broken chunking
                    raise KubeError(f"watch {path} interrupted: {type(exc).__name__}") from None
                if not chunk:
                    break
                pending += chunk
                if b"\n" not in chunk:
                    continue
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if line.strip():
                        yield line
            if pending.strip():
                yield pending
        finally:
            raw.release_conn()
            raw.close()


def _body_blocks(raw: Any) -> Iterator[bytes]:
    """The response body as it arrives. A plain chunked body (every watch) is
    decoded here straight off the socket's buffer, many chunks per read; anything
    else goes through urllib3."""
    http_response = getattr(raw, "_fp", None)
    sock_reader: Any = getattr(http_response, "fp", None)
    if (
        getattr(http_response, "chunked", False)
        and getattr(http_response, "chunk_left", None) is None  # nothing read yet
        and hasattr(sock_reader, "read1")
        and not raw.headers.get("content-encoding")
    ):
        yield from decode_chunked(sock_reader.read1)
        return
    read = raw.read1 if hasattr(raw, "read1") else raw.read
    while chunk := read(_CHUNK):
        yield chunk
