"""How writers leave their mark on an object: ``managedFields`` and conditions.

Every write in the simulation says who wrote which fields (:func:`touch`), the
way the API server keeps ``metadata.managedFields`` (FieldsV1 sets, one entry per
manager, operation and subresource), because kubetrail reads the field manager
from there. :func:`set_condition` updates a status condition the way controllers
do: ``lastTransitionTime`` moves only when the status does.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from kubetrail.demo.primitives import Obj, ts

_ATOMIC_LISTS = frozenset(
    {
        "containerStatuses",
        "taints",
        "tolerations",
        "images",
        "podIPs",
        "hostIPs",
        "ingress",
        "clusterIPs",
        "ipFamilies",
        "accessModes",
        "active",
        "args",
        "sources",
        "podCIDRs",
    }
)


def _list_key(item: Mapping[str, Any]) -> dict[str, Any] | None:
    if "uid" in item and "kind" in item:
        return {"uid": item["uid"]}
    if "containerPort" in item:
        return {"containerPort": item["containerPort"], "protocol": item.get("protocol", "TCP")}
    if "port" in item and "protocol" in item:
        return {"port": item["port"], "protocol": item["protocol"]}
    if "mountPath" in item:
        return {"mountPath": item["mountPath"]}
    if "type" in item and "name" not in item:
        return {"type": item["type"]}
    if "name" in item:
        return {"name": item["name"]}
    return None


def _fields_v1(value: Any, field: str = "") -> Obj:
    """The FieldsV1 set describing ``value`` (``f:`` fields, ``k:`` list keys)."""
    if isinstance(value, Mapping):
        out: Obj = {".": {}}
        for key, item in value.items():
            out[f"f:{key}"] = _fields_v1(item, key)
        return out
    if isinstance(value, list) and field not in _ATOMIC_LISTS:
        if field == "finalizers":
            return {".": {}, **{f"v:{json.dumps(v)}": {} for v in value}}
        keyed: Obj = {}
        for item in value:
            key = _list_key(item) if isinstance(item, Mapping) else None
            if key is None:
                return {}
            keyed["k:" + json.dumps(key, separators=(",", ":"))] = _fields_v1(item)
        return keyed
    return {}


def _merge(into: Obj, other: Mapping[str, Any]) -> None:
    for key, value in other.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


def _has_path(obj: Mapping[str, Any], path: tuple[str, ...]) -> bool:
    cur: Any = obj
    for key in path:
        if not isinstance(cur, Mapping) or key not in cur:
            return False
        cur = cur[key]
    return True


def touch(
    obj: Obj,
    manager: str,
    when: datetime,
    *paths: tuple[str, ...],
    subresource: str | None = None,
    operation: str = "Update",
    api_version: str | None = None,
) -> None:
    """Record that ``manager`` last wrote the fields at ``paths`` at ``when``."""
    fields: Obj = {}
    for path in paths:
        node = fields
        cur: Any = obj
        for key in path:
            cur = cur.get(key) if isinstance(cur, Mapping) else None
        if cur is None and not (isinstance(obj, Mapping) and _has_path(obj, path)):
            continue
        for key in path:
            node = node.setdefault(f"f:{key}", {})
        leaf = _fields_v1(cur, path[-1])
        if len(path) == 1:
            leaf.pop(".", None)
        _merge(node, leaf)
    entry: Obj = {
        "apiVersion": api_version or obj["apiVersion"],
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
        "manager": manager,
        "operation": operation,
        "time": ts(when),
    }
    if subresource:
        entry["subresource"] = subresource
    entries = obj["metadata"].setdefault("managedFields", [])
    for i, old in enumerate(entries):
        if (old["manager"], old["operation"], old.get("subresource")) == (
            manager,
            operation,
            subresource,
        ):
            # A manager's entry is the union of everything it has set that still exists.
            owned = copy.deepcopy(old["fieldsV1"])
            _merge(owned, fields)
            entry["fieldsV1"] = _prune(owned, obj)
            entries[i] = entry
            return
    entries.append(entry)


def _prune(fields: Obj, value: Any) -> Obj:
    """``fields`` without the paths ``value`` no longer has."""
    out: Obj = {}
    for key, sub in fields.items():
        if key == "." or key.startswith("v:"):
            out[key] = sub
        elif key.startswith("f:") and isinstance(value, Mapping):
            if key[2:] in value:
                out[key] = _prune(sub, value[key[2:]])
        elif key.startswith("k:") and isinstance(value, list):
            wanted = json.loads(key[2:])
            item = next(
                (
                    i
                    for i in value
                    if isinstance(i, Mapping) and all(i.get(k) == v for k, v in wanted.items())
                ),
                None,
            )
            if item is not None:
                out[key] = _prune(sub, item)
    return out


def set_condition(
    conditions: list[Obj],
    type_: str,
    status: str,
    when: datetime,
    *,
    reason: str | None = None,
    message: str | None = None,
    **always: Any,
) -> bool:
    """Set a condition; ``lastTransitionTime`` moves only when ``status`` does.
    Returns whether the condition changed."""
    cond = next((c for c in conditions if c["type"] == type_), None)
    if cond is None:
        cond = {"type": type_}
        conditions.append(cond)
    before = dict(cond)
    if cond.get("status") != status:
        cond["lastTransitionTime"] = ts(when)
    cond["status"] = status
    for key, value in (("reason", reason), ("message", message)):
        if value is None:
            cond.pop(key, None)
        else:
            cond[key] = value
    cond.update(always)
    return cond != before
