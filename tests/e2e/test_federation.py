"""The customer graph composed into a supergraph with another team's subgraph.

A foreign subgraph in Node.js (``@apollo/subgraph``) extends ``Customer`` with
a ``wishlist`` and names a featured customer; Apollo Gateway
(``@apollo/gateway`` with ``IntrospectAndCompose``) composes it with the
gateway served by uvicorn, all on loopback. Queries that cross both subgraphs,
both ways, are answered through the gateway, with the caller's key forwarded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import ANSWER_WAIT
from tests.e2e.live_gateway import AUTH, live_gateways
from tests.e2e.node import node_server, require_node_tools


@pytest.fixture(scope="module")
async def supergraph(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A client of Apollo Gateway over both subgraphs, and one customer's id."""
    require_node_tools("the federation test")
    tmp_path = tmp_path_factory.mktemp("federation")
    async with live_gateways(tmp_path) as (replicas, _):
        customers_url = replicas[0].base_url + "/graphql"
        async with httpx.AsyncClient(headers=AUTH, timeout=ANSWER_WAIT) as client:
            first = await client.post(
                customers_url,
                json={"query": "{ customers(first: 1) { edges { node { id } } } }"},
            )
        featured = first.json()["data"]["customers"]["edges"][0]["node"]["id"]
        async with (
            node_server(
                "foreign-subgraph.mjs", {"FEATURED_CUSTOMER_ID": featured}
            ) as wishlists_url,
            node_server(
                "gateway.mjs",
                {
                    "CUSTOMERS_URL": customers_url,
                    "WISHLISTS_URL": wishlists_url,
                    "CUSTOMERS_AUTHORIZATION": AUTH["Authorization"],
                },
            ) as gateway_url,
            httpx.AsyncClient(base_url=gateway_url, headers=AUTH, timeout=30) as http,
        ):
            yield http, featured


async def test_a_query_from_the_customer_graph_into_the_foreign_subgraph(
    supergraph: tuple[httpx.AsyncClient, str],
) -> None:
    http, _ = supergraph
    response = await http.post(
        "",
        json={
            "query": "{ customers(first: 3) { edges { node { id email wishlist } } } }"
        },
    )
    body = response.json()
    assert "errors" not in body, body
    nodes = [edge["node"] for edge in body["data"]["customers"]["edges"]]
    assert len(nodes) == 3
    for node in nodes:
        assert node["email"].endswith("@example.com")
        assert node["wishlist"] == [f"wish of {node['id']}"]


async def test_a_query_from_the_foreign_subgraph_into_the_customer_graph(
    supergraph: tuple[httpx.AsyncClient, str],
) -> None:
    """The foreign subgraph knows only an id: email, orders and the Node
    interface come from the customer graph's ``_entities``."""
    http, featured = supergraph
    response = await http.post(
        "",
        json={
            "query": "{ featuredCustomer { id wishlist email displayName "
            "orders(first: 2) { edges { node { name } } } } }"
        },
    )
    body = response.json()
    assert "errors" not in body, body
    customer = body["data"]["featuredCustomer"]
    assert customer["id"] == featured
    assert customer["wishlist"] == [f"wish of {featured}"]
    assert customer["email"].endswith("@example.com")
    assert customer["displayName"]
    assert isinstance(customer["orders"]["edges"], list)


async def test_the_supergraph_forwards_the_callers_key(
    supergraph: tuple[httpx.AsyncClient, str],
) -> None:
    http, _ = supergraph
    response = await http.post(
        "",
        json={"query": "{ customers(first: 1) { edges { node { email } } } }"},
        headers={"Authorization": "Bearer cg_not_a_key"},
    )
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
