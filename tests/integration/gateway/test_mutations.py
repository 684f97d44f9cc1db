"""CRM mutations and what they refuse: each bad input answers with a code and
writes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.db import models
from gateway.runtime.services import Services
from tests.conftest import GraphQL

CREATE = "mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { id email } }"


async def counts(db: Services) -> dict[str, int]:
    tables = (
        models.Customer,
        models.Address,
        models.Tag,
        models.Note,
        models.Consent,
        models.LoyaltyEntry,
    )
    async with db.sessions() as session:
        return {
            t.__tablename__: int(
                await session.scalar(select(func.count()).select_from(t)) or 0
            )
            for t in tables
        }


async def new_customer(gql: GraphQL, email: str = "ana@example.com") -> str:
    result = await gql(CREATE, {"input": {"email": email}})
    return str(result["data"]["createCustomer"]["id"])


def code(result: dict[str, Any]) -> str:
    return str(result["errors"][0]["extensions"]["code"])


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"email": "not-an-email"}, "BAD_USER_INPUT"),
        ({"email": "a@example.com", "phone": "12345"}, "BAD_USER_INPUT"),
        ({"email": "a@example.com", "phone": "+1 555"}, "BAD_USER_INPUT"),
        (
            {
                "email": "a@example.com",
                "addresses": [{"kind": "SHIPPING", "country": "XX"}],
            },
            "BAD_USER_INPUT",
        ),
        ({"email": "a@example.com", "timezone": "Mars/Olympus"}, "BAD_USER_INPUT"),
        ({"email": "a@example.com", "locale": "not a locale"}, "BAD_USER_INPUT"),
        ({"email": "a@example.com", "tags": ["ok", " "]}, "BAD_USER_INPUT"),
    ],
)
async def test_invalid_customer_input_is_refused_and_nothing_is_written(
    db: Services, gql: GraphQL, fields: dict[str, Any], expected: str
) -> None:
    result = await gql(CREATE, {"input": fields})
    assert result["data"] is None
    assert code(result) == expected
    assert result["errors"][0]["message"]
    assert set((await counts(db)).values()) == {0}


async def test_a_phone_without_country_code_uses_the_address_country(
    gql: GraphQL,
) -> None:
    result = await gql(
        'mutation { createCustomer(input: {email: "de@example.com", phone: "0151 23456789", '
        'addresses: [{kind: SHIPPING, country: "DE"}]}) { phone } }'
    )
    assert result["data"]["createCustomer"]["phone"] == "+4915123456789"


async def test_a_duplicate_email_is_a_conflict_and_writes_nothing(
    db: Services, gql: GraphQL
) -> None:
    await new_customer(gql, "dup@example.com")
    before = await counts(db)
    result = await gql(
        CREATE,
        {
            "input": {
                "email": "DUP@example.com",
                "tags": ["x"],
                "addresses": [{"kind": "SHIPPING", "country": "FR"}],
            }
        },
    )
    assert code(result) == "CONFLICT"
    assert await counts(db) == before


async def test_update_changes_only_the_given_fields_and_null_clears(
    gql: GraphQL,
) -> None:
    cid = await new_customer(gql)
    await gql(
        'mutation($id: ID!) { updateCustomer(id: $id, input: {firstName: "Ana", phone: "+33612345678"}) { id } }',
        {"id": cid},
    )
    result = await gql(
        'mutation($id: ID!) { updateCustomer(id: $id, input: {phone: null, lastName: "Silva"}) '
        "{ email firstName lastName phone } }",
        {"id": cid},
    )
    assert result["data"]["updateCustomer"] == {
        "email": "ana@example.com",
        "firstName": "Ana",
        "lastName": "Silva",
        "phone": None,
    }


async def test_update_to_a_taken_email_is_a_conflict(gql: GraphQL) -> None:
    await new_customer(gql, "taken@example.com")
    cid = await new_customer(gql, "mine@example.com")
    result = await gql(
        'mutation($id: ID!) { updateCustomer(id: $id, input: {email: "taken@example.com"}) { email } }',
        {"id": cid},
    )
    assert code(result) == "CONFLICT"
    again = await gql("query($id: ID!) { customer(id: $id) { email } }", {"id": cid})
    assert again["data"]["customer"]["email"] == "mine@example.com"


async def test_tag_and_untag_are_idempotent(gql: GraphQL) -> None:
    cid = await new_customer(gql)
    tag = "mutation($c: ID!, $t: [String!]!) { tagCustomer(customerId: $c, tags: $t) { tags } }"
    untag = "mutation($c: ID!, $t: [String!]!) { untagCustomer(customerId: $c, tags: $t) { tags } }"
    await gql(tag, {"c": cid, "t": ["VIP", "b2b"]})
    result = await gql(tag, {"c": cid, "t": ["vip"]})
    assert result["data"]["tagCustomer"]["tags"] == ["b2b", "vip"]
    result = await gql(untag, {"c": cid, "t": ["vip", "never-had"]})
    assert result["data"]["untagCustomer"]["tags"] == ["b2b"]


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        ([""], "A tag in `tags` must not be empty."),
        (["ok", "   "], "A tag in `tags` must not be empty."),
        (["x" * 65], "A tag in `tags` is longer than 64 characters."),
        (["rtl\u202egpj.exe"], "A tag in `tags` must hold printable characters only"),
    ],
)
async def test_a_bad_tag_is_refused_by_what_is_wrong_with_it(
    gql: GraphQL, tags: list[str], message: str
) -> None:
    """The list is not empty: one of its tags is (or too long, or hidden)."""
    cid = await new_customer(gql)
    tag = "mutation($c: ID!, $t: [String!]!) { tagCustomer(customerId: $c, tags: $t) { tags } }"
    result = await gql(tag, {"c": cid, "t": tags})
    [error] = result["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].startswith(message), error
    again = await gql("query($id: ID!) { customer(id: $id) { tags } }", {"id": cid})
    assert again["data"]["customer"]["tags"] == []  # nothing half-written


async def test_consent_changes_replace_the_previous_state(gql: GraphQL) -> None:
    cid = await new_customer(gql)
    mutation = (
        "mutation($c: ID!, $s: ConsentState!) { setConsent(customerId: $c, channel: SMS, "
        "state: $s) { channel state source } }"
    )
    await gql(mutation, {"c": cid, "s": "GRANTED"})
    result = await gql(mutation, {"c": cid, "s": "DENIED"})
    assert result["data"]["setConsent"] == {
        "channel": "SMS",
        "state": "DENIED",
        "source": "api",
    }
    read = await gql(
        "query($c: ID!) { customer(id: $c) { consents { channel state } } }", {"c": cid}
    )
    assert read["data"]["customer"]["consents"] == [
        {"channel": "SMS", "state": "DENIED"}
    ]


async def test_loyalty_points_cannot_go_below_zero(db: Services, gql: GraphQL) -> None:
    cid = await new_customer(gql)
    add = (
        "mutation($c: ID!, $p: Int!) { addLoyaltyPoints(customerId: $c, points: $p, "
        'reason: "order") { points } }'
    )
    await gql(add, {"c": cid, "p": 100})
    assert code(await gql(add, {"c": cid, "p": -150})) == "BAD_USER_INPUT"
    assert code(await gql(add, {"c": cid, "p": 0})) == "BAD_USER_INPUT"
    await gql(add, {"c": cid, "p": -40})
    read = await gql(
        "query($c: ID!) { customer(id: $c) { loyaltyBalance } }", {"c": cid}
    )
    assert read["data"]["customer"]["loyaltyBalance"] == 60
    assert (await counts(db))["loyalty_entries"] == 2


UNKNOWN = "Q3VzdG9tZXI6OTk5OTk5"  # Customer:999999


@pytest.mark.parametrize(
    "mutation",
    [
        'addNote(customerId: $c, body: "x") { id }',
        'tagCustomer(customerId: $c, tags: ["x"]) { id }',
        "setConsent(customerId: $c, channel: EMAIL, state: GRANTED) { state }",
        'addLoyaltyPoints(customerId: $c, points: 5, reason: "x") { points }',
        'updateCustomer(id: $c, input: {firstName: "x"}) { id }',
    ],
)
async def test_mutations_on_an_unknown_customer_are_not_found(
    db: Services, gql: GraphQL, mutation: str
) -> None:
    result = await gql(f"mutation($c: ID!) {{ {mutation} }}", {"c": UNKNOWN})
    assert code(result) == "NOT_FOUND"
    assert set((await counts(db)).values()) == {0}


@pytest.mark.parametrize("bad_id", ["nope", "Tm90ZTox", "Q3VzdG9tZXI6YWJj"])
async def test_malformed_or_foreign_ids_are_bad_user_input(
    db: Services, gql: GraphQL, bad_id: str
) -> None:
    result = await gql(
        'mutation($c: ID!) { addNote(customerId: $c, body: "x") { id } }', {"c": bad_id}
    )
    assert code(result) == "BAD_USER_INPUT"


async def test_node_with_an_unknown_id_is_null(db: Services, gql: GraphQL) -> None:
    """As Relay's object identification asks, and as ``customer(id:)`` answers."""
    result = await gql("query($c: ID!) { node(id: $c) { id } }", {"c": UNKNOWN})
    assert result == {"data": {"node": None}}
    result = await gql("query($c: ID!) { customer(id: $c) { id } }", {"c": UNKNOWN})
    assert result == {"data": {"customer": None}}
