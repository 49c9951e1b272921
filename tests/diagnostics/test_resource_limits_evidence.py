"""check_resource_limits reads the newest document of the findings its report shows, and
of every eviction (whose message names the resource, and so the issue), not of every
OOM-killed pod of a busy day: the same report, a fraction of the reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kubetrail.diagnostics import run_check
from kubetrail.ingest.documents import to_documents
from kubetrail.store.sqlite import SQLiteStore, open_embedded
from tests.support.incident import params
from tests.support.k8s_objects import pod

OOM_PODS = 12


def _oom_killed(i: int) -> dict[str, Any]:
    obj = pod(f"worker-{i:02d}", "jobs", uid=f"00000000-0000-4000-8000-{i:012d}", rv=str(2000 + i))
    obj["status"]["containerStatuses"] = [
        {
            "name": "app",
            "ready": False,
            "restartCount": 1,
            "state": {"running": {"startedAt": f"2026-11-25T{10 + i // 60:02d}:{i % 60:02d}:30Z"}},
            "lastState": {
                "terminated": {
                    "reason": "OOMKilled",
                    "exitCode": 137,
                    "finishedAt": f"2026-11-25T{10 + i // 60:02d}:{i % 60:02d}:20Z",
                }
            },
        }
    ]
    return {"type": "MODIFIED", "object": obj}


def _evicted(i: int) -> dict[str, Any]:
    obj = pod(f"cache-{i}", "jobs", uid=f"00000000-0000-4000-9000-{i:012d}", rv=str(3000 + i))
    obj["status"] = {
        "phase": "Failed",
        "reason": "Evicted",
        "message": "The node was low on resource: memory. Threshold quantity: 100Mi.",
        "conditions": [
            {
                "type": "Ready",
                "status": "False",
                "lastTransitionTime": f"2026-11-25T09:0{i}:00Z",
            }
        ],
    }
    return {"type": "MODIFIED", "object": obj}


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    s = open_embedded(tmp_path / "limits.db")
    events = [_oom_killed(i) for i in range(OOM_PODS)] + [_evicted(i) for i in range(2)]
    s.write([doc for ev in events for doc in to_documents(ev)])
    return s


def test_evidence_is_read_for_the_shown_findings_and_the_evictions(store: SQLiteStore) -> None:
    asked: list[str] = []
    documents = store.documents

    def counting(ids: Any) -> Any:
        asked.extend(ids)
        return documents(ids)

    full = run_check(store, "check_resource_limits", params(limit=100))
    assert full.summary == {"OOMKilled": OOM_PODS, "Evicted (memory)": 2}
    store.documents = counting  # type: ignore[method-assign]
    short = run_check(store, "check_resource_limits", params(limit=3))
    read = {ident.split(":")[0] for ident in asked}
    shown = {f.object.uid for f in short.findings}
    assert len(shown) == 3 and shown <= read  # the three shown...
    assert {u for u in read if "-9000-" in u} == {  # ...the two evictions...
        f"00000000-0000-4000-9000-{i:012d}" for i in range(2)
    }
    assert {u for u in read if "-8000-" in u} == shown  # ...and no other OOM-killed pod
    assert short.summary == full.summary  # the evictions are named by their resource
    assert short.total_findings == full.total_findings
    assert short.findings == full.findings[:3]  # same evidence, same order
