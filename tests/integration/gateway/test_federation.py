"""The gateway as an Apollo Federation v2 subgraph: ``Customer`` entities by
``id`` or ``email``, resolved through the request's DataLoaders (a router's
hundred representations cost what a page of a hundred costs), under the same
role policy, with ``_service { sdl }`` what ``customer-graph schema
--federation`` prints."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from strawberry.relay import GlobalID
from typer.testing import CliRunner

from connectors.demo_world import World
from gateway.auth.policy import Role
from gateway.cli.main import app
from gateway.demo.simulation import Simulators
from gateway.runtime.services import Services
from tests.conftest import ADMIN
from tests.integration.gateway.conftest import Gateway, open_gateway
from tests.integration.gateway.test_limits import gateway_with
from tests.integration.gateway.test_security import key_for

pytestmark = pytest.mark.storage_independent

SELECTION = """
    id email displayName tags loyaltyBalance
    orders(first: 5) { totalCount edges { node { id name } } }
    openTicketCount
    lastSeenAt
"""
ENTITIES = (
    "query($representations: [_Any!]!) { _entities(representations: $representations)"
    " { ... on Customer { " + SELECTION + " } } }"
)
PAGE = "{ customers(first: 100) { edges { node { " + SELECTION + " } } } }"


def representation(**key: object) -> dict[str, object]:
    return {"__typename": "Customer", **key}


def upstream_calls(gateway: Gateway) -> dict[str, int]:
    simulators = gateway.simulators
    return {
        "shopify": simulators.shopify.requests.total,
        "zendesk": simulators.zendesk.requests.total,
        "posthog": simulators.posthog.requests.total,
    }


@asynccontextmanager
async def counted(
    services: Services, simulators: Simulators, world: World
) -> AsyncIterator[tuple[Gateway, list[str]]]:
    """A fresh gateway (cold caches) and the SQL reads it sends."""
    async with open_gateway(services.settings, simulators, world) as gateway:
        sent: list[str] = []

        def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if statement.lstrip().upper().startswith("SELECT"):
                sent.append(statement)

        engine = gateway.services.engine.sync_engine
        event.listen(engine, "before_cursor_execute", before)
        simulators.reset_counts()
        try:
            yield gateway, sent
        finally:
            event.remove(engine, "before_cursor_execute", before)
            simulators.heal()


async def customer_keys(gateway: Gateway) -> list[dict[str, str]]:
    result = await gateway.gql(
        "{ customers(first: 100) { edges { node { id email } } } }"
    )
    return [edge["node"] for edge in result["data"]["customers"]["edges"]]


async def test_a_hundred_entities_cost_what_a_page_of_a_hundred_costs(
    seeded: Services, simulators: Simulators, world: World
) -> None:
    """The world has 60 customers: the router's 100 representations are their
    ids and 40 ids of no customer, which answer null. Each is measured on a
    gateway of its own (cold caches), after a first page has stored the
    identity links it discovered in the database."""
    async with counted(seeded, simulators, world) as (gateway, _):
        known = await customer_keys(gateway)
        await gateway.gql(PAGE)
    async with counted(seeded, simulators, world) as (gateway, page_reads):
        page = await gateway.gql(PAGE)
        page_calls = upstream_calls(gateway)
    unknown = [str(GlobalID("Customer", str(900_000 + n))) for n in range(40)]
    ids = [k["id"] for k in known] + unknown
    async with counted(seeded, simulators, world) as (gateway, entity_reads):
        result = await gateway.gql(
            ENTITIES, {"representations": [representation(id=i) for i in ids]}
        )
        entity_calls = upstream_calls(gateway)
    assert "errors" not in result, result
    entities = result["data"]["_entities"]
    assert len(entities) == 100
    assert entities[60:] == [None] * 40
    nodes = [edge["node"] for edge in page["data"]["customers"]["edges"]]
    assert sorted(entities[:60], key=lambda c: c["id"]) == sorted(
        nodes, key=lambda c: c["id"]
    )
    assert entity_calls == page_calls
    # one batch per source; Shopify's is split by its query-cost cap (2 nodes calls)
    assert entity_calls["zendesk"] == entity_calls["posthog"] == 1, entity_calls
    assert 0 < entity_calls["shopify"] <= 3, entity_calls
    assert len(entity_reads) == len(page_reads)


async def test_entities_resolve_by_id_and_by_email_with_null_for_unknown_keys(
    gateway: Gateway,
) -> None:
    first, second = (await customer_keys(gateway))[:2]
    result = await gateway.gql(
        ENTITIES,
        {
            "representations": [
                representation(id=first["id"]),
                representation(email="nobody@example.com"),
                representation(email=second["email"].upper()),
                representation(id=str(GlobalID("Customer", "999999"))),
            ]
        },
    )
    assert "errors" not in result, result
    found = [e and e["email"] for e in result["data"]["_entities"]]
    assert found == [first["email"], None, second["email"], None]


MALFORMED = [
    ("no __typename", {"id": "x"}),
    ("not an entity", {"__typename": "Order", "id": "x"}),
    ("not an object", "Customer:1"),
    ("no key", {"__typename": "Customer"}),
    ("two keys", {"__typename": "Customer", "id": "x", "email": "a@example.com"}),
    ("a number as id", {"__typename": "Customer", "id": 1}),
    ("an id that is no global id", {"__typename": "Customer", "id": "nope"}),
    (
        "an id of another type",
        {"__typename": "Customer", "id": str(GlobalID("Note", "1"))},
    ),
    ("an invalid email", {"__typename": "Customer", "email": "not an email"}),
]


@pytest.mark.parametrize(("name", "bad"), MALFORMED)
async def test_a_malformed_representation_is_bad_user_input_and_the_rest_answer(
    gateway: Gateway, name: str, bad: object
) -> None:
    first = (await customer_keys(gateway))[0]
    response = await gateway.http.post(
        "/graphql",
        json={
            "query": ENTITIES,
            "variables": {"representations": [bad, representation(id=first["id"])]},
        },
    )
    body = response.json()
    assert body["data"]["_entities"][0] is None, name
    assert body["data"]["_entities"][1]["email"] == first["email"]
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", (name, error)
    assert error["path"] == ["_entities", 0]


@pytest.mark.parametrize(
    ("role", "consent", "shown"),
    [
        (Role.MARKETING, None, None),  # no consent: null, never a mask
        (Role.MARKETING, "GRANTED", "maya@example.com"),
        (Role.ANALYST, "GRANTED", None),
    ],
)
async def test_entities_show_personal_data_as_the_callers_role_allows(
    db: Services,
    client: httpx.AsyncClient,
    role: Role,
    consent: str | None,
    shown: str | None,
) -> None:
    created = await client.post(
        "/graphql",
        json={
            "query": 'mutation { createCustomer(input: {email: "maya@example.com"})'
            " { id } }"
        },
    )
    customer_id = created.json()["data"]["createCustomer"]["id"]
    if consent is not None:
        granted = await client.post(
            "/graphql",
            json={
                "query": "mutation($id: ID!, $s: ConsentState!) { setConsent("
                "customerId: $id, channel: EMAIL, state: $s) { state } }",
                "variables": {"id": customer_id, "s": consent},
            },
        )
        assert "errors" not in granted.json(), granted.json()
    response = await client.post(
        "/graphql",
        json={
            "query": ENTITIES.replace(SELECTION, "email"),
            "variables": {"representations": [representation(id=customer_id)]},
        },
        headers=await key_for(db, role),
    )
    assert response.json() == {"data": {"_entities": [{"email": shown}]}}


async def test_service_sdl_is_what_schema_federation_prints(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/graphql", json={"query": "{ _service { sdl } }"})
    sdl = response.json()["data"]["_service"]["sdl"]
    printed = CliRunner().invoke(app, ["schema", "--federation"])
    assert printed.exit_code == 0
    assert printed.stdout == sdl + "\n"
    assert (
        'type Customer implements Node @key(fields: "id") @key(fields: "email")' in sdl
    )
    assert '@link(url: "https://specs.apollo.dev/federation/v2.' in sdl


def test_the_plain_schema_has_no_federation_in_it() -> None:
    printed = CliRunner().invoke(app, ["schema"]).stdout
    assert "type Customer implements Node {" in printed
    for federation in ("@key", "@link", "_service", "_entities", "_Any", "_Entity"):
        assert federation not in printed


async def test_production_refuses_service_sdl_and_answers_entities(
    db: Services, client: httpx.AsyncClient
) -> None:
    created = await client.post(
        "/graphql",
        json={
            "query": 'mutation { createCustomer(input: {email: "ada@example.com"})'
            " { id } }"
        },
    )
    customer_id = created.json()["data"]["createCustomer"]["id"]
    async with gateway_with(db, env="production") as production:
        refused = await production.post(
            "/graphql", json={"query": "{ _service { sdl } }"}
        )
        answered = await production.post(
            "/graphql",
            json={
                "query": ENTITIES.replace(SELECTION, "email"),
                "variables": {"representations": [representation(id=customer_id)]},
            },
            headers=ADMIN,
        )
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["extensions"]["code"] == "INTROSPECTION_DISABLED"
    assert answered.json() == {"data": {"_entities": [{"email": "ada@example.com"}]}}


async def test_the_cost_of_entities_counts_every_representation(
    client: httpx.AsyncClient,
) -> None:
    many = [representation(id=str(GlobalID("Customer", str(n)))) for n in range(1000)]
    response = await client.post(
        "/graphql",
        json={
            "query": ENTITIES.replace(
                SELECTION, "orders(first: 20) { edges { node { id } } }"
            ),
            "variables": {"representations": many},
        },
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
