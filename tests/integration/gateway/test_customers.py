"""Reading customers: every Customer field, lookups, search, filters, node(id:)."""

from __future__ import annotations

from datetime import date

from connectors.demo_world import World
from gateway.demo.seed import seed
from gateway.runtime.services import Services
from tests.conftest import GraphQL, StatementCounter

FULL = """
query($id: ID!) {
  customer(id: $id) {
    id email phone firstName lastName displayName birthDate locale timezone createdAt updatedAt
    addresses { kind line1 line2 city region postcode country isDefault }
    identities { source externalId linkedBy createdAt }
    tags
    consents { channel state source changedAt }
    preferences { key value }
    loyaltyBalance
    notes(first: 5) { edges { cursor node { id author body createdAt } } pageInfo { hasNextPage endCursor } }
  }
}
"""

CREATE = """
mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { id email phone } }
"""


async def create(gql: GraphQL, **fields: object) -> str:
    result = await gql(CREATE, {"input": fields})
    assert "errors" not in result, result
    return str(result["data"]["createCustomer"]["id"])


async def test_a_created_customer_reads_back_with_every_field(gql: GraphQL) -> None:
    cid = await create(
        gql,
        email="  Maya.Lopez@Example.COM ",
        phone="+1 (415) 555-0123",
        firstName="Maya",
        lastName="Lopez",
        birthDate="1990-04-12",
        locale="en-US",
        timezone="America/Los_Angeles",
        addresses=[
            {
                "kind": "SHIPPING",
                "country": "us",
                "city": "San Francisco",
                "region": "CA",
                "postcode": "94110",
                "line1": "1 Valencia St",
                "isDefault": True,
            },
            {"kind": "BILLING", "country": "US", "city": "Oakland"},
        ],
        tags=["VIP", "newsletter"],
    )
    await gql(
        'mutation($c: ID!) { addNote(customerId: $c, body: "Prefers evening delivery") { id } }',
        {"c": cid},
    )
    await gql(
        'mutation($c: ID!) { setConsent(customerId: $c, channel: EMAIL, state: GRANTED, source: "form") { state } }',
        {"c": cid},
    )
    await gql(
        'mutation($c: ID!) { addLoyaltyPoints(customerId: $c, points: 120, reason: "welcome") { points } }',
        {"c": cid},
    )
    result = await gql(FULL, {"id": cid})
    assert "errors" not in result, result
    c = result["data"]["customer"]
    assert c["email"] == "maya.lopez@example.com"
    assert c["phone"] == "+14155550123"
    assert c["displayName"] == "Maya Lopez"
    assert c["birthDate"] == "1990-04-12"
    assert (c["locale"], c["timezone"]) == ("en-US", "America/Los_Angeles")
    assert c["addresses"][0] == {
        "kind": "SHIPPING",
        "line1": "1 Valencia St",
        "line2": None,
        "city": "San Francisco",
        "region": "CA",
        "postcode": "94110",
        "country": "US",
        "isDefault": True,
    }
    assert [a["kind"] for a in c["addresses"]] == ["SHIPPING", "BILLING"]
    assert c["tags"] == ["newsletter", "vip"]
    assert c["consents"][0]["channel"] == "EMAIL"
    assert c["consents"][0]["state"] == "GRANTED"
    assert c["consents"][0]["source"] == "form"
    assert c["loyaltyBalance"] == 120
    assert c["notes"]["edges"][0]["node"]["body"] == "Prefers evening delivery"
    assert c["notes"]["edges"][0]["node"]["author"] == "key:demo"  # the caller
    assert c["identities"] == []
    assert c["preferences"] == []


async def test_customer_is_found_by_email_case_insensitively(gql: GraphQL) -> None:
    cid = await create(gql, email="leo@example.com")
    result = await gql('{ customer(email: "LEO@Example.com") { id } }')
    assert result["data"]["customer"]["id"] == cid
    missing = await gql('{ customer(email: "nobody@example.com") { id } }')
    assert missing["data"]["customer"] is None


