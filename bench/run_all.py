"""Every benchmark, one command: results as JSON in bench/results/, a summary table printed.

    python bench/run_all.py                 # the sizes the README reports (about an hour on 2 CPUs)
    python bench/run_all.py --quick         # small sizes, a few minutes: a smoke run

Runs, in order and one at a time (they would disturb each other's figures):
foundation.py (ingest + API queries, embedded, 100k and 1M events), foundation.py --store osmem,
shipper.py (pipeline vs naive client, end to end, RSS), diagnostics.py (each check
on a large store, old way's recall), retention.py (delete a day while the API serves),
api_memory.py (API RSS under a burst of large pages), and with ``--opensearch-url`` (or
``OPENSEARCH_URL``) opensearch.py on that node (a disposable one: it deletes and recreates
kubetrail's indices; ``scripts/opensearch-node start`` runs one).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def _run(name: str, args: list[str], results: Path) -> dict[str, object]:
    out = results / f"{name}.json"
    cmd = [sys.executable, str(HERE / args[0]), *args[1:], "--json", str(out)]
    print(f"\n$ {' '.join(cmd)}", flush=True)
    t0 = time.perf_counter()
    code = subprocess.run(cmd).returncode
    took = round(time.perf_counter() - t0, 1)
    status = {"command": " ".join(cmd), "exit": code, "seconds": took}
    if code == 0 and out.exists():
        status["results"] = json.loads(out.read_text())
    return status


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--quick", action="store_true", help="small sizes: a smoke run of every benchmark"
    )
    p.add_argument(
        "--workdir", default="/tmp/kubetrail-bench", help="where generated data and stores go"
    )
    p.add_argument(
        "--results", help="result directory (default bench/results, --quick: bench/results/quick)"
    )
    p.add_argument(
        "--opensearch-url",
        default=os.environ.get("OPENSEARCH_URL"),
        help="a disposable OpenSearch node for opensearch.py (default $OPENSEARCH_URL; none: skipped)",
    )
    args = p.parse_args(argv)
    results = Path(args.results) if args.results else RESULTS / "quick" if args.quick else RESULTS
    results.mkdir(parents=True, exist_ok=True)
    work = Path(args.workdir)
    n = 10_000 if args.quick else 100_000
    big = 50_000 if args.quick else 1_000_000
    plan: list[tuple[str, list[str]]] = [
        (
            "foundation-sqlite",
            ["foundation.py", "--events", str(n), "--workdir", str(work / "f-sqlite")],
        ),
        ("ingest-split", ["ingest_split.py", "--events", str(n)]),
        ("fts-buffer", ["fts_buffer.py", "--events", str(n), "--rows", str(3 * n)]),
        (
            "foundation-1m",
            [
                "foundation.py",
                "--events",
                str(big),
                "--reps",
                "30",
                "--workdir",
                str(work / "f-1m"),
            ],
        ),
        (
            "foundation-osmem",
            [
                "foundation.py",
                "--events",
                str(n // 5 if args.quick else n),
                "--store",
                "osmem",
                "--reps",
                "20",
                "--workdir",
                str(work / "f-osmem"),
            ],
        ),
        (
            "shipper",
            [
                "shipper.py",
                *(
                    [
                        "--pipeline-events",
                        "2000",
                        "--naive-cpu-events",
                        "2000",
                        "--sqlite-events",
                        "5000",
                        "--osmem-events",
                        "2000",
                        "--rss-objects",
                        "10000",
                    ]
                    if args.quick
                    else []
                ),
            ],
        ),
        (
            "diagnostics",
            [
                "diagnostics.py",
                "--events",
                str(big),
                "--osmem-events",
                str(n // 5 if args.quick else n),
                "--workdir",
                str(work / "diag"),
            ],
        ),
        ("retention", ["retention.py", "--db", str(work / "diag" / "diagnostics.db")]),
        (
            "api-memory",
            ["api_memory.py", *(["--concurrency", "50", "--rounds", "1"] if args.quick else [])],
        ),
    ]
    if args.opensearch_url:
        plan.append(
            (
                "opensearch",
                [
                    "opensearch.py",
                    "--url",
                    args.opensearch_url,
                    "--events",
                    str(n if args.quick else big),
                    "--workdir",
                    str(work / "opensearch"),
                ],
            )
        )
    summary = {}
    for name, cmd in plan:
        summary[name] = _run(name, cmd, results)
    (results / "all.json").write_text(json.dumps(summary, indent=2))
    print("\n| benchmark | exit | seconds | results |\n| --- | ---: | ---: | --- |")
    for name, status in summary.items():
        print(f"| {name} | {status['exit']} | {status['seconds']} | {results / (name + '.json')} |")
    return 0 if all(s["exit"] == 0 for s in summary.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
