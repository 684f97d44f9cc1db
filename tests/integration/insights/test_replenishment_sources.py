"""Replenishment and checkout facts filled from the simulated Shopify: the
orders sync fills the catalogue, an ``orders/create`` webhook (REST lines, no
product type) takes its SKU's category from it and moves that customer's
run-out date at once, and the checkouts sync feeds ``abandonedCheckout``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from connectors.demo_world import CATALOG, World
from gateway.app import create_app
from gateway.db import models
from gateway.db.models import utcnow
from gateway.demo.seed import seed
from gateway.demo.simulation import Simulators, simulated_upstreams
from gateway.insights.checkout_facts import sync_checkouts
from gateway.insights.order_facts import sync_orders
from gateway.insights.product_tables import Product
from gateway.insights.refresh import refresh_all
from gateway.insights.replenishment import replenishment_of
from gateway.insights.segments import preview
from gateway.insights.tables import CheckoutFact, OrderFact, OrderLineFact
from gateway.runtime.services import Services
from gateway.runtime.upstreams import Upstreams
from gateway.sync.backfill import link_customers
from tests.integration.gateway.simulated import connectors_for, services_on

WORLD = World(seed=11, size=40)


@pytest.fixture(scope="module")
async def simulators() -> AsyncIterator[Simulators]:
    async with simulated_upstreams(WORLD) as running:
        yield running


@pytest.fixture(scope="module")
async def upstreams(simulators: Simulators) -> AsyncIterator[Upstreams]:
    async with connectors_for(simulators) as built:
        yield built


@pytest.fixture
async def synced(
    simulators: Simulators, db: Services, upstreams: Upstreams
) -> Services:
    wired = services_on(simulators, db, upstreams)
    await seed(wired.sessions, WORLD)
    assert upstreams.shopify is not None
    await link_customers(wired.sessions, upstreams.shopify, full=True)
    await sync_orders(wired.sessions, upstreams.shopify)
    await sync_checkouts(wired.sessions, upstreams.shopify)
    await refresh_all(wired.sessions, wired.settings)
    return wired


async def test_an_order_webhook_takes_its_category_from_the_catalogue(
    simulators: Simulators, synced: Services
) -> None:
    async with synced.sessions() as session:
        known = dict(
            (sku, category)
            for sku, category in await session.execute(
                select(Product.sku, Product.category).where(
                    Product.category.is_not(None)
                )
            )
        )
    product = next(p for p in CATALOG if known.get(f"NW-{p.id}") == p.category)
    sku = f"NW-{product.id}"
    shopify = simulators.shopify
    placed = shopify.add_order(5, [(product, 2)])
    payload = shopify.order_payload(placed)
    assert "product_type" not in payload["line_items"][0]  # REST has none
    transport = httpx.ASGITransport(app=create_app(services=synced))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
        response = await shopify.send_webhook(http, "orders/create", payload)
    assert response.status_code == 200, response.text

    async with synced.sessions() as session:
        customer_id = await session.scalar(
            select(models.Customer.id).where(
                models.Customer.email == WORLD.customers[5].email
            )
        )
        categories = list(
            await session.scalars(
                select(OrderLineFact.category).where(
                    OrderLineFact.order_id == placed["id"]
                )
            )
        )
        assert customer_id is not None
        mine = {r.sku: r for r in await replenishment_of(session, [customer_id])}.get(
            sku
        )
        fact = await session.get(OrderFact, placed["id"])
    assert categories == [product.category]
    assert mine is not None
    assert fact is not None
    assert mine.category == product.category
    assert (mine.last_purchased_at, mine.quantity) == (fact.processed_at, 2)
    if mine.days_per_unit is not None:  # SQLite's julianday keeps milliseconds
        expected = fact.processed_at + timedelta(days=2 * mine.days_per_unit)
        assert mine.expected_run_out_at is not None
        assert abs(mine.expected_run_out_at - expected) < timedelta(seconds=1)


async def test_the_checkouts_sync_feeds_the_abandoned_checkout_rule(
    simulators: Simulators, synced: Services
) -> None:
    lookback = datetime.now(UTC) - timedelta(days=90)
    store = simulators.shopify.store
    expected = {
        c["id"]
        for c in store.checkouts
        if c["_created"] >= lookback + timedelta(hours=1)
    }
    async with synced.sessions() as session:
        stored = {
            row.checkout_id: row for row in await session.scalars(select(CheckoutFact))
        }
        orders = {
            (o.customer_id, o.processed_at)
            for o in await session.scalars(
                select(OrderFact).where(OrderFact.cancelled.is_(False))
            )
        }
        now = utcnow()
        _, page = await preview(
            session, {"abandonedCheckout": {"inLastDays": 30}}, now, 100, None
        )
    assert expected <= set(stored)
    assert expected
    left = {
        row.customer_id
        for row in stored.values()
        if row.completed_at is None
        and row.created_at >= now - timedelta(days=30)
        and not any(c == row.customer_id and at > row.created_at for c, at in orders)
    }
    assert {c.id for c in page.items} == left
    assert any(row.completed_at is not None for row in stored.values())
