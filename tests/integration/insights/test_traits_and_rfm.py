"""Traits and RFM against values worked out by hand, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from gateway.insights.refresh import refresh_all
from gateway.insights.rfm import SEGMENTS, segment_of
from gateway.insights.tables import CustomerRfm, CustomerTraits, OrderFact
from gateway.runtime.services import Services
from tests.integration.insights.facts import (
    NOW,
    RFM_TRIPLES,
    add_customer,
    add_engagement,
    add_orders,
    days_ago,
    order,
    rfm_world,
)


async def traits_of(db: Services, customer_id: int) -> CustomerTraits:
    async with db.sessions() as session:
        row = await session.get(CustomerTraits, customer_id)
    assert row is not None
    return row


async def test_traits_match_hand_computed_values(db: Services) -> None:
    a = await add_customer(db, "a@example.com")
    b = await add_customer(db, "b@example.com")
    c = await add_customer(db, "c@example.com")
    jan = NOW.replace(month=1, day=1)
    await add_orders(
        db,
        a,
        order(jan, [("Skincare", 2, "100.00")]),
        order(
            jan + timedelta(days=60),
            [("Furniture", 1, "200.00"), ("Skincare", 1, "50.00")],
            refunded="50.00",
            returned=True,
        ),
        order(days_ago(31), [("Outerwear", 9, "999.00")], cancelled=True),
    )
    await add_orders(db, b, order(days_ago(31), [("Skincare", 1, "54.00")]))
    await add_engagement(
        db, c, open_tickets=2, tickets=3, good=3, bad=1, last_seen=days_ago(12)
    )

    await refresh_all(db.sessions, db.settings, NOW)

    ta = await traits_of(db, a)
    assert ta.lifetime_value == Decimal("300.00")  # 100 + (250 − 50)
    assert ta.order_count == 2  # the cancelled one does not count
    assert ta.average_order_value == Decimal("150.00")
    assert (ta.first_order_at, ta.last_order_at) == (jan, jan + timedelta(days=60))
    assert ta.average_days_between_orders == pytest.approx(60.0)
    assert ta.favourite_category_by_quantity == "Skincare"  # 3 vs 1
    assert ta.favourite_category_by_spend == "Furniture"  # 200 vs 150
    assert sorted((ta.categories or "").split("|")) == ["Furniture", "Skincare"]
    assert ta.return_rate == pytest.approx(0.5)
    assert ta.predicted_next_order_at == jan + timedelta(days=120)  # own interval
    assert ta.currency == "USD"

    tb = await traits_of(db, b)
    assert tb.order_count == 1
    assert tb.average_days_between_orders is None
    assert tb.return_rate == 0.0
    # one order: Skincare's 90-day replenishment
    assert tb.predicted_next_order_at == days_ago(31) + timedelta(days=90)

    tc = await traits_of(db, c)
    assert (tc.lifetime_value, tc.order_count, tc.average_order_value) == (0, 0, None)
    assert tc.predicted_next_order_at is None
    assert tc.categories is None
    assert (tc.open_tickets, tc.ticket_count) == (2, 3)
    assert tc.average_satisfaction == pytest.approx(0.75)
    assert tc.last_seen_at == days_ago(12)
    assert tc.computed_at == NOW


async def test_upserting_the_same_order_twice_changes_nothing(db: Services) -> None:
    a = await add_customer(db, "a@example.com")
    first = order(days_ago(3), [("Skincare", 1, "54.00")])
    await add_orders(db, a, first)
    await add_orders(db, a, first)
    async with db.sessions() as session:
        facts = list(await session.scalars(select(OrderFact)))
    assert len(facts) == 1
    assert facts[0].total == Decimal("54.00")


async def test_rfm_scores_and_every_segment_match_the_hand_computed_grid(
    db: Services,
) -> None:
    ids = await rfm_world(db)
    await refresh_all(db.sessions, db.settings, NOW)
    async with db.sessions() as session:
        rows = {r.customer_id: r for r in await session.scalars(select(CustomerRfm))}
    got = [(rows[i].recency, rows[i].frequency, rows[i].monetary) for i in ids]
    assert got == list(RFM_TRIPLES)
    assert {rows[i].segment for i in ids} == set(SEGMENTS)
    assert [rows[i].segment for i in ids] == [segment_of(*t) for t in RFM_TRIPLES]
    # spot checks of the map itself (docs/segments.md)
    assert segment_of(5, 5, 4) == "Champions"
    assert segment_of(1, 1, 2) == "Lost"
    assert segment_of(2, 5, 5) == "Can't Lose Them"


async def test_orders_outside_the_window_count_for_recency_only(db: Services) -> None:
    old = await add_customer(db, "old@example.com", birth=date(1990, 1, 1))
    await add_orders(db, old, order(days_ago(500), [("Grocery", 1, "10.00")]))
    await refresh_all(db.sessions, db.settings, NOW)
    async with db.sessions() as session:
        row = await session.get(CustomerRfm, old)
    assert row is not None
    assert row.revenue == 0


async def test_rfm_summary_counts_customers_and_revenue_per_segment(gql, db) -> None:
    await rfm_world(db)
    await refresh_all(db.sessions, db.settings, NOW)
    body = await gql("{ rfmSummary { segment customers revenue } }")
    summary = {s["segment"]: s for s in body["data"]["rfmSummary"]}
    assert list(summary) == list(SEGMENTS)
    assert sum(s["customers"] for s in summary.values()) == 25
    # New Customers: only customer 1 (M=1 → 1000 + 1)
    assert summary["New Customers"] == {
        "segment": "New Customers",
        "customers": 1,
        "revenue": "1001.00",
    }


async def test_customer_traits_and_rfm_are_fields_of_customer(gql, db) -> None:
    ids = await rfm_world(db)
    await refresh_all(db.sessions, db.settings, NOW)
    body = await gql(
        "query($e: String!) { customer(email: $e) { traits { orderCount"
        " lifetimeValue { amount currencyCode } averageOrderValue { amount }"
        " categoriesBought computedAt } rfm { recency frequency"
        " monetary score segment } } }",
        {"e": "rfm2@example.com"},
    )
    customer = body["data"]["customer"]
    assert customer["traits"]["orderCount"] == 3
    assert customer["traits"]["lifetimeValue"] == {
        "amount": "4002.00",
        "currencyCode": "USD",
    }
    assert customer["traits"]["averageOrderValue"] == {"amount": "1334.00"}
    assert customer["traits"]["categoriesBought"] == ["Grocery"]
    assert customer["rfm"] == {
        "recency": 5,
        "frequency": 3,
        "monetary": 4,
        "score": "534",
        "segment": "Champions",
    }
    assert ids[1] > 0


async def test_a_refresh_updates_rows_in_place_and_drops_rfm_of_the_cancelled(
    db: Services,
) -> None:
    a = await add_customer(db, "a@example.com")
    b = await add_customer(db, "b@example.com")
    bought = order(days_ago(10), [("Skincare", 1, "54.00")])
    await add_orders(db, a, bought)
    await add_orders(db, b, order(days_ago(20), [("Grocery", 2, "36.00")]))
    await refresh_all(db.sessions, db.settings, NOW)
    assert (await traits_of(db, a)).order_count == 1

    later = NOW + timedelta(hours=1)
    await add_orders(db, a, replace(bought, cancelled_at=bought.processed_at))
    await refresh_all(db.sessions, db.settings, later)

    ta = await traits_of(db, a)
    assert (ta.order_count, ta.lifetime_value, ta.categories) == (0, Decimal(0), None)
    assert ta.last_order_at is None
    assert ta.computed_at == later
    async with db.sessions() as session:
        rated = list(await session.scalars(select(CustomerRfm.customer_id)))
        traits = list(await session.scalars(select(CustomerTraits.customer_id)))
    assert rated == [b]  # a has no order left that counts
    assert sorted(traits) == [a, b]
