"""The short-lived commands (ingest, export, prune, setup) with arbitrary option values:
an exit code and, on an error, one line that says what is wrong; never a traceback.

Runs ``kubetrail.cli.main`` in this process (a subprocess per example would take
minutes); tests/test_cli.py runs the real executable. ``KUBETRAIL_CLI_FUZZ_EXAMPLES``
sets the number of examples (default 60).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubetrail import cli
from kubetrail.store.sqlite import open_embedded
from tests.support.dataset import documents
from tests.support.strategies import ODD_TEXT

EXAMPLES = int(os.environ.get("KUBETRAIL_CLI_FUZZ_EXAMPLES", "60"))

_TEXT = ODD_TEXT | st.text(max_size=12)
_NUMBER = st.sampled_from(["0", "-3", "1", "2", "65", "10000", "abc", ""]) | st.integers(
    -(10**6), 10**6
).map(str)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    work = tmp_path_factory.mktemp("cli-fuzz")
    store = open_embedded(work / "events.db")
    store.write(documents())
    store.close()
    garbage = work / "garbage.jsonl"
    garbage.write_bytes(b'{"type":"ADDED"\n[1,2]\n\xff\xfe\n{"object":{}}\n')
    return {
        "db": f"sqlite:///{work / 'events.db'}",
        "garbage": str(garbage),
        "out": str(work / "out.jsonl"),
        "nodir": str(work / "no" / "such" / "dir" / "x"),
        "work": str(work),
    }


def _store(files: dict[str, str]) -> st.SearchStrategy[str]:
    return st.sampled_from(
        [
            files["db"],
            f"sqlite:///{files['nodir']}.db",
            "sqlite://",
            "sqlite:///",
            "mysql://x",
            "opensearch+http://127.0.0.1:1",
            "opensearch+http://[::1",
            "opensearch+ftp://x",
            "",
        ]
    )


def _argv(files: dict[str, str]) -> st.SearchStrategy[list[str]]:
    store = st.one_of(st.just([]), _store(files).map(lambda s: ["--store", s]))
    ingest = st.tuples(
        store,
        st.one_of(st.just([]), _NUMBER.map(lambda n: ["--batch-size", n])),
        st.one_of(st.just(["--workers", "1"]), _NUMBER.map(lambda n: ["--workers", n])),
        st.lists(
            st.sampled_from([files["garbage"], files["nodir"], files["work"], "x.jsonl"]),
            min_size=0,
            max_size=2,
        ),
    ).map(lambda t: ["ingest", "-q", *t[0], *t[1], *t[2], *t[3]])
    export = st.tuples(
        store,
        st.one_of(st.just([]), _TEXT.map(lambda v: ["--start", v])),
        st.one_of(st.just([]), _TEXT.map(lambda v: ["--end", v])),
        st.sampled_from([[], ["-o", files["out"]], ["-o", files["nodir"]], ["-o", files["work"]]]),
    ).map(lambda t: ["export", *t[0], *t[1], *t[2], *t[3]])
    prune = st.tuples(store, st.one_of(st.just([]), _NUMBER.map(lambda n: ["--days", n]))).map(
        lambda t: ["prune", *t[0], *t[1]]
    )
    setup = store.map(lambda s: ["setup", *s])
    return st.one_of(ingest, export, prune, setup)


@pytest.mark.e2e
def test_short_commands_exit_with_a_code_and_one_line_errors(
    files: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(files["work"])
    monkeypatch.delenv("KUBETRAIL_STORE", raising=False)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(argv=_argv(files))
    def run(argv: list[str]) -> None:
        try:
            code = cli.main(argv)
        except SystemExit as exc:  # argparse: a usage line and the error, exit 2
            code = exc.code
            assert code in (0, 2), (argv, code)
        _, err = capsys.readouterr()
        assert "Traceback" not in err, (argv, err)
        assert code in (0, 1, 2), (argv, code, err)
        if code == 2 and err.startswith("kubetrail: error:"):
            assert len(err.strip().splitlines()) == 1, (argv, err)

    run()
