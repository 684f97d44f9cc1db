"""Orders, tickets and activity on the Customer, read from the simulators over
HTTP: exact values, batching, identity linking, and partial data on failure."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from gateway.changes.bus import CustomerChange
from gateway.db import models
from tests.integration.gateway.conftest import Gateway

pytestmark = pytest.mark.storage_independent

VIEW = """
query($email: String!) {
  customer(email: $email) {
    email
    shopifyCustomer { id amountSpent { amount currencyCode } numberOfOrders }
    orders(first: 3) {
      totalCount
      edges { cursor node { id name processedAt financialStatus fulfillmentStatus
        total { amount currencyCode }
        lineItems { title quantity category vendor unitPrice { amount } } refunds { id } returns { status } } }
      pageInfo { hasNextPage endCursor }
    }
    returns { name status }
    abandonedCheckouts { id total { amount } }
    tickets(first: 5) { edges { node { id subject status comments { body public } satisfaction { score } } } }
    openTicketCount
    satisfaction { latestScore average ratedCount }
    activity(first: 5) { edges { node { kind name occurredAt path } } }
    lastSeenAt
    sessionsCount
  }
}
"""


def shopper(gateway: Gateway) -> str:
    """A world customer with orders, tickets and web sessions (not deleted upstream)."""
    desk = gateway.simulators.zendesk.desk
    requesters = {desk.users[t["requester_id"]]["email"] for t in desk.tickets.values()}
    persons = gateway.simulators.posthog.analytics.by_distinct_id
    for person in gateway.world.customers:
        if (
            person.profile.orders_per_year >= 5
            and person.index % 50 != 7
            and person.email in requesters
            and person.email in persons
        ):
            return person.email
    raise AssertionError("the world has no frequent shopper")


async def test_a_customer_360_view_joins_all_three_upstreams(gateway: Gateway) -> None:
    result = await gateway.gql(VIEW, {"email": shopper(gateway)})
    assert "errors" not in result, result
    c = result["data"]["customer"]
    orders = c["orders"]["edges"]
    assert orders, "a frequent shopper has orders"
    lifetime = c["shopifyCustomer"]["numberOfOrders"]
    assert c["orders"]["totalCount"] == lifetime
    processed = [o["node"]["processedAt"] for o in orders]
    assert processed == sorted(processed, reverse=True)
    for edge in orders:
        total = Decimal(edge["node"]["total"]["amount"])
        assert total >= 0
        assert edge["node"]["lineItems"]
    assert c["tickets"] is not None
    assert c["activity"]["edges"]
    assert c["lastSeenAt"] is not None
    assert c["sessionsCount"] >= 0


async def test_orders_paginate_to_the_last_one_without_gaps(gateway: Gateway) -> None:
    email = shopper(gateway)
    seen: list[str] = []
    after = None
    total = None
    while True:
        result = await gateway.gql(
            "query($e: String!, $a: String) { customer(email: $e) { orders(first: 4, after: $a) "
            "{ totalCount edges { node { id } } pageInfo { hasNextPage endCursor } } } }",
            {"e": email, "a": after},
        )
        orders = result["data"]["customer"]["orders"]
        total = orders["totalCount"]
        seen += [e["node"]["id"] for e in orders["edges"]]
        if not orders["pageInfo"]["hasNextPage"]:
            break
        after = orders["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == total


async def test_identities_are_linked_by_email_once_and_reused(gateway: Gateway) -> None:
    email = shopper(gateway)
    await gateway.gql(VIEW, {"email": email})
    async with gateway.services.sessions() as session:
        sources = set(
            await session.scalars(
                select(models.Identity.source)
                .join(models.Customer)
                .where(models.Customer.email == email)
            )
        )
    assert sources == {"shopify", "zendesk", "posthog"}
    gateway.simulators.reset_counts()
    await gateway.gql(
        "query($e: String!) { customer(email: $e) { shopifyCustomer { id } } }",
        {"e": email},
    )
    # linked now (and cached): no customer search again
    assert gateway.simulators.shopify.operations["customers"] == 0


async def evict(gateway: Gateway, email: str) -> None:
    """Drop the customer's cached upstream data, as a webhook would."""
    async with gateway.services.sessions() as session:
        customer_id = await session.scalar(
            select(models.Customer.id).where(models.Customer.email == email)
        )
    assert customer_id is not None
    await gateway.services.changes.publish(
        CustomerChange(customer_id=customer_id, source="test", kind="evict")
    )


async def test_an_upstream_auth_failure_is_reported_and_the_rest_answers(
    gateway: Gateway,
) -> None:
    email = shopper(gateway)
    await gateway.gql(VIEW, {"email": email})  # link first
    await evict(gateway, email)
    gateway.simulators.shopify.fail_next(5, status=401)
    result = await gateway.gql(
        "query($e: String!) { customer(email: $e) { email orders(first: 2) { totalCount } "
        "openTicketCount } }",
        {"e": email},
    )
    assert result["data"]["customer"]["email"] == email
    assert result["data"]["customer"]["orders"] is None
    assert result["data"]["customer"]["openTicketCount"] is not None
    error = result["errors"][0]
    assert error["extensions"] == {"code": "UPSTREAM_AUTH", "source": "shopify"}
    assert "Invalid API key" not in str(result)


