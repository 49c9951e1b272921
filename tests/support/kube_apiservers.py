"""A real Kubernetes API server for tests: ``scripts/kube-apiserver``'s (kube-apiserver and
etcd built from source at pinned versions), its admin kubeconfig, its kubectl, and raw REST
calls as the admin (what kubectl does not print, e.g. the resourceVersion of a deletion)."""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from kubetrail.shipper.kube import Kube, KubeError, load_client

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "kube-apiserver"
#: ``scripts/kube-apiserver``'s exit status when this machine cannot fetch or build it.
EXIT_CANNOT_BUILD = 3
HOW_TO_RUN = (
    "`scripts/kube-apiserver start` builds kube-apiserver, etcd and kubectl from source through "
    "the Go module proxy (needs Go 1.24+; a cold build took about 40 minutes on 2 cores, "
    "cached in ~/.cache/kubetrail) and prints an admin kubeconfig; .ci/run starts it and sets "
    "KUBETRAIL_TEST_KUBECONFIG"
)


def _script(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout
    )


@dataclass
class RealCluster:
    """A running API server: its admin kubeconfig, and where the script keeps its state
    (``data_dir`` holds ``state.json`` when the script started it; ``compact`` needs it)."""

    kubeconfig: Path
    kubectl_bin: str | None

    @property
    def data_dir(self) -> Path | None:
        d = self.kubeconfig.parent
        return d if (d / "state.json").exists() else None

    def kube(self) -> Kube:
        return Kube(load_client(kubeconfig=str(self.kubeconfig)))

    # -- kubectl, as a user runs it ------------------------------------------------

    def kubectl(
        self,
        *args: str,
        input: str | None = None,
        check: bool = True,
        kubeconfig: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        if self.kubectl_bin is None:
            pytest.skip(f"no kubectl was built or found on PATH; {HOW_TO_RUN}")
        proc = subprocess.run(
            [self.kubectl_bin, "--kubeconfig", str(kubeconfig or self.kubeconfig), *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{proc.stderr}")
        return proc

    def kubectl_json(self, *args: str, input: str | None = None) -> dict[str, Any]:
        """``kubectl ... -o json``: the object the server stored (uid, resourceVersion)."""
        return json.loads(self.kubectl(*args, "-o", "json", input=input).stdout)

    def apply(self, obj: dict[str, Any], *extra: str) -> dict[str, Any]:
        return self.kubectl_json("apply", *extra, "-f", "-", input=json.dumps(obj))

    # -- raw REST, as the admin ----------------------------------------------------

    def request(self, method: str, path: str, body: Any = None, *, content_type: str = "") -> Any:
        """One REST call; the parsed JSON answer. A status >= 300 raises KubeError."""
        api = load_client(kubeconfig=str(self.kubeconfig))
        try:
            headers = {"Accept": "application/json"}
            if body is not None:
                headers["Content-Type"] = content_type or "application/json"
            m, url, hdrs, data, post = api.param_serialize(
                method, path, header_params=headers, body=body, auth_settings=["BearerToken"]
            )
            raw = api.call_api(m, url, hdrs, data, post, _request_timeout=(10, 60)).response
            payload = raw.read()
            if raw.status >= 300:
                raise KubeError(
                    f"{method} {path}: {raw.status} {payload[:300]!r}", status=raw.status
                )
            return orjson.loads(payload) if payload else None
        finally:
            api.close()

    def delete(self, path: str) -> dict[str, Any]:
        """DELETE an object; the answer is the object as deleted (resourceVersion: the
        deletion's revision, the one its DELETED watch event carries)."""
        return self.request("DELETE", path)

    def compact(self) -> int:
        """Compact etcd to its current revision (older watches get a real 410)."""
        if self.data_dir is None:
            pytest.skip(
                "the API server at KUBETRAIL_TEST_KUBECONFIG was not started by "
                "scripts/kube-apiserver: cannot compact its etcd"
            )
        proc = _script("compact", "--data-dir", str(self.data_dir), timeout=120)
        assert proc.returncode == 0, proc.stderr
        return int(proc.stdout.strip().splitlines()[-1])

    def rebuild(self, timeout: float = 120) -> None:
        """Wipe etcd and start the API server again at the same address with the same
        certificates (the admin kubeconfig still works): a rebuilt cluster, with new UIDs
        and resourceVersions from the start again. Tests share the server, and each makes
        its own namespaces, so the ones after do not mind."""
        data_dir = self.data_dir
        if data_dir is None:
            pytest.skip(
                "the API server at KUBETRAIL_TEST_KUBECONFIG was not started by "
                "scripts/kube-apiserver: cannot rebuild it"
            )
        state = json.loads((data_dir / "state.json").read_text())
        stopped = _script("stop", "--wipe", "--data-dir", str(data_dir), timeout=120)
        assert stopped.returncode == 0, stopped.stderr
        args = ["start", "--port", str(state["port"]), "--data-dir", str(data_dir)]
        if not state.get("watch_cache", True):
            args.append("--no-watch-cache")
        started = _script(*args, timeout=600)
        assert started.returncode == 0, started.stderr[-3000:]
        # the server creates its system namespaces just after it reports ready
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.request("GET", "/api/v1/namespaces/kube-system")
                return
            except KubeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def namespace(self, prefix: str) -> str:
        """A new namespace for one test (tests share the server)."""
        name = f"{prefix}-{uuid.uuid4().hex[:6]}"
        self.kubectl("create", "namespace", name)
        return name


def _kubectl_bin() -> str | None:
    explicit = os.environ.get("KUBETRAIL_TEST_KUBECTL")
    if explicit:
        return explicit
    built = _script("kubectl-path", timeout=30)
    if built.returncode == 0 and built.stdout.strip():
        return built.stdout.strip().splitlines()[-1]
    return shutil.which("kubectl")


def _ready(kubeconfig: Path) -> bool:
    try:
        Kube(load_client(kubeconfig=str(kubeconfig))).get("/version", timeout=5)
    except KubeError:
        return False
    return True


@contextmanager
def real_kube_cluster() -> Iterator[RealCluster]:
    """``KUBETRAIL_TEST_KUBECONFIG`` when set (``.ci/run`` sets it), else the server
    ``scripts/kube-apiserver`` runs (reused if running; built and started, and stopped
    afterwards, if not). ``KUBETRAIL_TEST_KUBECONFIG=skip`` skips these cases on purpose;
    they skip on their own only when this machine cannot build the server, and say why."""
    explicit = os.environ.get("KUBETRAIL_TEST_KUBECONFIG", "")
    if explicit == "skip":
        pytest.skip(f"KUBETRAIL_TEST_KUBECONFIG=skip: real API server cases skipped; {HOW_TO_RUN}")
    if explicit:
        yield RealCluster(Path(explicit), _kubectl_bin())
        return
    running = _script("kubeconfig", timeout=30)
    if running.returncode == 0 and _ready(Path(running.stdout.strip().splitlines()[-1])):
        yield RealCluster(Path(running.stdout.strip().splitlines()[-1]), _kubectl_bin())
        return
    started = _script("start", timeout=3600)
    if started.returncode == EXIT_CANNOT_BUILD:
        lines = [ln for ln in started.stderr.splitlines() if ln.strip()]
        pytest.skip(
            f"this machine cannot build kube-apiserver ({lines[-1] if lines else 'no message'}); "
            f"{HOW_TO_RUN}"
        )
    if started.returncode != 0:
        pytest.fail(f"scripts/kube-apiserver start failed:\n{started.stderr[-3000:]}")
    try:
        yield RealCluster(Path(started.stdout.strip().splitlines()[-1]), _kubectl_bin())
    finally:
        _script("stop", "--wipe", timeout=120)


def _ports_free(port: int) -> bool:
    """The API server's port and etcd's two (P+10, P+11) are free on loopback."""
    for p in (port, port + 10, port + 11):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                return False
    return True


@contextmanager
def audited_kube_cluster(
    data_dir: Path, *, webhook: str, token_file: Path, ca_file: Path, port: int | None = None
) -> Iterator[RealCluster]:
    """A cluster of its own, started with ``--audit`` (the log in ``state.json``'s
    ``audit_log``) and ``--audit-webhook`` to ``webhook`` (https, its certificate signed by
    ``ca_file``) with the token in ``token_file``; stopped and wiped afterwards. ``port``: ``KUBETRAIL_TEST_AUDIT_PORT``, else a free one.
    Skips like :func:`real_kube_cluster`."""
    if os.environ.get("KUBETRAIL_TEST_KUBECONFIG", "") == "skip":
        pytest.skip(f"KUBETRAIL_TEST_KUBECONFIG=skip: real API server cases skipped; {HOW_TO_RUN}")
    if port is None and os.environ.get("KUBETRAIL_TEST_AUDIT_PORT"):
        port = int(os.environ["KUBETRAIL_TEST_AUDIT_PORT"])
    while port is None:
        candidate = random.randrange(20000, 30000)
        port = candidate if _ports_free(candidate) else None
    args = ["start", "--port", str(port), "--data-dir", str(data_dir), "--audit"]
    args += ["--audit-webhook", webhook, "--audit-webhook-token-file", str(token_file)]
    args += ["--audit-webhook-ca-file", str(ca_file)]
    started = _script(*args, timeout=3600)
    if started.returncode == EXIT_CANNOT_BUILD:
        lines = [ln for ln in started.stderr.splitlines() if ln.strip()]
        pytest.skip(
            f"this machine cannot build kube-apiserver ({lines[-1] if lines else 'no message'}); "
            f"{HOW_TO_RUN}"
        )
    if started.returncode != 0:
        pytest.fail(f"scripts/kube-apiserver start --audit failed:\n{started.stderr[-3000:]}")
    try:
        yield RealCluster(Path(started.stdout.strip().splitlines()[-1]), _kubectl_bin())
    finally:
        _script("stop", "--data-dir", str(data_dir), "--wipe", timeout=120)
