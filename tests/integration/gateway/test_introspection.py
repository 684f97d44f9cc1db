"""Introspection for tools: the standard query GraphiQL, graphql-codegen, Rover,
Postman and IDE plugins send is answered in development, while its denial of
service (nested ``fields { type { fields …`` lists) is refused with a code."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from graphql import build_client_schema, get_introspection_query

from connectors.simulator_server import serve_app
from gateway.app import create_app
from gateway.runtime.services import Services
from tests.conftest import ADMIN, ANSWER_WAIT, graphql_socket

STANDARD = get_introspection_query(
    descriptions=True,
    specified_by_url=True,
    directive_is_repeatable=True,
    schema_description=True,
    input_value_deprecation=True,
)
LOOPS = [
    "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }",
    '{ __type(name: "Customer") { fields { type { fields { type { fields { name } } }'
    " } } } }",
    '{ __type(name: "Node") { possibleTypes { interfaces { possibleTypes { name } } }'
    " } }",
    "{ __schema { types { ...T } } } fragment T on __Type "
    "{ fields { type { interfaces { inputFields { name } } } } }",
    "{ __schema { types { " + "ofType { " * 14 + "name" + " }" * 14 + " } } }",
]


async def post(client: httpx.AsyncClient, query: str) -> httpx.Response:
    return await client.post("/graphql", json={"query": query})


async def test_the_standard_introspection_query_is_answered_in_development(
    client: httpx.AsyncClient,
) -> None:
    response = await post(client, STANDARD)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body
    schema = build_client_schema(body["data"])
    assert "email" in schema.get_type("Customer").fields  # type: ignore[union-attr]


async def test_two_nested_lists_of_fields_are_still_answered(
    client: httpx.AsyncClient,
) -> None:
    query = '{ __type(name: "Customer") { fields { type { fields { name } } } } }'
    response = await post(client, query)
    assert response.status_code == 200, response.text
    assert "errors" not in response.json()


@pytest.mark.parametrize("query", LOOPS)
async def test_introspection_loops_are_refused_with_400_and_a_code(
    client: httpx.AsyncClient, query: str
) -> None:
    response = await post(client, query)
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_DEEP"


async def test_introspection_does_not_lift_the_depth_limit_elsewhere(
    client: httpx.AsyncClient,
) -> None:
    deep = "{ __schema { queryType { name } } " + "a { " * 14 + "b" + " }" * 14 + " }"
    response = await post(client, deep)
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_DEEP"


async def test_the_standard_introspection_query_is_answered_over_websocket(
    db: Services,
) -> None:

    async with serve_app(create_app(services=db)) as base_url:
        url = base_url.replace("http", "ws") + "/graphql"
        async with graphql_socket(url) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": ADMIN}))
            assert "connection_ack" in await asyncio.wait_for(ws.recv(), ANSWER_WAIT)
            for number, query in enumerate((STANDARD, LOOPS[0])):
                subscribe = {"payload": {"query": query}, "id": str(number)}
                await ws.send(json.dumps({"type": "subscribe", **subscribe}))
                answer = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if query is STANDARD:
                    assert answer["type"] == "next", answer
                    assert "errors" not in answer["payload"]
                    assert "__schema" in answer["payload"]["data"]
                    assert "complete" in await asyncio.wait_for(ws.recv(), ANSWER_WAIT)
                else:
                    errors = answer["payload"]
                    if answer["type"] == "next":
                        errors = errors["errors"]
                    codes = {e["extensions"]["code"] for e in errors}
                    assert "QUERY_TOO_DEEP" in codes