async def test_an_upstream_outage_is_unavailable_with_partial_data(
    gateway: Gateway,
) -> None:
    email = shopper(gateway)
    await gateway.gql(VIEW, {"email": email})
    await evict(gateway, email)
    gateway.simulators.zendesk.fail_next(20, status=503)
    result = await gateway.gql(
        "query($e: String!) { customer(email: $e) { email openTicketCount lastSeenAt } }",
        {"e": email},
    )
    assert result["data"]["customer"]["email"] == email
    assert result["data"]["customer"]["openTicketCount"] is None
    assert result["data"]["customer"]["lastSeenAt"] is not None
    assert result["errors"][0]["extensions"] == {
        "code": "UPSTREAM_UNAVAILABLE",
        "source": "zendesk",
    }


async def test_a_customer_unknown_upstream_has_null_upstream_fields(
    gateway: Gateway,
) -> None:
    created = await gateway.gql(
        'mutation { createCustomer(input: {email: "walk-in@example.com"}) { id } }'
    )
    assert "errors" not in created
    result = await gateway.gql(VIEW, {"email": "walk-in@example.com"})
    c = result["data"]["customer"]
    assert "errors" not in result, result
    assert c["orders"] is None
    assert c["tickets"] is None
    assert c["activity"] is None


async def test_a_failed_first_look_up_fails_only_its_sources_fields(
    gateway: Gateway,
) -> None:
    """Every source's links are read together; one upstream failing to find
    the customer leaves the other sources' links and fields intact."""
    email = shopper(gateway)
    gateway.simulators.zendesk.fail_next(20, status=503)
    result = await gateway.gql(
        "query($e: String!) { customer(email: $e) { orders(first: 1) { totalCount } "
        "openTicketCount lastSeenAt } }",
        {"e": email},
    )
    customer = result["data"]["customer"]
    assert customer["orders"]["totalCount"] > 0
    assert customer["lastSeenAt"] is not None
    assert customer["openTicketCount"] is None
    assert [e["extensions"] for e in result["errors"]] == [
        {"code": "UPSTREAM_UNAVAILABLE", "source": "zendesk"}
    ]
    gateway.simulators.heal()
    again = await gateway.gql(VIEW, {"email": email})
    assert "errors" not in again, again
    assert again["data"]["customer"]["openTicketCount"] is not None


async def test_a_ticket_status_zendesk_adds_later_is_unknown_and_can_be_filtered(
    gateway: Gateway,
) -> None:
    email = shopper(gateway)
    desk = gateway.simulators.zendesk.desk
    mine = [
        t
        for t in desk.tickets.values()
        if desk.users[t["requester_id"]]["email"] == email
    ]
    ticket, was = mine[0], mine[0]["status"]
    ticket["status"] = "escalated"
    try:
        result = await gateway.gql(
            "query($e: String!) { customer(email: $e) {"
            " all: tickets(first: 100) { edges { node { id status } } }"
            " unknown: tickets(first: 100, status: [UNKNOWN]) { edges { node { id } } }"
            " } }",
            {"e": email},
        )
    finally:
        ticket["status"] = was
    assert "errors" not in result, result
    customer = result["data"]["customer"]
    statuses = {e["node"]["id"]: e["node"]["status"] for e in customer["all"]["edges"]}
    assert statuses[str(ticket["id"])] == "UNKNOWN"
    assert [e["node"]["id"] for e in customer["unknown"]["edges"]] == [
        str(ticket["id"])
    ]


async def test_a_ticket_pages_total_counts_the_statuses_asked_for_on_every_page(
    gateway: Gateway,
) -> None:
    """``tickets.totalCount``: the customer's tickets in the statuses asked
    for (all without ``status``), the same on the first page and the next,
    as Zendesk holds them."""
    email = shopper(gateway)
    desk = gateway.simulators.zendesk.desk
    mine = [
        t
        for t in desk.tickets.values()
        if desk.users[t["requester_id"]]["email"] == email
    ]
    solved = sum(1 for t in mine if t["status"] == "solved")
    query = (
        "query($e: String!, $after: String) { customer(email: $e) {"
        " all: tickets(first: 1, after: $after) {"
        "   totalCount pageInfo { endCursor } }"
        " solved: tickets(first: 1, status: [SOLVED], after: $after) {"
        "   totalCount } } }"
    )
    first = (await gateway.gql(query, {"e": email}))["data"]["customer"]
    cursor = first["all"]["pageInfo"]["endCursor"]
    assert cursor is not None
    later = (await gateway.gql(query, {"e": email, "after": cursor}))["data"][
        "customer"
    ]
    assert first["all"]["totalCount"] == later["all"]["totalCount"] == len(mine)
    assert first["solved"]["totalCount"] == later["solved"]["totalCount"] == solved
