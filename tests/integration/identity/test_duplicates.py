"""Duplicate candidates (issue 18): each suggesting rule finds its pairs on
both databases, rules agreeing add up, a key shared too widely is no
evidence, pages follow the score, only the data stewards ask; and the strong
rules are the only ones that link (a phone made weak links nothing)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import select
from strawberry import relay

from gateway.auth.keys import create_key
from gateway.auth.policy import GRANTABLE_ROLES, IDENTITY_STEWARDS, Role
from gateway.db import models
from gateway.identity.matching import customer_by_contact
from gateway.identity.rules import MatchRules
from gateway.runtime.services import Services
from gateway.settings import Settings

PAIRS = """
query($first: Int!, $after: String) {
  duplicateCandidates(first: $first, after: $after) {
    edges { cursor node {
      score reasons { rule strength values }
      customer { email } duplicate { email }
    } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

PEOPLE: list[dict[str, Any]] = [
    # one person: the same phone, name and postcode under two emails
    {"email": "ana@work.example", "phone": "+14155550100", "first_name": "Ana",
     "last_name": "Ruiz", "postcode": "94110"},
    {"email": "ana.ruiz@home.example", "phone": "+14155550100", "first_name": "ANA",
     "last_name": "ruiz", "postcode": "94 110"},
    # a sub-address of one mailbox
    {"email": "bo@mail.example", "first_name": "Bo"},
    {"email": "bo+shop@mail.example", "first_name": "Bob"},
    # the same name elsewhere: no evidence
    {"email": "cy@a.example", "first_name": "Cy", "last_name": "Lee", "postcode": "10001"},
    {"email": "cy@b.example", "first_name": "Cy", "last_name": "Lee", "postcode": "60601"},
    # a store's own number, on six customers: no evidence
    *({"email": f"front-desk-{n}@x.example", "phone": "+14155559999"} for n in range(6)),
]  # fmt: skip


async def _people(db: Services) -> None:
    async with db.sessions() as session, session.begin():
        for person in PEOPLE:
            fields = {k: v for k, v in person.items() if k != "postcode"}
            customer = models.Customer(**fields)
            session.add(customer)
            await session.flush()
            if "postcode" in person:
                session.add(
                    models.Address(
                        customer_id=customer.id,
                        kind="shipping",
                        country="US",
                        postcode=person["postcode"],
                    )
                )


async def test_each_rule_finds_its_pairs_scored_and_paged(
    gql: Any, db: Services
) -> None:
    await _people(db)
    first = await gql(PAIRS, {"first": 1})
    assert "errors" not in first, first
    page = first["data"]["duplicateCandidates"]
    (edge,) = page["edges"]
    assert page["pageInfo"]["hasNextPage"]
    assert edge["node"] == {
        "score": 0.95,
        "reasons": [
            {"rule": "PHONE", "strength": "STRONG",
             "values": ["+14155550100", "+14155550100"]},
            {"rule": "NAME_POSTCODE", "strength": "WEAK",
             "values": ["Ana Ruiz, 94110", "ANA ruiz, 94 110"]},
        ],
        "customer": {"email": "ana@work.example"},
        "duplicate": {"email": "ana.ruiz@home.example"},
    }  # fmt: skip
    rest = await gql(PAIRS, {"first": 10, "after": page["pageInfo"]["endCursor"]})
    page = rest["data"]["duplicateCandidates"]
    assert not page["pageInfo"]["hasNextPage"]
    assert [
        (e["node"]["score"], [r["rule"] for r in e["node"]["reasons"]],
         e["node"]["customer"]["email"], e["node"]["duplicate"]["email"])
        for e in page["edges"]
    ] == [(0.5, ["EMAIL_ALIAS"], "bo@mail.example", "bo+shop@mail.example")]  # fmt: skip


async def test_a_cursor_of_another_list_is_refused(gql: Any) -> None:
    bad = await gql(PAIRS, {"first": 1, "after": "not-a-cursor"})
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize("role", sorted(GRANTABLE_ROLES), ids=str)
async def test_only_the_data_stewards_ask(
    client: httpx.AsyncClient, db: Services, role: Role
) -> None:
    key, _ = await create_key(db.sessions, f"{role}-{time.monotonic_ns()}", role)
    response = await client.post(
        "/graphql",
        json={"query": PAIRS, "variables": {"first": 5}},
        headers={"Authorization": f"Bearer {key}"},
    )
    body = response.json()
    if role in IDENTITY_STEWARDS:
        assert "errors" not in body, body
    else:
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert body.get("data") is None


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        ("email:strong,phone:strong", "phone"),
        ("email:strong,phone:weak", None),
        ("phone:strong,email:strong", "phone"),
        ("email:strong", None),
    ],
)
async def test_only_strong_rules_link_in_their_order(
    db: Services, rules: str, expected: str | None
) -> None:
    await _people(db)
    async with db.sessions() as session:
        found = await customer_by_contact(
            session,
            MatchRules.parse(rules),
            "zendesk",
            "bo@mail.example",
            "+14155550100",
        )
        phone_only = await customer_by_contact(
            session, MatchRules.parse(rules), "zendesk", None, "+14155550100"
        )
    assert phone_only is None  # two customers hold that phone: it identifies none
    assert found is not None
    assert found[1].rule == "email"
    single = "+14155550123"
    async with db.sessions() as session, session.begin():
        session.add(models.Customer(email="solo@x.example", phone=single))
    async with db.sessions() as session:
        match = await customer_by_contact(
            session, MatchRules.parse(rules), "zendesk", "nobody@x.example", single
        )
    assert (match[1].rule if match else None) == expected
    if match is not None:
        assert match[1].values == (single,)
        assert match[1].source == "zendesk"


@pytest.mark.parametrize(
    "value",
    ["email:maybe", "email,email", "external_id:weak", "fingerprint:strong", ""],
)
def test_invalid_rules_are_refused_at_start(value: str) -> None:
    with pytest.raises(ValidationError):
        Settings.model_validate({"identity_match_rules": value})


DISMISS = """mutation($a: ID!, $b: ID!) { dismissDuplicate(customerId: $a, duplicateId: $b) }"""


async def test_a_dismissed_pair_is_not_suggested_again(gql: Any, db: Services) -> None:
    await _people(db)
    first = (await gql(PAIRS, {"first": 10}))["data"]["duplicateCandidates"]
    assert len(first["edges"]) == 2
    async with db.sessions() as session:
        bo = {
            email: pk
            for email, pk in await session.execute(
                select(models.Customer.email, models.Customer.id).where(
                    models.Customer.email.like("bo%")
                )
            )
        }
    a, b = (gid(bo["bo+shop@mail.example"]), gid(bo["bo@mail.example"]))
    for _ in range(2):  # again: no error
        done = await gql(DISMISS, {"a": a, "b": b})
        assert done == {"data": {"dismissDuplicate": True}}, done
    after = (await gql(PAIRS, {"first": 10}))["data"]["duplicateCandidates"]
    assert [e["node"]["customer"]["email"] for e in after["edges"]] == [
        "ana@work.example"
    ]
    same = await gql(DISMISS, {"a": a, "b": a})
    assert same["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    unknown = await gql(DISMISS, {"a": a, "b": gid(10**9)})
    assert unknown["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def gid(pk: int) -> str:
    return str(relay.GlobalID("Customer", str(pk)))
