"""The REST API fuzzed from its own OpenAPI schema (schemathesis), over a real socket:
zero 5xx, and every 4xx is JSON with an ``error`` message. Bounded so it runs in the suite;
more examples: ``KUBETRAIL_FUZZ_EXAMPLES=500 python -m pytest tests/api/test_fuzz.py``.

(schemathesis' own pytest plugin does not run under pytest 9 yet, so each operation's
hypothesis strategy is driven directly.)"""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from kubetrail.config import Settings
from kubetrail.store.base import Store
from tests.support.api_server import ServerThread

EXAMPLES = int(os.environ.get("KUBETRAIL_FUZZ_EXAMPLES", "40"))


@pytest.fixture(scope="module")
def fuzz_server(sqlite_incident: Store) -> Iterator[ServerThread]:
    with ServerThread(sqlite_incident, Settings(max_query_limit=500)) as server:
        yield server


def test_every_operation_is_fuzzed_without_5xx(fuzz_server: ServerThread) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 6  # events, object history, diagnostics (list, run), changes, health
    tried: dict[str, int] = {}
    with httpx.Client(base_url=fuzz_server.url, timeout=30) as client:
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
            )
            def run(case) -> None:  # type: ignore[no-untyped-def]
                request = case.as_transport_kwargs(base_url=fuzz_server.url)
                response = client.request(
                    request["method"],
                    request["url"],
                    params=request.get("params"),
                    headers=request.get("headers"),
                )
                tried[case.operation.label] = tried.get(case.operation.label, 0) + 1
                assert response.status_code < 500, (
                    request["url"],
                    request.get("params"),
                    response.text[:300],
                )
                if response.status_code >= 400:
                    body = response.json()
                    assert isinstance(body.get("error"), str) and body["error"], response.text[:300]

            run()
    assert set(tried) == {op.label for op in operations}
