"""Every pod runs non-root, without privileges, with seccomp, bounded resources, probes on the
long-running ones, and writes only where it has to (/data, /tmp)."""

from __future__ import annotations

import pytest

from tests.support.manifests import VARIANTS, Container, containers, render

WRITABLE = {"/data", "/tmp"}


def effective(c: Container, key: str):
    """A security setting as the kubelet applies it: the container's, else the pod's."""
    own = (c.spec.get("securityContext") or {}).get(key)
    return own if own is not None else (c.pod.get("securityContext") or {}).get(key)


@pytest.mark.parametrize("variant", VARIANTS)
def test_security_context(variant: str) -> None:
    for c in containers(render(variant)):
        sc = c.spec.get("securityContext") or {}
        assert effective(c, "runAsNonRoot") is True, c.where
        uid = effective(c, "runAsUser")
        assert uid and uid != 0, c.where
        assert (effective(c, "seccompProfile") or {}).get("type") == "RuntimeDefault", c.where
        assert sc.get("allowPrivilegeEscalation") is False, c.where
        assert sc.get("capabilities", {}).get("drop") == ["ALL"], c.where
        assert not sc.get("capabilities", {}).get("add"), c.where
        assert not sc.get("privileged"), c.where
        if c.is_kubetrail:
            assert uid == 10001, f"{c.where}: the image's user is 10001"
            assert sc.get("readOnlyRootFilesystem") is True, c.where
        for flag in ("hostNetwork", "hostPID", "hostIPC"):
            assert not c.pod.get(flag), c.where


@pytest.mark.parametrize("variant", VARIANTS)
def test_resources_requests_and_limits(variant: str) -> None:
    for c in containers(render(variant)):
        resources = c.spec.get("resources") or {}
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources.get(bound) or {}), f"{c.where}: {bound}"


@pytest.mark.parametrize("variant", VARIANTS)
def test_long_running_containers_have_probes(variant: str) -> None:
    for c in containers(render(variant)):
        if c.long_running:
            assert "livenessProbe" in c.spec and "readinessProbe" in c.spec, c.where
        else:  # Jobs run to completion: a probe would only get in the way
            assert "livenessProbe" not in c.spec, c.where


@pytest.mark.parametrize("variant", VARIANTS)
def test_kubetrail_writes_only_data_and_tmp(variant: str) -> None:
    for c in containers(render(variant)):
        if not c.is_kubetrail:
            continue
        mounts = c.mounts()
        writable = {path for path, m in mounts.items() if not m.get("readOnly")}
        assert writable <= WRITABLE, f"{c.where}: writable {sorted(writable - WRITABLE)}"
        assert "/tmp" in mounts, f"{c.where}: /tmp (an emptyDir) is where Python writes temp files"
        assert "emptyDir" in c.volume(mounts["/tmp"]["name"]), c.where
        for path, mount in mounts.items():
            volume_names = {v["name"] for v in c.pod.get("volumes") or []}
            claims = {
                t["metadata"]["name"] for t in c.owner["spec"].get("volumeClaimTemplates", [])
            }
            assert mount["name"] in volume_names | claims, (c.where, path)
            if mount["name"] in volume_names:
                volume = c.volume(mount["name"])
                assert "hostPath" not in volume, c.where
                if "secret" in volume or "configMap" in volume:
                    assert mount.get("readOnly") is True, (c.where, path)


@pytest.mark.parametrize("variant", VARIANTS)
def test_no_service_links(variant: str) -> None:
    """A Service named kubetrail-api would otherwise put KUBETRAIL_API_* variables into every
    pod, next to the ones kubetrail reads."""
    for c in containers(render(variant)):
        assert c.pod.get("enableServiceLinks") is False, c.where


def test_namespace_enforces_the_restricted_pod_security_standard() -> None:
    (ns,) = [d for d in render("opensearch-demo") if d["kind"] == "Namespace"]
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
