"""Store URLs: which store, where.

- ``sqlite:///relative/path.db`` and ``sqlite:////absolute/path.db`` — the embedded store;
- ``opensearch+http://[user:pass@]host:port`` and ``opensearch+https://…`` — OpenSearch;
  several nodes of one cluster as ``host1:port1,host2:port2,…`` (the client spreads its
  requests over them and goes on with the others when one fails).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import SplitResult, unquote, urlsplit

# the default URL and the longest retention are settings' bounds, kept in config
# (which every layer may import); re-exported here where stores look for them
from kubetrail.config import DEFAULT_STORE_URL as DEFAULT_STORE_URL
from kubetrail.config import MAX_RETENTION_DAYS as MAX_RETENTION_DAYS
from kubetrail.store.base import StoreError

SCHEMES = ("sqlite", "opensearch+http", "opensearch+https")


class InvalidStoreURL(StoreError):
    """The store URL cannot be understood."""


@dataclass(frozen=True, slots=True)
class StoreURL:
    scheme: str
    path: str = ""  # sqlite: the file path
    host: str = ""
    port: int | None = None
    username: str | None = None
    password: str | None = None
    #: further nodes of the same cluster after ``host:port`` (``h1:9200,h2:9200,…``)
    more_hosts: tuple[tuple[str, int | None], ...] = ()

    @property
    def hosts(self) -> list[tuple[str, int | None]]:
        """Every node the URL names, ``(host, port)``, the first one first."""
        return [(self.host, self.port), *self.more_hosts]

    def with_credentials(self, username: str | None, password: str | None) -> StoreURL:
        """This URL with ``username`` and ``password``, unless it carries a user itself."""
        if self.username or not username:
            return self
        return replace(self, username=username, password=password)

    def redacted(self) -> str:
        """The URL without its password, for logs and messages."""
        if self.scheme == "sqlite":
            return f"sqlite:///{self.path}"
        auth = f"{self.username}:***@" if self.username else ""
        nodes = ",".join(
            (f"[{host}]" if ":" in host else host) + (f":{port}" if port else "")
            for host, port in self.hosts
        )
        return f"{self.scheme}://{auth}{nodes}"


def _shown(url: str) -> str:
    """The URL as it may appear in a message: any ``user:password@`` hidden."""
    scheme, sep, rest = url.partition("://")
    authority, slash, tail = rest.partition("/")
    if "@" in authority:
        authority = "***@" + authority.rpartition("@")[2]
    return f"{scheme}{sep}{authority}{slash}{tail}"


def parse_store_url(url: str) -> StoreURL:
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in SCHEMES:
        raise InvalidStoreURL(
            f"unknown store URL {_shown(url)!r}: use sqlite:///path/to.db or "
            "opensearch+http(s)://[user:pass@]host:port"
        )
    if scheme == "sqlite":
        if not rest.startswith("/") or rest == "/":
            raise InvalidStoreURL(
                f"store URL {_shown(url)!r} names no file: use sqlite:///relative.db or sqlite:////abs/path.db"
            )
        return StoreURL(scheme=scheme, path=unquote(rest[1:]))
    # several nodes of one cluster: "[user:pass@]h1:p1,h2:p2,…" (credentials once, for all)
    authority, slash, tail = rest.partition("/")
    userinfo, at, host_list = authority.rpartition("@")
    first, *others = host_list.split(",")
    parts = _split(f"{userinfo}{at}{first}{slash}{tail}", url)
    more = tuple((p.hostname or "", p.port) for p in (_split(h, url) for h in others))
    if not parts.hostname or not all(host for host, _ in more):
        raise InvalidStoreURL(f"store URL {_shown(url)!r} names no host")
    return StoreURL(
        scheme=scheme,
        host=parts.hostname,
        port=parts.port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        more_hosts=more,
    )


def _split(rest: str, url: str) -> SplitResult:
    """``rest`` (``[user:pass@]host[:port][/…]``) split, its port checked."""
    try:
        parts = urlsplit(f"http://{rest}")
    except ValueError as exc:  # e.g. an unclosed "[" of an IPv6 address
        raise InvalidStoreURL(f"store URL {_shown(url)!r} is malformed: {exc}") from None
    try:
        parts.port  # noqa: B018 - raises on an invalid port
    except ValueError:
        raise InvalidStoreURL(f"store URL {_shown(url)!r} has an invalid port") from None
    return parts
