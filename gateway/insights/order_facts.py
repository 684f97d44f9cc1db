"""The local store of order facts, kept in step with the store's orders.

Two writers feed it: ``customer-graph insights sync-orders`` (linked customers
in batches through ``ShopifyConnector.orders_by_customers``) and the Shopify
order webhooks (one order at a time). Both go through ``upsert_order_facts``,
which is idempotent: an order is keyed by its gid, its row is overwritten and
its category and product lines are replaced (a cancelled order keeps none:
nothing was bought), so re-delivered webhooks and repeated syncs
converge on the same rows on SQLite and PostgreSQL alike.

Every SKU a line names is kept in the catalogue (``products``) with its title
and category. A webhook's REST order has no product type (Shopify's REST line
items carry none), so a line without a category takes its SKU's category from
the catalogue, as the last sync saw it, before it falls back to
``Uncategorised``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.models import Order
from connectors.shopify.client import ShopifyConnector
from gateway.db import models
from gateway.db.column_limits import check_rows
from gateway.insights.product_tables import Product
from gateway.insights.sql import excluded_all, upsert
from gateway.insights.tables import OrderFact, OrderItemFact, OrderLineFact

Sessions = async_sessionmaker[AsyncSession]
UNCATEGORISED = "Uncategorised"
BATCH = 100


def _fact(customer_id: int, order: Order) -> dict[str, Any]:
    return {
        "order_id": order.id,
        "customer_id": customer_id,
        "processed_at": order.processed_at,
        "total": order.total.amount,
        "currency": order.total.currency,
        "refunded": order.total_refunded.amount,
        "cancelled": order.cancelled_at is not None,
        "returned": bool(order.returns),
        "item_count": sum(item.quantity for item in order.line_items),
    }


def _lines(
    customer_id: int, order: Order, known: dict[str, str]
) -> list[dict[str, Any]]:
    by_category: dict[str, list[Any]] = defaultdict(lambda: [0, Decimal(0)])
    for item in order.line_items:
        category = item.category or known.get(item.sku or "") or UNCATEGORISED
        entry = by_category[category]
        entry[0] += item.quantity
        entry[1] += item.total.amount
    return [
        {
            "order_id": order.id,
            "category": category,
            "customer_id": customer_id,
            "quantity": quantity,
            "spend": spend,
        }
        for category, (quantity, spend) in sorted(by_category.items())
    ]


def _items(customer_id: int, order: Order) -> list[dict[str, Any]]:
    """Units per SKU; lines without a SKU (a deleted variant) have none."""
    by_sku: dict[str, int] = defaultdict(int)
    for item in order.line_items:
        if item.sku and item.quantity > 0:
            by_sku[item.sku] += item.quantity
    return [
        {
            "order_id": order.id,
            "sku": sku,
            "customer_id": customer_id,
            "processed_at": order.processed_at,
            "quantity": quantity,
        }
        for sku, quantity in sorted(by_sku.items())
    ]


def _catalogue(orders: Sequence[Order]) -> list[dict[str, Any]]:
    """Each SKU's title and category as the latest order names them."""
    found: dict[str, dict[str, Any]] = {}
    for order in sorted(orders, key=lambda o: o.processed_at):
        for item in order.line_items:
            if item.sku:
                seen = found.get(item.sku, {})
                category = item.category or seen.get("category")
                found[item.sku] = {
                    "sku": item.sku,
                    "title": item.title,
                    "category": category,
                }
    return [found[sku] for sku in sorted(found)]


async def _keep_products(
    session: AsyncSession, dialect: str, products: list[dict[str, Any]]
) -> dict[str, str]:
    """Upsert the catalogue rows (a category already known stays when a line
    names none); returns the categories of the SKUs whose lines lack one."""
    if not products:
        return {}
    check_rows(Product.__table__, products)
    table = Product.__table__
    statement = upsert(dialect, table)
    statement = statement.on_conflict_do_update(
        index_elements=["sku"],
        set_={
            "title": statement.excluded.title,
            "category": func.coalesce(statement.excluded.category, table.c.category),
        },
    )
    await session.execute(statement, products)
    missing = [p["sku"] for p in products if p["category"] is None]
    if not missing:
        return {}
    rows = await session.execute(
        select(Product.sku, Product.category).where(
            Product.sku.in_(missing), Product.category.is_not(None)
        )
    )
    return {sku: category for sku, category in rows if category}


async def upsert_order_facts(
    session: AsyncSession, customer_id: int, orders: Sequence[Order]
) -> None:
    """Write ``orders`` as facts of ``customer_id`` inside the caller's
    transaction (the webhook handler's, so the facts commit with the delivery)."""
    if not orders:
        return
    dialect = (await session.connection()).dialect.name
    statement = upsert(dialect, OrderFact.__table__)
    statement = statement.on_conflict_do_update(
        index_elements=["order_id"], set_=excluded_all(statement, {"order_id"})
    )
    facts = [_fact(customer_id, o) for o in orders]
    check_rows(OrderFact.__table__, facts)
    bought = [o for o in orders if o.cancelled_at is None]
    items = [item for o in bought for item in _items(customer_id, o)]
    check_rows(OrderItemFact.__table__, items)
    known = await _keep_products(session, dialect, _catalogue(orders))
    await session.execute(statement, facts)
    ids = [o.id for o in orders]
    await session.execute(delete(OrderLineFact).where(OrderLineFact.order_id.in_(ids)))
    await session.execute(delete(OrderItemFact).where(OrderItemFact.order_id.in_(ids)))
    lines = [line for o in bought for line in _lines(customer_id, o, known)]
    if lines:
        check_rows(OrderLineFact.__table__, lines)
        await session.execute(insert(OrderLineFact), lines)
    if items:
        await session.execute(insert(OrderItemFact), items)


async def upsert_orders(
    sessions: Sessions, customer_id: int, orders: Sequence[Order]
) -> None:
    """``upsert_order_facts`` in a transaction of its own."""
    async with sessions() as session, session.begin():
        await upsert_order_facts(session, customer_id, orders)


FULL_HISTORY = 25_000
"""Orders read per customer for the facts: all of them (Shopify's own ceiling
on deep pagination), not the recent window the graph reads."""


async def sync_orders(
    sessions: Sessions,
    connector: ShopifyConnector,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Copy the orders of every Shopify-linked customer, ``BATCH`` customers per
    upstream round; returns how many orders were written."""
    written = 0
    after = 0
    while True:
        async with sessions() as session:
            links = (
                await session.execute(
                    select(models.Identity.customer_id, models.Identity.external_id)
                    .where(
                        models.Identity.source == "shopify",
                        models.Identity.customer_id > after,
                    )
                    .order_by(models.Identity.customer_id)
                    .limit(BATCH)
                )
            ).all()
        if not links:
            return written
        orders = await connector.orders_by_customers(
            [gid for _, gid in links], limit=FULL_HISTORY
        )
        async with sessions() as session, session.begin():
            for customer_id, gid in links:
                found = orders.get(gid, [])
                await upsert_order_facts(session, customer_id, found)
                written += len(found)
        after = links[-1][0]
        if progress:
            progress(len(links))
