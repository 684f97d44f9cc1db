"""RFC 5321's email limits — local part ≤ 64 octets, whole address ≤ 254 —
hold at every GraphQL entry point through the one validator
(``gateway.validation.normalize_email``); the ingest and the webhooks have
their own tests of the same limits."""

from __future__ import annotations

import pytest

from gateway.runtime.services import Services
from gateway.validation import normalize_email
from tests.conftest import GraphQL

DOMAIN = f"{'b' * 63}.{'c' * 63}.{'d' * 57}.com"
"""189 characters: with a 64-character local part, a 254-character address."""

LONGEST = [f"{'a' * 64}@example.com", f"{'a' * 64}@{DOMAIN}", f"{'é' * 32}@example.com"]
TOO_LONG = [
    f"{'a' * 65}@example.com",
    f"{'a' * 64}@{DOMAIN}x",
    f"{'é' * 33}@example.com",
    f"{'A' * 65}@Example.com",
]

CREATE = "mutation($e: String!) { createCustomer(input: {email: $e}) { email } }"
UPDATE = (
    "mutation($id: ID!, $e: String!) "
    "{ updateCustomer(id: $id, input: {email: $e}) { email } }"
)


@pytest.mark.parametrize("email", LONGEST)
def test_an_address_at_the_rfc_5321_limits_is_accepted(email: str) -> None:
    assert normalize_email(email) == email.lower()


@pytest.mark.parametrize("email", TOO_LONG)
async def test_create_customer_refuses_an_address_over_the_limits(
    db: Services, gql: GraphQL, email: str
) -> None:
    result = await gql(CREATE, {"e": email})
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "long" in result["errors"][0]["message"]
    lookup = await gql("{ customers(first: 5) { edges { node { id } } } }")
    assert lookup["data"]["customers"]["edges"] == []


@pytest.mark.parametrize("email", TOO_LONG)
async def test_update_customer_refuses_an_address_over_the_limits(
    db: Services, gql: GraphQL, email: str
) -> None:
    created = await gql(CREATE, {"e": "ana@example.com"})
    assert created["data"]["createCustomer"] == {"email": "ana@example.com"}
    lookup = await gql('{ customer(email: "ana@example.com") { id } }')
    customer_id = lookup["data"]["customer"]["id"]
    result = await gql(UPDATE, {"id": customer_id, "e": email})
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    again = await gql(
        "query($id: ID!) { customer(id: $id) { email } }", {"id": customer_id}
    )
    assert again["data"]["customer"] == {"email": "ana@example.com"}


async def test_the_longest_address_is_stored_on_both_backends(
    db: Services, gql: GraphQL
) -> None:
    email = f"{'a' * 64}@{DOMAIN}"
    result = await gql(CREATE, {"e": email})
    assert result["data"]["createCustomer"] == {"email": email}
