"""The diagnostics run on the incident in every store."""

from __future__ import annotations

import pytest

from kubetrail.store.base import Store


@pytest.fixture(params=["sqlite", "osmem", "opensearch"])
def incident(request: pytest.FixtureRequest) -> Store:
    return request.getfixturevalue(f"{request.param}_incident")