async def test_customer_needs_exactly_one_of_id_or_email(gql: GraphQL) -> None:
    result = await gql("{ customer { id } }")
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_node_resolves_customers_and_notes_by_global_id(gql: GraphQL) -> None:
    cid = await create(gql, email="node@example.com")
    note = await gql(
        'mutation($c: ID!) { addNote(customerId: $c, body: "hi") { id } }', {"c": cid}
    )
    note_id = note["data"]["addNote"]["id"]
    result = await gql(
        "query($a: ID!, $b: ID!) { a: node(id: $a) { id ... on Customer { email } } "
        "b: node(id: $b) { ... on Note { body } } }",
        {"a": cid, "b": note_id},
    )
    assert result["data"] == {
        "a": {"id": cid, "email": "node@example.com"},
        "b": {"body": "hi"},
    }


async def seeded(db: Services, size: int = 60) -> World:
    world = World(seed=7, size=size)
    await seed(db.sessions, world)
    return world


async def test_search_matches_email_and_name_and_filters_combine(
    db: Services, gql: GraphQL
) -> None:
    world = await seeded(db)
    person = world.customers[3]
    by_name = await gql(
        "query($s: String!) { customers(search: $s, first: 50) { edges { node { email } } } }",
        {"s": person.last_name.upper()},
    )
    emails = [e["node"]["email"] for e in by_name["data"]["customers"]["edges"]]
    assert person.email in emails
    country = person.address.country
    filtered = await gql(
        "query($c: String!) { customers(filter: { country: $c, consent: { channel: EMAIL, state: GRANTED } }, first: 100) "
        "{ totalCount edges { node { email } } } }",
        {"c": country.lower()},
    )
    expected = {
        p.email
        for p in world.customers
        if p.address.country == country and p.email_consent
    }
    got = {e["node"]["email"] for e in filtered["data"]["customers"]["edges"]}
    assert got == expected
    assert filtered["data"]["customers"]["totalCount"] == len(expected)


async def test_filters_by_tag_birth_month_and_phone(db: Services, gql: GraphQL) -> None:
    world = await seeded(db)
    result = await gql(
        '{ customers(filter: { tagsAny: ["VIP"], birthMonth: 3, hasPhone: true }, first: 100) '
        "{ edges { node { email } } } }"
    )
    expected = {
        p.email
        for p in world.customers
        if "vip" in p.tags and p.birth_date and p.birth_date.month == 3 and p.phone
    }
    assert {
        e["node"]["email"] for e in result["data"]["customers"]["edges"]
    } == expected


async def test_a_page_of_customers_with_all_relations_costs_a_fixed_number_of_statements(
    db: Services, gql: GraphQL, sql: StatementCounter
) -> None:
    await seeded(db)
    query = """{ customers(first: 50) { edges { node {
        email addresses { city } identities { source } tags consents { state }
        preferences { key } loyaltyBalance notes(first: 2) { edges { node { body } } } } } } }"""
    sql.reset()
    result = await gql(query)
    assert len(result["data"]["customers"]["edges"]) == 50
    # one page query + one batched query per relation, independent of the page size
    # (and, after the response, one INSERT of the audit trail): addresses,
    # tags, consents and the loyalty balance are one (ProfileByCustomerLoader)
    reads = [s for s in sql.statements if not s.startswith("INSERT INTO audit_log")]
    assert len(reads) == 5


async def test_birth_date_from_the_future_is_refused(gql: GraphQL) -> None:
    future = date.today().replace(year=date.today().year + 1).isoformat()
    result = await gql(
        CREATE, {"input": {"email": "f@example.com", "birthDate": future}}
    )
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_seeded_crm_data_has_its_history_on_the_timeline(
    db: Services, gql: GraphQL
) -> None:
    world = await seeded(db, size=20)
    person = next(p for p in world.customers if p.tags)
    result = await gql(
        "query($e: String!) { customer(email: $e) { tags timeline(first: 50, sources: [CRM]) "
        "{ edges { node { __typename summary } } } } }",
        {"e": person.email},
    )
    assert "errors" not in result, result
    customer = result["data"]["customer"]
    kinds = {e["node"]["__typename"] for e in customer["timeline"]["edges"]}
    assert {"TagAdded", "ConsentChanged"} <= kinds
    summaries = {e["node"]["summary"] for e in customer["timeline"]["edges"]}
    assert f"Tag {customer['tags'][0]} added" in summaries
