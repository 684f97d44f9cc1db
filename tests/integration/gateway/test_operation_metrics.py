"""Over HTTP, a caller naming each operation anew cannot add series to
``/metrics`` beyond the bound (``gateway.metrics.OperationSeries``)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from gateway import metrics
from gateway.metrics import OperationSeries


async def test_new_operation_names_beyond_the_bound_are_counted_as_other(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics, "OPERATIONS", OperationSeries(limit=2))
    names = [f"Probe{uuid.uuid4().hex}" for _ in range(5)]
    for name in names:
        response = await client.post(
            "/graphql", json={"query": f"query {name} {{ __typename }}"}
        )
        assert response.status_code == 200, response.text
    exposed = (await client.get("/metrics")).text
    assert [name in exposed for name in names] == [True, True, False, False, False]
