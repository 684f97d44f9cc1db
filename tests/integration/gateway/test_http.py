"""The HTTP surface: health, readiness, GraphiQL, and errors that never leak
internals."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from gateway.app import create_app
from gateway.http.graphql import GRAPHQL_RESPONSE
from gateway.runtime.services import open_services
from gateway.settings import Settings
from tests.conftest import ADMIN, ADMIN_KEY, GraphQL
from tests.integration.gateway.surfaces import Maya, ask_embedded, maya


async def test_healthz_and_readyz_answer_when_the_database_is_up(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get("/healthz")).text == "ok"
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "up"}


async def test_metrics_count_the_asyncio_tasks_alive(client: httpx.AsyncClient) -> None:
    """What tells a task leak from a steady load (the soak reads it:
    bench/soak.py)."""
    text = (await client.get("/metrics")).text
    gauge = "customer_graph_asyncio_tasks "
    line = next(x for x in text.splitlines() if x.startswith(gauge))
    assert float(line.removeprefix(gauge)) >= 1  # the test's own task at least


@pytest.fixture
async def broken_client() -> httpx.AsyncClient:
    settings = Settings(
        database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none",
        demo_api_key=SecretStr(ADMIN_KEY),
    )
    async with open_services(settings) as services:
        app = create_app(services=services)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gateway", headers=ADMIN
        ) as http:
            yield http


async def test_readyz_is_503_when_the_database_is_down(
    broken_client: httpx.AsyncClient,
) -> None:
    response = await broken_client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "down"}


async def test_an_unexpected_failure_is_masked_with_a_request_id(
    broken_client: httpx.AsyncClient,
) -> None:
    response = await broken_client.post(
        "/graphql", json={"query": "{ customers { totalCount } }"}
    )
    body = response.json()
    error = body["errors"][0]
    assert error["message"] == "Internal server error."
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert len(error["extensions"]["requestId"]) == 32
    text = response.text.lower()
    for leak in (
        "traceback",
        "sqlalchemy",
        "asyncpg",
        "select ",
        "/work/",
        ".py",
        "127.0.0.1",
    ):
        assert leak not in text


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("{ customers { ", "GRAPHQL_PARSE_FAILED"),
        ("{ nope }", "GRAPHQL_VALIDATION_FAILED"),
        ('{ customers(first: "ten") { totalCount } }', "GRAPHQL_VALIDATION_FAILED"),
    ],
)
async def test_malformed_documents_get_a_code(
    db: object, gql: GraphQL, query: str, code: str
) -> None:
    result = await gql(query)
    assert result["errors"][0]["extensions"]["code"] == code
    assert "data" not in result  # nothing executed (GraphQL, "Response")


async def test_a_wrongly_typed_variable_is_bad_user_input(
    db: object, gql: GraphQL
) -> None:
    result = await gql(
        "query($f: Int!) { customers(first: $f) { totalCount } }", {"f": "x"}
    )
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "data" not in result


@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE])
async def test_an_execution_that_failed_has_data_the_one_that_never_began_none(
    db: object, client: httpx.AsyncClient, accept: str
) -> None:
    """With ``application/graphql-response+json``, only the request that
    never began is a 400: one whose execution failed may have done work (a
    mutation), and a 4xx would tell its client nothing ran."""
    executed = await client.post(
        "/graphql",
        json={"query": '{ customers(first: 1, after: "x") { totalCount } }'},
        headers={"Accept": accept},
    )
    assert executed.status_code == 200
    body = executed.json()
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert body["errors"][0]["path"] == ["customers"]
    assert body["data"] is None  # the non-null root field failed
    refused = await client.post(
        "/graphql",
        json={"query": "{ customers(first: 1) { nope } }"},
        headers={"Accept": accept},
    )
    assert refused.status_code == (400 if accept == GRAPHQL_RESPONSE else 200)
    assert "data" not in refused.json()


async def test_the_embed_endpoint_answers_a_request_error_without_data(
    maya: Maya, client: httpx.AsyncClient
) -> None:
    response = await ask_embedded(client, maya.id, "{ nope }")
    assert response.json()["errors"][0]["extensions"]["code"] == (
        "GRAPHQL_VALIDATION_FAILED"
    )
    assert "data" not in response.json()


@pytest.mark.parametrize(
    ("document", "name", "message"),
    [
        ("{ __typename }", "FirstCustomers", "operationName names no operation"),
        ("query A { __typename } query B { __typename }", None, "Name the operation"),
    ],
)
async def test_an_operation_name_that_does_not_fit_the_document_is_explained(
    client: httpx.AsyncClient, document: str, name: str | None, message: str
) -> None:
    response = await client.post(
        "/graphql", json={"query": document, "operationName": name}
    )
    assert response.status_code == 400
    assert message in response.json()["errors"][0]["message"]


async def test_a_browser_get_on_graphql_serves_the_offline_graphiql_page(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()
    assert "https://" not in response.text


__all__ = ["maya"]  # a fixture, used by name
