"""Store URLs: which store, where.

- ``sqlite:///relative/path.db`` and ``sqlite:////absolute/path.db`` — the embedded store;
- ``opensearch+http://[user:pass@]host:port`` and ``opensearch+https://…`` — OpenSearch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import unquote, urlsplit

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
        port = f":{self.port}" if self.port else ""
        return f"{self.scheme}://{auth}{self.host}{port}"


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
    try:
        parts = urlsplit(f"http://{rest}")
    except ValueError as exc:  # e.g. an unclosed "[" of an IPv6 address
        raise InvalidStoreURL(f"store URL {_shown(url)!r} is malformed: {exc}") from None
    try:
        port = parts.port
    except ValueError:
        raise InvalidStoreURL(f"store URL {_shown(url)!r} has an invalid port") from None
    if not parts.hostname:
        raise InvalidStoreURL(f"store URL {_shown(url)!r} names no host")
    return StoreURL(
        scheme=scheme,
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )
