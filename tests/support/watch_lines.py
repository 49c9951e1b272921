"""Watch-event lines as `kubectl get -w -o json` and `kubetrail export` write them."""

from __future__ import annotations

import json
from typing import Any


def event(i: int, verb: str = "MODIFIED") -> dict[str, Any]:
    return {
        "type": verb,
        "object": {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"web-{i}",
                "namespace": "default",
                "uid": f"00000000-0000-0000-0000-{i:012d}",
                "resourceVersion": str(1000 + i),
                "creationTimestamp": "2026-11-20T10:00:00Z",
                "labels": {"app": "web"},
            },
            "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]},
            "status": {
                "phase": "Running",
                "containerStatuses": [
                    {
                        "name": "app",
                        "restartCount": i % 4,
                        "state": {"waiting": {"reason": "CrashLoopBackOff"}}
                        if i % 3 == 0
                        else {"running": {"startedAt": "2026-11-20T10:00:05Z"}},
                    }
                ],
            },
        },
    }


def jsonl(*values: Any) -> bytes:
    return b"".join(json.dumps(v).encode() + b"\n" for v in values)
