"""Saved segments over GraphQL, and membership kept current incrementally after
an order upsert and after a Shopify order webhook."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select

from connectors.demo_world import CATALOG, World
from connectors.models import Money
from gateway.app import create_app
from gateway.db import models
from gateway.demo.seed import seed
from gateway.demo.simulation import Simulators, simulated_upstreams
from gateway.insights import segments
from gateway.insights.refresh import record_orders, refresh_all
from gateway.insights.segments import create_segment
from gateway.insights.tables import OrderFact, SegmentMember, SegmentMembershipEvent
from gateway.runtime.services import Services
from gateway.runtime.upstreams import Upstreams
from tests.integration.gateway.simulated import connectors_for, services_on
from tests.integration.insights.facts import (
    NOW,
    add_customer,
    add_orders,
    days_ago,
    order,
)

WORLD = World(seed=5, size=12)
FACE_CREAM = next(p for p in CATALOG if p.category == "Skincare")


async def events(db: Services) -> list[tuple[int, str, bool]]:
    async with db.sessions() as session:
        rows = await session.scalars(
            select(SegmentMembershipEvent).order_by(SegmentMembershipEvent.id)
        )
        return [(e.customer_id, e.segment, e.entered) for e in rows]


async def test_create_segment_then_page_its_members(gql, db: Services) -> None:
    ids = [await add_customer(db, f"c{i}@example.com") for i in range(5)]
    for cid in ids[:3]:
        await add_orders(db, cid, order(days_ago(3), [("Skincare", 1, "54.00")]))
    await refresh_all(db.sessions, db.settings, NOW)
    created = await gql(
        'mutation { createSegment(name: "Skincare", filter: {categoriesAny:'
        ' ["Skincare"]}) { name filter members(first: 2) { totalCount edges'
        " { node { email } } pageInfo { hasNextPage endCursor } } } }"
    )
    segment = created["data"]["createSegment"]
    assert segment["filter"] == {"categoriesAny": ["Skincare"]}
    assert segment["members"]["totalCount"] == 3
    assert [e["node"]["email"] for e in segment["members"]["edges"]] == [
        "c0@example.com",
        "c1@example.com",
    ]
    after = segment["members"]["pageInfo"]["endCursor"]
    rest = await gql(
        'query($a: String) { segment(name: "Skincare") { members(first: 2,'
        " after: $a) { edges { node { email } } pageInfo { hasNextPage } } } }",
        {"a": after},
    )
    members = rest["data"]["segment"]["members"]
    assert [e["node"]["email"] for e in members["edges"]] == ["c2@example.com"]
    assert members["pageInfo"]["hasNextPage"] is False
    listed = await gql("{ segments { name } }")
    assert listed["data"]["segments"] == [{"name": "Skincare"}]
    again = await gql(
        'mutation { createSegment(name: "Skincare", filter: {}) { name } }'
    )
    assert again["errors"][0]["extensions"]["code"] == "CONFLICT"


async def test_a_new_segment_records_one_entered_event_per_member_once(
    db: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(segments, "ANALYZE_AFTER", 1)  # PostgreSQL analyzes too
    ids = [await add_customer(db, f"n{i}@example.com") for i in range(4)]
    for cid in ids[:3]:
        await add_orders(db, cid, order(days_ago(3), [("Skincare", 1, "54.00")]))
    await refresh_all(db.sessions, db.settings, NOW)
    async with db.sessions() as session, session.begin():
        segment = await create_segment(
            session, "Buyers", {"orderCount": {"gte": 1}}, NOW
        )
    assert segment.refreshed_at == NOW
    expected = [(cid, "Buyers", True) for cid in ids[:3]]
    assert sorted(await events(db)) == expected
    async with db.sessions() as session:
        stored = (
            await session.execute(
                select(SegmentMember.customer_id, SegmentMember.since)
                .where(SegmentMember.segment_id == segment.id)
                .order_by(SegmentMember.customer_id)
            )
        ).all()
        stamps = set(await session.scalars(select(SegmentMembershipEvent.occurred_at)))
    assert stored == [(cid, NOW) for cid in ids[:3]]
    assert stamps == {NOW}

    await refresh_all(db.sessions, db.settings, NOW)  # nothing changed: no events
    assert sorted(await events(db)) == expected


async def test_segment_preview_counts_and_pages(gql, db: Services) -> None:
    for i in range(3):
        await add_customer(db, f"p{i}@example.com", city="Lyon", country="FR")
    body = await gql(
        '{ segmentPreview(filter: {city: "Lyon", not: {tagsAny: ["b2b"]}},'
        " first: 2) { totalCount edges { node { email } } pageInfo"
        " { hasNextPage } } }"
    )
    found = body["data"]["segmentPreview"]
    assert found["totalCount"] == 3
    assert len(found["edges"]) == 2
    assert found["pageInfo"]["hasNextPage"] is True


@pytest.mark.parametrize(
    ("tags", "count"), [([], 0), (["vip"], 1), (["vip", "b2b"], 2), (["none"], 0)]
)
async def test_a_tag_filter_reads_alike_on_customers_and_a_segment(
    gql, db: Services, tags: list[str], count: int
) -> None:
    """``tagsAny`` is one predicate in both filters: an empty list matches
    no customer (``customers`` read it as left out, a segment as none)."""
    await add_customer(db, "vip@example.com", tags=("vip",))
    await add_customer(db, "b2b@example.com", tags=("b2b",))
    await add_customer(db, "plain@example.com")
    body = await gql(
        "query($t: [String!]) { customers(first: 10, filter: {tagsAny: $t}) "
        "{ totalCount } segmentPreview(filter: {tagsAny: $t}) { totalCount } }",
        {"t": tags},
    )
    data = body["data"]
    assert data["customers"]["totalCount"] == count, body
    assert data["segmentPreview"]["totalCount"] == count, body


async def test_an_order_upsert_moves_one_customer_in_and_out(db: Services) -> None:
    a = await add_customer(db, "a@example.com")
    b = await add_customer(db, "b@example.com")
    await refresh_all(db.sessions, db.settings, NOW)
    async with db.sessions() as session, session.begin():
        await create_segment(
            session, "Big spenders", {"lifetimeValue": {"gte": 500}}, NOW
        )
    assert await events(db) == []

    big = order(days_ago(1), [("Furniture", 1, "949.00")])
    async with db.sessions() as session, session.begin():
        await record_orders(session, a, [big], NOW)
    assert await events(db) == [(a, "Big spenders", True)]

    refunded = replace(big, total_refunded=Money(Decimal("949.00"), "USD"))
    async with db.sessions() as session, session.begin():
        await record_orders(session, a, [refunded], NOW)
    assert await events(db) == [(a, "Big spenders", True), (a, "Big spenders", False)]
    assert b not in {cid for cid, _, _ in await events(db)}


@pytest.fixture(scope="module")
async def simulators() -> AsyncIterator[Simulators]:
    async with simulated_upstreams(WORLD) as running:
        yield running


@pytest.fixture(scope="module")
async def upstreams(simulators: Simulators) -> AsyncIterator[Upstreams]:
    async with connectors_for(simulators) as built:
        yield built


async def test_an_order_webhook_stores_the_order_and_updates_membership(
    simulators: Simulators, db: Services, upstreams: Upstreams
) -> None:
    await seed(db.sessions, WORLD)
    wired = services_on(simulators, db, upstreams)
    async with wired.sessions() as session, session.begin():
        await create_segment(session, "Buyers", {"orderCount": {"gte": 1}}, NOW)
        customer_id = await session.scalar(
            select(models.Customer.id).where(
                models.Customer.email == WORLD.customers[3].email
            )
        )
    shopify = simulators.shopify
    placed = shopify.add_order(3, [(FACE_CREAM, 1)])
    transport = httpx.ASGITransport(app=create_app(services=wired))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
        response = await shopify.send_webhook(
            http, "orders/create", shopify.order_payload(placed)
        )
    assert response.status_code == 200, response.text
    async with wired.sessions() as session:
        facts = list(await session.scalars(select(OrderFact)))
    assert [f.customer_id for f in facts] == [customer_id]
    assert await events(wired) == [(customer_id, "Buyers", True)]
