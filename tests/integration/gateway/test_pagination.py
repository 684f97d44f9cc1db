"""Keyset pagination of the customer list: complete, stable under inserts, strict
about cursors and page sizes."""

from __future__ import annotations

import pytest

from connectors.demo_world import World
from gateway.demo.seed import seed
from gateway.runtime.services import Services
from tests.conftest import GraphQL

PAGE = """
query($first: Int!, $after: String, $order: CustomerOrderBy!) {
  customers(first: $first, after: $after, orderBy: $order) {
    edges { cursor node { email } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def walk(
    gql: GraphQL, order: str, first: int = 37, insert_every_page: bool = False
) -> list[str]:
    seen: list[str] = []
    after = None
    page_number = 0
    while True:
        result = await gql(PAGE, {"first": first, "after": after, "order": order})
        assert "errors" not in result, result
        connection = result["data"]["customers"]
        seen.extend(e["node"]["email"] for e in connection["edges"])
        if insert_every_page:
            page_number += 1
            created = await gql(
                'mutation($e: String!) { createCustomer(input: {email: $e, lastName: "Aaron"}) { id } }',
                {"e": f"inserted{page_number}@example.com"},
            )
            assert "errors" not in created, created
        if not connection["pageInfo"]["hasNextPage"]:
            return seen
        after = connection["pageInfo"]["endCursor"]


@pytest.mark.parametrize(
    "order", ["CREATED_AT_DESC", "CREATED_AT_ASC", "LAST_NAME_ASC", "EMAIL_ASC"]
)
async def test_walking_500_customers_in_pages_of_37_sees_each_once(
    db: Services, gql: GraphQL, order: str
) -> None:
    world = World(seed=11, size=500)
    await seed(db.sessions, world)
    seen = await walk(gql, order)
    assert len(seen) == 500
    assert set(seen) == {p.email for p in world.customers}


@pytest.mark.parametrize(
    "order", ["CREATED_AT_DESC", "CREATED_AT_ASC", "LAST_NAME_ASC"]
)
async def test_a_walk_while_customers_are_inserted_has_no_gap_and_no_duplicate(
    db: Services, gql: GraphQL, order: str
) -> None:
    world = World(seed=12, size=500)
    await seed(db.sessions, world)
    seen = await walk(gql, order, insert_every_page=True)
    assert len(seen) == len(set(seen)), "a customer was returned twice"
    assert {p.email for p in world.customers} <= set(seen), "a customer was skipped"


async def test_an_empty_list_has_no_cursors(db: Services, gql: GraphQL) -> None:
    result = await gql(PAGE, {"first": 10, "after": None, "order": "CREATED_AT_DESC"})
    assert result["data"]["customers"] == {
        "edges": [],
        "pageInfo": {"hasNextPage": False, "endCursor": None},
    }


@pytest.mark.parametrize(
    "after",
    [
        "garbage!!",
        "WzFd",
        "eyJ4IjoxfQ",
        "WyJub3RlcyIsIjIwMjUtMDEtMDFUMDA6MDA6MDArMDA6MDAiLDFd",
    ],
)
async def test_a_bad_cursor_is_bad_user_input(
    db: Services, gql: GraphQL, after: str
) -> None:
    result = await gql(PAGE, {"first": 10, "after": after, "order": "CREATED_AT_DESC"})
    assert result["data"] is None
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_cursor_of_another_ordering_is_refused(
    db: Services, gql: GraphQL
) -> None:
    await seed(db.sessions, World(seed=3, size=5))
    first = await gql(PAGE, {"first": 2, "after": None, "order": "EMAIL_ASC"})
    cursor = first["data"]["customers"]["pageInfo"]["endCursor"]
    result = await gql(PAGE, {"first": 2, "after": cursor, "order": "CREATED_AT_DESC"})
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize("first", [101, 1000, -1])
async def test_first_outside_0_to_100_is_refused(
    db: Services, gql: GraphQL, first: int
) -> None:
    result = await gql(
        PAGE, {"first": first, "after": None, "order": "CREATED_AT_DESC"}
    )
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert (
        "100" in result["errors"][0]["message"]
        or "negative" in result["errors"][0]["message"]
    )


async def test_notes_are_paginated_newest_first(db: Services, gql: GraphQL) -> None:
    created = await gql(
        'mutation { createCustomer(input: {email: "n@example.com"}) { id } }'
    )
    cid = created["data"]["createCustomer"]["id"]
    for n in range(7):
        await gql(
            "mutation($c: ID!, $b: String!) { addNote(customerId: $c, body: $b) { id } }",
            {"c": cid, "b": f"note {n}"},
        )
    bodies: list[str] = []
    after = None
    while True:
        result = await gql(
            "query($c: ID!, $a: String) { customer(id: $c) { notes(first: 3, after: $a) "
            "{ edges { node { body } } pageInfo { hasNextPage endCursor } } } }",
            {"c": cid, "a": after},
        )
        notes = result["data"]["customer"]["notes"]
        bodies += [e["node"]["body"] for e in notes["edges"]]
        if not notes["pageInfo"]["hasNextPage"]:
            break
        after = notes["pageInfo"]["endCursor"]
    assert bodies == [f"note {n}" for n in reversed(range(7))]
