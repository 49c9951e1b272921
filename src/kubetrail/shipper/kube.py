"""Raw access to the Kubernetes API through the ``kubernetes`` client.

The client's connection handling and authentication (kubeconfig, in-cluster
service account, exec plugins, TLS) are used as they are; its model
deserialization is not: lists and watches are read as raw bytes
(``_preload_content=False``) and parsed with orjson, because turning every
object into generated model classes is what makes naive watchers slow.
Credentials rejected with a 401 are loaded again from their source
(:mod:`kubetrail.shipper.credentials`) when the client came from :func:`connect`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import orjson
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.config.incluster_config import InClusterConfigLoader

from kubetrail.shipper.chunked import decode_chunked
from kubetrail.shipper.credentials import Credentials

_CHUNK = 64 * 1024
#: where the kubelet mounts a pod's service-account token and the cluster's CA
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


class KubeError(Exception):
    """A request failed; ``status`` is the HTTP status (0: no answer); ``check``: what
    to look at when there was no answer."""

    def __init__(self, message: str, *, status: int = 0, reason: str = "", check: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.check = check


def load_client(
    *,
    kubeconfig: str | None = None,
    context: str | None = None,
    service_account_dir: str = SERVICE_ACCOUNT_DIR,
) -> k8s_client.ApiClient:
    """In-cluster config when running in a pod (and no kubeconfig was given), else kubeconfig."""
    api, _ = _load(kubeconfig=kubeconfig, context=context, service_account_dir=service_account_dir)
    return api


def connect(
    *,
    kubeconfig: str | None = None,
    context: str | None = None,
    service_account_dir: str = SERVICE_ACCOUNT_DIR,
) -> Kube:
    """A :class:`Kube` configured as :func:`load_client` does; when the server rejects its
    credentials (401) it loads them again the same way."""

    def reload() -> k8s_client.ApiClient:
        return load_client(
            kubeconfig=kubeconfig, context=context, service_account_dir=service_account_dir
        )

    api, source = _load(
        kubeconfig=kubeconfig, context=context, service_account_dir=service_account_dir
    )
    return Kube(api, reload=reload, source=source)


def _load(
    *, kubeconfig: str | None, context: str | None, service_account_dir: str
) -> tuple[k8s_client.ApiClient, str]:
    """The client, and where its credentials come from (named in the log)."""
    configuration = k8s_client.Configuration()
    if kubeconfig is None and context is None:
        token_file = os.path.join(service_account_dir, "token")
        try:
            InClusterConfigLoader(
                token_filename=token_file,
                cert_filename=os.path.join(service_account_dir, "ca.crt"),
            ).load_and_set(configuration)
            return k8s_client.ApiClient(configuration), f"the token file {token_file}"
        except k8s_config.ConfigException:
            pass
    _check_kubeconfig_file(kubeconfig)
    try:
        k8s_config.load_kube_config(
            config_file=kubeconfig, context=context, client_configuration=configuration
        )
    except (k8s_config.ConfigException, OSError, TypeError) as exc:
        where = kubeconfig or _default_kubeconfig()
        raise KubeError(f"cannot load Kubernetes config from {where}: {exc}") from None
    source = f"the kubeconfig {kubeconfig or _default_kubeconfig()}"
    if context:
        source += f" (context {context})"
    return k8s_client.ApiClient(configuration), source


def _default_kubeconfig() -> str:
    """``$KUBECONFIG`` (the client reads it when imported) or ``~/.kube/config``."""
    from kubernetes.config import kube_config

    return str(kube_config.KUBE_CONFIG_DEFAULT_LOCATION)


def _check_kubeconfig_file(kubeconfig: str | None) -> None:
    """One line when the kubeconfig to load is not a file (the client would say "Invalid
    kube-config file. No configuration found.")."""
    if kubeconfig is not None:
        given = Path(kubeconfig).expanduser()
        if not given.exists():
            raise KubeError(f"kubeconfig {kubeconfig} does not exist")
        if given.is_dir():
            raise KubeError(f"kubeconfig {kubeconfig} is a directory, not a kubeconfig file")
        return
    default = _default_kubeconfig()
    if not any(Path(p).expanduser().is_file() for p in default.split(os.pathsep) if p):
        raise KubeError(
            f"no Kubernetes config: not running in a pod (no service account), and kubeconfig "
            f"{default} does not exist; pass --kubeconfig FILE"
        )


def no_answer(exc: BaseException) -> tuple[str, str]:
    """A request that got no answer: what happened, in a few words (not urllib3's
    ``MaxRetryError(HTTPSConnectionPool(…))``), and what to check."""
    from urllib3 import exceptions as u3

    reason: BaseException = exc
    while isinstance(reason, u3.MaxRetryError) and reason.reason is not None:
        reason = reason.reason
    text = str(reason)
    if isinstance(reason, u3.NameResolutionError):
        return "cannot resolve its host name", "the server address and this machine's DNS"
    if isinstance(reason, u3.NewConnectionError):
        cause = text.rpartition("connection: ")[2]
        return (
            _strip_errno(cause).lower() or "cannot connect",
            "that the API server is running and the server address is right",
        )
    # after NewConnectionError, which subclasses it in urllib3 2
    if isinstance(reason, u3.ConnectTimeoutError):
        return "the connection timed out", "the server address, the network and firewalls"
    if isinstance(reason, u3.SSLError):
        detail = _strip_errno(text.rpartition("] ")[2].split(" (_ssl.c")[0]) or "failed"
        return (
            f"TLS: {detail}",
            "the server address and the kubeconfig's certificate-authority (or the "
            "service account's CA in a pod)",
        )
    if isinstance(reason, u3.ReadTimeoutError):
        return "no answer in time", "that the API server is healthy"
    if isinstance(reason, u3.ProtocolError | ConnectionError):
        return "the connection was closed", "the server address (is it an API server?)"
    return f"{type(reason).__name__}: {text}".splitlines()[0], "the server address"


def _strip_errno(text: str) -> str:
    """``[Errno 111] Connection refused`` → ``Connection refused``."""
    text = text.strip().rstrip(")").strip()
    return text.partition("] ")[2] if text.startswith("[Errno") else text


class Kube:
    """GET requests returning parsed JSON or a stream of JSON lines. With ``reload``, a
    request answered 401 is retried once with the credentials it loads (see
    :class:`~kubetrail.shipper.credentials.Credentials`)."""

    def __init__(
        self,
        api: k8s_client.ApiClient,
        *,
        reload: Callable[[], k8s_client.ApiClient] | None = None,
        source: str = "the loaded configuration",
    ) -> None:
        self.credentials = Credentials(api, reload=reload, source=source)

    @property
    def api(self) -> k8s_client.ApiClient:
        return self.credentials.api

    @property
    def server(self) -> str:
        return str(self.api.configuration.host)

    def check_server(self, *, timeout: float = 10) -> None:
        """``GET /version`` once; a failure is a :class:`KubeError` of one line: which
        server, what failed, what to check."""
        try:
            self.get("/version", timeout=timeout)
        except KubeError as exc:
            detail = str(exc).removeprefix("GET /version: ")
            if not exc.status:
                message = (
                    f"cannot reach the Kubernetes API server {self.server}: {detail}; "
                    f"check {exc.check or 'the server address'}"
                )
            else:
                check = (
                    "the kubeconfig's user credentials"
                    if exc.status in (401, 403)
                    else "the server address (is it a Kubernetes API server?)"
                )
                message = (
                    f"the Kubernetes API server {self.server} answered GET /version with "
                    f"{detail}; check {check}"
                )
            raise KubeError(message, status=exc.status, reason=exc.reason) from None

    def _open(self, path: str, query: list[tuple[str, Any]], timeout: tuple[float, float]) -> Any:
        retried = False
        while True:
            raw, generation = self._send(path, query, timeout)
            if raw.status != 401:
                self.credentials.accepted(generation)
                break
            if retried or not self.credentials.rejected(generation):
                break
            raw.read()
            raw.release_conn()
            retried = True
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

    def _send(
        self, path: str, query: list[tuple[str, Any]], timeout: tuple[float, float]
    ) -> tuple[Any, int]:
        """The response (body unread) and the generation of the credentials it was sent with."""
        try:
            api, generation, (method, url, headers, body, post) = self.credentials.use(
                lambda api: api.param_serialize(
                    "GET",
                    path,
                    query_params=query,
                    header_params={"Accept": "application/json"},
                    auth_settings=["BearerToken"],
                )
            )
        except Exception as exc:  # the client's refresh hook: e.g. an empty token file
            raise KubeError(f"GET {path}: credentials: {exc}".splitlines()[0]) from None
        try:
            resp = api.call_api(method, url, headers, body, post, _request_timeout=timeout)
        except Exception as exc:  # urllib3/socket errors: no answer
            what, check = no_answer(exc)
            raise KubeError(f"GET {path}: {what}", check=check) from None
        return resp.response, generation

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
    ) -> Generator[bytes, None, None]:
        """The response's lines as they arrive; a read stalled for ``read_timeout``
        seconds raises :class:`KubeError` (the caller restarts the watch). A caller that
        stops before the end closes the generator (its connection is not reused)."""
        raw = self._open(path, query, (10.0, read_timeout))
        blocks = _body_blocks(raw)
        pending = b""
        ended = False
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
            ended = True
            if pending.strip():
                yield pending
        finally:
            _release(raw, reusable=ended)


def _release(raw: Any, *, reusable: bool) -> None:
    """Hand a streamed response's connection back to the pool. A body left before its end
    (the caller stopped at an ERROR event, a stop, a stall) still has bytes coming, which
    the next request on that connection would read as its status line (``BadStatusLine``):
    that connection is closed instead. A body read to its end is closed (http.client takes
    no new request on a connection whose response is open) before the connection goes back."""
    if reusable:
        http_response = getattr(raw, "_fp", None)
        if http_response is not None:
            http_response.close()
    else:
        raw.close()  # closes the socket too: the pool opens a new one when it needs one
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
