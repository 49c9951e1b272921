"""``kubetrail ingest`` of the API server's audit log, in the same files as watch events:
recognised line by line, joined to the versions whichever comes first, the same with one
process or several, into SQLite and into OpenSearch (osmem), idempotent."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubetrail.ingest import parallel
from kubetrail.ingest.pipeline import ingest_files
from kubetrail.store.base import EventFilter, EventQuery, Store
from kubetrail.store.sqlite import open_embedded
from tests.support.audit_events import audit_event, event_list
from tests.support.opensearch_servers import opensearch_store
from tests.support.osmem import running_osmem
from tests.support.watch_lines import event, jsonl

USERS = ["alice@example.com", "bob@example.com", "system:serviceaccount:argocd:app"]


def watched(i: int) -> dict[str, Any]:
    """A watch event of pod web-i observed at 10:00:0i."""
    return {**event(i), "timestamp": f"2026-11-25T10:00:{i:02d}Z"}


def audited(i: int, *, exact: bool) -> dict[str, Any]:
    """The write that made web-i's version, a few ms before it was observed."""
    obj = event(i)["object"]
    return audit_event(
        audit_id=f"audit-{i}",
        verb="patch",
        resource="pods",
        namespace="default",
        name=obj["metadata"]["name"],
        uid=obj["metadata"]["uid"],
        user=USERS[i % 3],
        at=f"2026-11-25T10:00:{i - 1:02d}.990000Z",
        level="RequestResponse" if exact else "Metadata",
        written=obj if exact else None,
    )


def recording() -> bytes:
    """Ten versions; the audit events of the even ones before them, of the odd ones after;
    exact for i < 5, by time from 5 on; plus a read, a refused write and a broken line."""
    lines: list[Any] = []
    for i in range(1, 11):
        if i % 2 == 0:
            lines.append(audited(i, exact=i < 5))
        lines.append(watched(i))
    lines += [audited(i, exact=i < 5) for i in range(1, 11, 2)]
    lines.append(audit_event(audit_id="read", verb="get", resource="pods", name="web-1"))
    lines.append(audit_event(audit_id="no", verb="delete", resource="pods", name="x", code=403))
    lines.append({**audited(3, exact=True), "auditID": ""})
    return jsonl(*lines) + jsonl(event_list(audited(1, exact=True), audited(2, exact=False)))


def who(store: Store) -> dict[str, tuple[str, str]]:
    docs = store.search(EventQuery(filter=EventFilter(), limit=100)).items
    return {d["resourceName"]: (d["user"], d.get("userSource", "")) for d in docs}


EXPECTED = {
    f"web-{i}": (USERS[i % 3], "audit-exact" if i < 5 else "audit-nearest") for i in range(1, 11)
}


@pytest.fixture(scope="module")
def osmem_url() -> Iterator[str]:
    with running_osmem() as url:
        yield url


@pytest.mark.parametrize("workers", [1, 2])
def test_an_audit_log_among_watch_events_names_who_made_each_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    monkeypatch.setattr(parallel, "SEGMENT_BYTES", 2000)  # several segments, several workers
    path = tmp_path / "recording.jsonl"
    path.write_bytes(recording())
    store = open_embedded(tmp_path / "k.db")
    lines: list[str] = []
    try:
        stats = ingest_files([str(path)], store, report=lines.append, workers=workers)
        assert who(store) == EXPECTED
    finally:
        store.close()
    assert (stats.stored, stats.rejected) == (10, 1)
    assert lines == [f"{path}:23: audit event has no auditID"]
    # 10 writes, a read, a refused write, the list's two
    assert (stats.audit_events, stats.audit_unchanged) == (14, 2)
    assert (stats.audit.stored, stats.audit.duplicates) == (10, 2)
    assert (stats.audit.exact, stats.audit.nearest, stats.waiting) == (4, 6, 0)


def test_into_opensearch_with_workers(tmp_path: Path, osmem_url: str) -> None:
    """Rows prepared in worker processes are written without a join; the run then joins
    what is pending over the time its documents cover."""
    path = tmp_path / "recording.jsonl"
    path.write_bytes(recording())
    store = opensearch_store(osmem_url, prefix="ingest-audit-events")
    try:
        ingest_files([str(path)], store, report=lambda line: None, workers=2)
        assert who(store) == EXPECTED
    finally:
        store.close()


def test_the_command_says_what_it_kept_and_a_second_run_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    path.write_bytes(recording())
    db = tmp_path / "k.db"
    command = [sys.executable, "-m", "kubetrail", "ingest", "--store", f"sqlite:///{db}", "-q"]
    first = subprocess.run([*command, str(path)], capture_output=True, text=True, timeout=120)
    assert first.returncode == 1  # one line was rejected
    summary = first.stderr.strip().splitlines()[-1]
    assert summary == (
        "kubetrail: read 24, stored 10, duplicates 0, rejected 1; audit events 14: 10 writes "
        "kept, 2 kept before, 2 without a change; versions joined 4 exactly, 6 by time; 0 "
        "writes wait for their version"
    )
    again = subprocess.run([*command, str(path)], capture_output=True, text=True, timeout=120)
    assert "audit events 14: 0 writes kept, 12 kept before" in again.stderr, again.stderr
    store = open_embedded(db, read_only=True)
    try:
        assert who(store) == EXPECTED
    finally:
        store.close()
