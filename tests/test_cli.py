"""The command line as a user runs it: a subprocess, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from kubetrail.store.base import EventFilter, EventQuery
from kubetrail.store.sqlite import SQLiteStore, open_embedded
from tests.support.k8s_objects import pod, secret


def run(*args: str, stdin: bytes | None = None, env: dict | None = None, cwd: Path | None = None):
    return subprocess.run(
        [sys.executable, "-m", "kubetrail", *args],
        input=stdin,
        capture_output=True,
        timeout=120,
        env=env,
        cwd=cwd,
    )


def watch_line(event_type: str, obj: dict, timestamp: str | None = None) -> bytes:
    event: dict = {"type": event_type, "object": obj}
    if timestamp:
        event["timestamp"] = timestamp
    return orjson.dumps(event) + b"\n"


def test_help_lists_the_commands():
    r = run("--help")
    assert r.returncode == 0
    out = r.stdout.decode()
    for command in ("demo", "ingest", "api", "export", "prune"):
        assert command in out
    for command in ("demo", "ingest", "api"):
        assert run(command, "--help").returncode == 0


def test_ingest_reports_rejected_lines_with_file_and_line_and_keeps_going(tmp_path: Path):
    src = tmp_path / "watch.jsonl"
    src.write_bytes(
        watch_line("ADDED", pod(rv="1"), "2026-11-25T03:00:00Z")
        + b"this is not json\n"
        + watch_line("MODIFIED", pod(rv="2"), "2026-11-25T03:01:00Z")
        + b'{"type": "MODIFIED", "object": {"kind": "Pod"}}\n'
        + watch_line("MODIFIED", pod(rv="3"), "bad-time")
        + watch_line("DELETED", pod(rv="4"), "2026-11-25T03:02:00Z")
    )
    db = tmp_path / "t.db"
    r = run("ingest", "--store", f"sqlite:///{db}", str(src))
    err = r.stderr.decode()
    assert r.returncode == 1, err
    assert f"{src}:2:" in err
    assert f"{src}:4: " in err and "no apiVersion" in err
    assert f"{src}:5: " in err and "bad timestamp" in err
    assert "read 6, stored 3, duplicates 0, rejected 3" in err
    assert "Traceback" not in err
    r2 = run("ingest", "--store", f"sqlite:///{db}", str(src))
    assert "stored 0, duplicates 3, rejected 3" in r2.stderr.decode()


def test_ingest_from_stdin_and_pretty_kubectl_output(tmp_path: Path):
    pretty = b"".join(
        json.dumps({"type": t, "object": pod(rv=rv)}, indent=4).encode() + b"\n"
        for t, rv in (("ADDED", "1"), ("MODIFIED", "2"))
    )
    db = tmp_path / "t.db"
    r = run("ingest", "--store", f"sqlite:///{db}", "-", stdin=pretty)
    assert r.returncode == 0, r.stderr.decode()
    assert "read 2, stored 2" in r.stderr.decode()


def test_export_round_trips_through_ingest_with_the_same_ids(tmp_path: Path):
    src = tmp_path / "w.jsonl"
    src.write_bytes(
        watch_line("ADDED", pod(rv="1", created="2026-11-01T00:00:00Z"), "2026-11-25T03:00:00Z")
        + watch_line("MODIFIED", secret(password="p4ss-canary"), "2026-11-25T03:01:00Z")
    )
    first, second = tmp_path / "a.db", tmp_path / "b.db"
    assert run("ingest", "--store", f"sqlite:///{first}", str(src)).returncode == 0
    exported = tmp_path / "export.jsonl"
    r = run("export", "--store", f"sqlite:///{first}", "-o", str(exported))
    assert r.returncode == 0 and "exported 2 events" in r.stderr.decode()
    assert b"p4ss-canary" not in exported.read_bytes()
    assert run("ingest", "--store", f"sqlite:///{second}", str(exported)).returncode == 0
    a, b = open_embedded(first), open_embedded(second)
    try:
        docs_a = a.search(EventQuery(filter=EventFilter())).items
        docs_b = b.search(EventQuery(filter=EventFilter())).items
    finally:
        a.close()
        b.close()
    assert docs_a == docs_b
    assert docs_a[0]["snapshot"] is True


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("ingest", "--store", "mysql://x", "f"), "unknown store URL"),
        (("api", "--store", "redis://localhost"), "unknown store URL"),
        (("ingest", "--store", "sqlite:///no/such/dir/x.db", "-"), "does not exist"),
        (("ingest", "--store", "opensearch+http://127.0.0.1:1", "-"), "cannot reach OpenSearch"),
        (("ingest", "/no/such/file.jsonl"), "no such file"),
        (("export", "--start", "yesterday"), "invalid --start"),
        (("export", "-o", "."), "cannot write ."),
        (("export", "-o", "no/such/dir/out.jsonl"), "cannot write no/such/dir/out.jsonl"),
        (("prune", "--days", "739946"), "--days must be from 1 to 36500"),
        (("export", "--store", "opensearch+http://[::1"), "is malformed"),
    ],
)
def test_bad_store_or_arguments_are_one_line_and_exit_2(tmp_path: Path, args, message):
    r = run(*args, cwd=tmp_path)
    err = r.stderr.decode().strip()
    assert r.returncode == 2, err
    assert message in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_busy_port_is_one_line_and_exit_2(tmp_path: Path):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        r = run("api", "--store", f"sqlite:///{tmp_path / 'x.db'}", "--port", str(port))
    assert r.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in r.stderr.decode()


def test_mcp_server_entry_point_is_kubetrail_mcp():
    # k8s-audit-server = `kubetrail mcp`: same options, same one-line errors
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from kubetrail.cli import mcp_server_main; "
            "sys.argv[1:] = ['--http', '--host', '0.0.0.0', '--no-auth']; "
            "raise SystemExit(mcp_server_main())",
        ],
        capture_output=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert r.stderr.decode().startswith("kubetrail: error: --no-auth is only allowed on a loopback")


def test_prune_deletes_old_events(tmp_path: Path):
    src = tmp_path / "w.jsonl"
    src.write_bytes(
        watch_line("MODIFIED", pod(rv="1"), "2020-01-01T00:00:00Z")
        + watch_line("MODIFIED", pod(rv="2"), "2099-01-01T00:00:00Z")
    )
    db = f"sqlite:///{tmp_path / 'p.db'}"
    assert run("ingest", "--store", db, str(src)).returncode == 0
    r = run("prune", "--store", db, "--days", "14")
    assert r.returncode == 0
    assert "deleted 1 events older than 14 days" in r.stderr.decode()


# -- a store on a read-only file system (tests/support/read_only_fs.py) ----------------


@pytest.fixture
def read_only_store(tmp_path: Path) -> tuple[Path, str, list[dict]]:
    """A directory holding a store of three events; the tests mount it read-only."""
    directory = tmp_path / "ro"
    directory.mkdir()
    src = tmp_path / "w.jsonl"
    src.write_bytes(
        b"".join(
            watch_line("MODIFIED", pod(rv=str(i)), f"2026-11-25T03:0{i}:00Z") for i in (1, 2, 3)
        )
    )
    url = f"sqlite:///{directory / 'k.db'}"
    assert run("ingest", "--store", url, str(src)).returncode == 0
    store = open_embedded(directory / "k.db")
    try:
        docs = store.search(EventQuery(filter=EventFilter())).items
    finally:
        store.close()
    # the catalog and its days, no log left behind (what lets a read-only mount open them)
    assert len(docs) == 3 and sorted(p.name for p in directory.iterdir()) == ["k.db", "k.db.days"]
    assert sorted(p.name for p in (directory / "k.db.days").iterdir()) == [
        "2026-11-25T000000.000000Z.db"
    ]
    return directory, url, docs


def test_api_serves_a_store_on_a_read_only_file_system(read_only_store) -> None:
    import time
    import urllib.request

    from tests.support.read_only_fs import read_only_runner
    from tests.support.servers import free_port

    runner = read_only_runner()
    directory, url, docs = read_only_store
    port = free_port()
    command = [sys.executable, "-m", "kubetrail", "api", "--store", url, "--port", str(port)]
    api = subprocess.Popen(
        runner.argv(directory, command), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert api.poll() is None, api.communicate()[1].decode()
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/api/v1/events?limit=10"
                    "&start=2026-11-25T00:00:00Z&end=2026-11-26T00:00:00Z",
                    timeout=10,
                ) as response:
                    events = json.loads(response.read())
                break
            except OSError:
                assert time.monotonic() < deadline, "kubetrail api did not answer"
                time.sleep(0.1)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as response:
            health = json.loads(response.read())
    finally:
        api.terminate()
        _, err = api.communicate(timeout=30)
    assert sorted(e["id"] for e in events) == sorted(d["id"] for d in docs)
    assert health["status"] == "ok" and health["detail"]["readOnly"] is True
    assert "Traceback" not in err.decode()


def test_export_reads_a_store_on_a_read_only_file_system(read_only_store) -> None:
    from tests.support.read_only_fs import read_only_runner

    runner = read_only_runner()
    directory, url, docs = read_only_store
    r = runner.run(directory, [sys.executable, "-m", "kubetrail", "export", "--store", url])
    assert r.returncode == 0, r.stderr
    assert [orjson.loads(line) for line in r.stdout.splitlines()] == docs
    assert "exported 3 events" in r.stderr


@pytest.mark.parametrize(
    "command",
    [("ingest", "-"), ("prune", "--days", "1"), ("demo", "--no-serve")],
    ids=["ingest", "prune", "demo"],
)
def test_writing_to_a_store_on_a_read_only_file_system_is_one_line(
    read_only_store, command
) -> None:
    from tests.support.read_only_fs import read_only_runner

    runner = read_only_runner()
    directory, url, _ = read_only_store
    argv = [sys.executable, "-m", "kubetrail", command[0], "--store", url, *command[1:]]
    r = runner.run(directory, argv)
    err = r.stderr.strip()
    assert r.returncode == 2, err
    assert err == (
        f"kubetrail: error: cannot write SQLite store {directory / 'k.db'}: "
        "the file system is read-only"
    )


def test_an_old_store_on_a_read_only_file_system_is_one_line(read_only_store) -> None:
    import sqlite3

    from tests.support.read_only_fs import read_only_runner

    runner = read_only_runner()
    directory, _, _ = read_only_store
    # a single-file store written by an older kubetrail (schema v6)
    SQLiteStore(directory / "old.db").close()
    with sqlite3.connect(directory / "old.db") as conn:
        conn.execute("UPDATE meta SET value='6' WHERE key='schema_version'")
    url = f"sqlite:///{directory / 'old.db'}"
    r = runner.run(directory, [sys.executable, "-m", "kubetrail", "export", "--store", url])
    err = r.stderr.strip()
    assert r.returncode == 2, err
    assert err.startswith(f"kubetrail: error: store {directory / 'old.db'} has schema v6 ")
    assert "open it once where it can be written to upgrade it" in err
    assert len(err.splitlines()) == 1


# -- directories, stores that do not exist, what demo wrote, help texts -----------------------


def test_ingest_of_a_directory_reads_its_recordings_in_name_order(tmp_path: Path) -> None:
    recordings = tmp_path / "recordings"
    (recordings / "sub").mkdir(parents=True)
    (recordings / "b.jsonl").write_bytes(
        watch_line("MODIFIED", pod(rv="2"), "2026-11-25T03:02:00Z") + b"bad line in b\n"
    )
    (recordings / "a.json").write_bytes(
        watch_line("ADDED", pod(rv="1"), "2026-11-25T03:01:00Z") + b"bad line in a\n"
    )
    (recordings / "notes.txt").write_text("not a recording\n")
    (recordings / "sub" / "c.jsonl").write_bytes(watch_line("MODIFIED", pod(rv="3")))
    db = tmp_path / "d.db"
    r = run("ingest", "-q", "--workers", "1", "--store", f"sqlite:///{db}", str(recordings))
    err = r.stderr.decode()
    assert r.returncode == 1, err  # the two bad lines
    rejected = [line for line in err.splitlines() if line.startswith("rejected ")]
    assert [line.split(":")[0] for line in rejected] == [
        f"rejected {recordings / 'a.json'}",
        f"rejected {recordings / 'b.jsonl'}",
    ]
    assert err.splitlines()[-1] == "kubetrail: read 4, stored 2, duplicates 0, rejected 2"

    empty = tmp_path / "empty"
    empty.mkdir()
    r = run("ingest", "--store", f"sqlite:///{db}", str(empty))
    assert r.returncode == 2
    assert r.stderr.decode().strip() == (
        f"kubetrail: error: directory {empty} holds no recordings (files ending in .jsonl, "
        ".json, .ndjson, .log)"
    )


@pytest.mark.parametrize("command", ["export", "api", "mcp"])
def test_a_read_only_command_never_creates_a_store(tmp_path: Path, command: str) -> None:
    from tests.support.servers import free_port

    port = ["--port", str(free_port())] if command == "api" else []
    r = run(command, "--store", "sqlite:///./typo.db", *port, cwd=tmp_path, stdin=b"")
    err = r.stderr.decode().strip()
    assert r.returncode == 2, err
    assert err == (
        "kubetrail: error: SQLite store typo.db does not exist: check the path (--store or "
        "$KUBETRAIL_STORE); kubetrail ingest, demo or ship create a store"
    )
    assert list(tmp_path.iterdir()) == []


def test_demo_says_where_it_wrote_the_events(tmp_path: Path) -> None:
    r = run(
        "demo", "--no-serve", "--store", f"sqlite:///{tmp_path / 'd.db'}",
        "--write-events", "incident.jsonl", cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr.decode()
    written = len((tmp_path / "incident.jsonl").read_bytes().splitlines())
    assert r.stdout.decode().splitlines()[0] == (
        f"kubetrail demo: wrote {written} watch events to incident.jsonl "
        "(`kubetrail ingest incident.jsonl` loads them)"
    )
    r = run("demo", "--no-serve", "--write-events", "no/such/dir/x.jsonl", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.decode().strip() == (
        "kubetrail: error: cannot write --write-events no/such/dir/x.jsonl: "
        "No such file or directory"
    )


def _help(*args: str) -> str:
    import argparse

    from kubetrail.cli import build_parser

    parser = build_parser()
    if args:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[args[0]]
    return " ".join(parser.format_help().split())


def test_help_texts_name_what_each_option_is_and_its_default() -> None:
    from kubetrail.config import DEFAULT_STORE_URL
    from kubetrail.store.opensearch import DEFAULT_PREFIX

    top = _help()
    assert f"default {DEFAULT_STORE_URL}" in top and "opensearch+http(s)://" in top
    assert "FILE a recording to read; '-' reads standard input; a directory:" in _help("ingest")
    for command, default in (("api", "info"), ("ship", "info"), ("mcp", "warning")):
        assert (
            f"--log-level {{debug,info,warning,error}} the least severe lines logged to "
            f"standard error (default {default})" in _help(command)
        ), command
    assert f"else {DEFAULT_PREFIX})" in _help("setup")
    assert (
        f"--store STORE store URL (default: the config's 'store', else $KUBETRAIL_STORE, "
        f"else {DEFAULT_STORE_URL})" in _help("ship")
    )
