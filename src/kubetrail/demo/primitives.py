"""Deterministic values and Kubernetes' formats, used by every part of the demo.

Nothing in the demo is random: names, uids, IPs, image digests and jitter come
from hashes of the anchor and the object's identity (:func:`pick`, :func:`token`,
:func:`hex_id`), so the same anchor always gives the same recording. Timestamps
are written as the API server writes them (:func:`ts`, :func:`ts_micro`).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Generator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

#: A Kubernetes object (or any part of one), as JSON.
Obj = dict[str, Any]
#: A simulation process: yields how long to wait (seconds or a timedelta).
Process = Generator[int | timedelta, None, Any]

UID_ROOT = UUID("6c1f3a52-7d0e-4b8a-9a57-1f0d2c9e4b10")
KCM = "kube-controller-manager"  # the field manager of the controllers it runs
_SAFE = "bcdfghjklmnpqrstvwxz2456789"  # apimachinery rand.SafeEncodeString


def ts(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def ts_micro(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def digest(*parts: object) -> bytes:
    """SHA-256 of the parts: the seed of every deterministic value."""
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()


def pick(n: int, *parts: object) -> int:
    """A deterministic number in ``range(n)``."""
    return int.from_bytes(digest(*parts)[:8], "big") % n


def hex_id(n: int, *parts: object) -> str:
    """``n`` hex digits from the parts (digests, machine ids, container ids)."""
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:n]


def token(n: int, *parts: object) -> str:
    """``n`` characters as apimachinery's random name suffixes use, from the parts."""
    return "".join(_SAFE[b % len(_SAFE)] for b in digest(*parts)[:n])


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def go_duration(seconds: int) -> str:
    minutes, secs = divmod(seconds, 60)
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def compact_json(value: Any) -> str:
    """JSON as kubectl writes it into the last-applied annotation."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True) + "\n"


def sorted_copy(value: Any) -> Any:
    """A deep copy with every mapping's keys sorted, as ``kubectl get -o json`` prints."""
    if isinstance(value, Mapping):
        return {k: sorted_copy(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [sorted_copy(v) for v in value]
    return value
