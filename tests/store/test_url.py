"""Store URLs: what they mean, and errors that never show a password."""

from __future__ import annotations

import pytest

from kubetrail.store.url import InvalidStoreURL, parse_store_url


def test_sqlite_relative_and_absolute_paths() -> None:
    assert parse_store_url("sqlite:///./kubetrail.db").path == "./kubetrail.db"
    assert parse_store_url("sqlite:////var/lib/kubetrail/k.db").path == "/var/lib/kubetrail/k.db"


def test_opensearch_url_with_credentials() -> None:
    url = parse_store_url("opensearch+https://admin:p%40ss@search.example.com:9200")
    assert (url.scheme, url.host, url.port) == ("opensearch+https", "search.example.com", 9200)
    assert (url.username, url.password) == ("admin", "p@ss")
    assert url.redacted() == "opensearch+https://admin:***@search.example.com:9200"


def test_opensearch_url_with_several_nodes_of_one_cluster() -> None:
    url = parse_store_url("opensearch+http://admin:s3cret@10.0.0.1:9200,10.0.0.2,[::1]:9201")
    assert url.hosts == [("10.0.0.1", 9200), ("10.0.0.2", None), ("::1", 9201)]
    assert (url.host, url.port, url.username, url.password) == ("10.0.0.1", 9200, "admin", "s3cret")
    assert url.redacted() == "opensearch+http://admin:***@10.0.0.1:9200,10.0.0.2,[::1]:9201"
    assert parse_store_url("opensearch+http://h:9200").hosts == [("h", 9200)]


def test_make_client_spreads_over_every_node() -> None:
    from kubetrail.store.opensearch.client import make_client

    client = make_client(parse_store_url("opensearch+http://u:p@a:9260,b:9261,c"))
    conns = client.transport.connection_pool.connections
    assert sorted(c.host for c in conns) == ["http://a:9260", "http://b:9261", "http://c:9200"]
    assert all(c.headers["authorization"].startswith("Basic ") for c in conns)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://db/x", "unknown store URL"),
        ("kubetrail.db", "unknown store URL"),
        ("sqlite://", "names no file"),
        ("opensearch+http://", "names no host"),
        ("opensearch+http://admin:hunter2@host:99999", "invalid port"),
        ("redis://admin:hunter2@host:6379", "unknown store URL"),
        ("opensearch+http://admin:hunter2@[::1", "malformed"),
        ("opensearch+http://admin:hunter2@h1:9200,", "names no host"),
        ("opensearch+http://admin:hunter2@h1:9200,h2:99999", "invalid port"),
        ("opensearch+http://admin:hunter2@h1:9200,[::1", "malformed"),
    ],
)
def test_bad_urls_say_what_is_wrong_without_the_password(url: str, message: str) -> None:
    with pytest.raises(InvalidStoreURL, match=message) as err:
        parse_store_url(url)
    assert "hunter2" not in str(err.value)
