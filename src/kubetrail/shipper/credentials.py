"""Credentials that expire, and getting fresh ones when the API server rejects them.

A shipper runs for weeks; its credentials do not. EKS kubeconfigs mint 15-minute tokens
through an exec plugin (``aws eks get-token``), the kubelet rotates projected service-account
tokens (hourly by default), and a token bound to an object stops working the moment the
object is deleted.

What the ``kubernetes`` client does on its own, through ``Configuration.refresh_api_key_hook``
which it runs before every request:

- kubeconfig with an exec plugin: the plugin runs again once the ``expirationTimestamp`` it
  returned is less than five minutes away (kubernetes-client/python-base#250, the fix of
  kubernetes-client/python#741). A plugin that returns no ``expirationTimestamp`` runs once,
  and a token the server stops accepting before that timestamp is kept.
- kubeconfig ``token`` / ``tokenFile``: read once.
- in cluster: the service-account token file is read again at most once a minute.

What this adds, as client-go does for exec plugins: when the server answers ``401``, the
credentials are loaded again from where they came from (a new client: the exec plugin runs
again, token files and the kubeconfig are read again), once for all the threads that saw that
401, and the request is retried once. A watch is reopened from the resourceVersion it had
reached, so there is no relist. The log says it once, at warning level. If the fresh
credentials are rejected too, it says that once at error level, and says when they work
again. A reload is attempted at most every ``MIN_RELOAD_INTERVAL`` seconds: a cluster that
rejects everything is not asked in a loop, and each watcher's backoff spaces its own retries.

The client's hook also runs under this object's lock. Otherwise, when a token expires, every
watch thread would run the exec plugin at the same time.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from kubernetes import client as k8s_client

log = logging.getLogger("kubetrail.shipper")

MIN_RELOAD_INTERVAL = 5.0

T = TypeVar("T")


def has_credentials(configuration: k8s_client.Configuration) -> bool:
    """A token (bearer or basic) or a client certificate, as a loaded config sets them."""
    return bool(configuration.api_key.get("BearerToken") or configuration.cert_file)


class Credentials:
    """The client in use and how to get one with fresh credentials. Thread-safe."""

    def __init__(
        self,
        api: k8s_client.ApiClient,
        *,
        reload: Callable[[], k8s_client.ApiClient] | None = None,
        source: str = "the loaded configuration",
    ) -> None:
        self._api = api
        self._reload = reload
        self.source = source
        self._lock = threading.Lock()
        self._generation = 0
        self._last_reload = -math.inf
        self._unconfirmed = False  # reloaded after a 401, no request accepted since
        self._said_failing = False

    @property
    def api(self) -> k8s_client.ApiClient:
        return self._api

    def use(
        self, prepare: Callable[[k8s_client.ApiClient], T]
    ) -> tuple[k8s_client.ApiClient, int, T]:
        """``prepare(client)`` (which runs the client's own refresh hook) under the lock; the
        client, its credentials' generation (for :meth:`rejected`) and what ``prepare`` made."""
        with self._lock:
            return self._api, self._generation, prepare(self._api)

    def accepted(self, generation: int) -> None:
        """A request with credentials of ``generation`` got an answer other than 401."""
        if not self._unconfirmed:
            return
        with self._lock:
            if generation != self._generation or not self._unconfirmed:
                return
            self._unconfirmed = False
            if self._said_failing:
                self._said_failing = False
                log.warning("the API server accepts the credentials from %s again", self.source)

    def rejected(self, generation: int) -> bool:
        """The server answered 401 to credentials of ``generation``. True when fresher ones
        are now in place (retry once with them); False when not: there is no way to reload,
        a reload was just tried, or it failed."""
        if self._reload is None:
            return False
        with self._lock:
            if generation != self._generation:
                return True  # another thread has already reloaded them
            now = time.monotonic()
            if now - self._last_reload < MIN_RELOAD_INTERVAL:
                return False
            self._last_reload = now
            try:
                api = self._reload()
            except Exception as exc:  # the message only: a config error names the file
                self._failing(f"reloading them failed: {str(exc).splitlines()[0]}")
                return False
            if not has_credentials(api.configuration):
                api.close()
                self._failing("reloading them gave none (an exec plugin that failed logs why)")
                return False
            if self._unconfirmed:
                self._failing("fresh ones were rejected too")
            else:
                log.warning(
                    "the API server rejected the credentials (401 Unauthorized); loaded fresh "
                    "ones from %s; watches resume where they were",
                    self.source,
                )
            # the old client is not closed: watches opened with it may still be streaming
            self._api = api
            self._generation += 1
            self._unconfirmed = True
            return True

    def _failing(self, what: str) -> None:
        if self._said_failing:
            log.debug("credentials from %s still rejected: %s", self.source, what)
            return
        self._said_failing = True
        log.error(
            "the API server rejects the credentials from %s (401 Unauthorized) and %s; "
            "retrying with backoff until it accepts them",
            self.source,
            what,
        )
