"""The Host/Origin rules both servers apply against DNS rebinding (kubetrail.hosts)."""

from __future__ import annotations

import pytest

from kubetrail.hosts import host_allowed, hostname, origin_allowed


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:8080",
        "127.0.0.2",
        "localhost:8080",
        "LOCALHOST",
        "[::1]:8081",
        "10.0.3.7:8080",
        "[fd00::7]",
        "kubetrail-api:8080",
        "kubetrail-api.kubetrail.svc:8080",
        "kubetrail-api.kubetrail.svc.cluster.local.",
        "app.localhost",
    ],
)
def test_addresses_loopback_and_cluster_names_are_allowed_by_default(host: str) -> None:
    assert host_allowed(host)


@pytest.mark.parametrize(
    "host",
    ["evil.example", "evil.example:8080", "127.0.0.1.nip.io", "localhost.evil.example", ""],
)
def test_other_names_are_refused_unless_listed(host: str) -> None:
    assert not host_allowed(host)


def test_the_allow_list_takes_names_domains_and_everything() -> None:
    assert host_allowed("kubetrail.example.com:443", ["kubetrail.example.com"])
    assert not host_allowed("other.example.com", ["kubetrail.example.com"])
    assert host_allowed("a.b.example.com", ["*.example.com"])
    assert not host_allowed("example.com.evil.io", ["*.example.com"])
    assert host_allowed("anything.at.all", ["*"])


@pytest.mark.parametrize(
    "origin, ok",
    [
        ("http://localhost:6274", True),
        ("http://127.0.0.1:8080", True),
        ("https://kubetrail-api.kubetrail.svc", True),
        ("http://evil.example", False),
        ("null", False),
        ("file://", False),
        ("chrome-extension://abcdef", False),
    ],
)
def test_origins_follow_the_same_rule(origin: str, ok: bool) -> None:
    assert origin_allowed(origin) is ok


def test_hostname_strips_ports_brackets_and_the_final_dot() -> None:
    assert hostname("[::1]:8080") == "::1"
    assert hostname("Example.COM.:80") == "example.com"
    assert hostname("10.1.2.3") == "10.1.2.3"
