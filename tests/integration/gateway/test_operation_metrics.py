"""The operation series through the app: a caller naming each operation
anew cannot add series to ``/metrics`` beyond the bound
(``gateway.metrics.OperationSeries``); a document that does not parse and a
subscription its client ends are counted too."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
from prometheus_client import REGISTRY

from gateway import metrics
from gateway.metrics import OperationSeries
from tests.conftest import ADMIN, ANSWER_WAIT, GraphQL, graphql_socket
from tests.integration.gateway.surfaces import ws_url  # noqa: F401
from tests.integration.gateway.test_mutations import new_customer


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


def count(operation: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "customer_graph_graphql_requests_total",
        {"operation": operation, "outcome": outcome},
    )
    return value or 0.0


async def test_a_document_that_does_not_parse_is_an_anonymous_error(
    client: httpx.AsyncClient,
) -> None:
    """Counted, and under no name: the client's ``operationName`` of a
    document that does not parse can be any string."""
    before = count("anonymous", "error")
    name = "alice@example.com"
    response = await client.post("/graphql", json={"query": "{", "operationName": name})
    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    assert count("anonymous", "error") == before + 1
    assert name not in (await client.get("/metrics")).text


async def test_a_subscription_its_client_ends_is_counted_once(
    gql: GraphQL,
    ws_url: str,  # noqa: F811
) -> None:
    customer = await new_customer(gql, "m@example.com")
    name = f"Live{uuid.uuid4().hex}"
    document = (
        f"subscription {name}($id: ID!) "
        "{ customerTimeline(customerId: $id) { summary } }"
    )
    async with graphql_socket(ws_url) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": ADMIN}))
        assert "connection_ack" in await asyncio.wait_for(ws.recv(), ANSWER_WAIT)
        payload = {"query": document, "variables": {"id": customer}}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        await asyncio.sleep(0.2)  # subscribed
        await ws.send(json.dumps({"id": "1", "type": "complete"}))
        for _ in range(50):
            if count(name, "ok"):
                break
            await asyncio.sleep(0.1)
    assert (count(name, "ok"), count(name, "error")) == (1.0, 0.0)
