"""Abandoned checkouts kept locally, for the segment rule ``abandonedCheckout``.

Shopify's ``abandonedCheckouts`` cannot be filtered by customer (its search
knows ``created_at``, ``updated_at``, ``status``, ``recovery_state``,
``email_state`` and ``id``: https://shopify.dev/docs/api/admin-graphql/latest/queries/abandonedCheckouts,
/work/shared/upstream-apis.md §1.6), so ``sync_checkouts`` reads the store's
recent ones once (``ShopifyConnector.checkout_lookback``, 90 days) and keeps
those of linked customers. Upserts by checkout gid are idempotent: a recovered
checkout gets its ``completed_at`` on the next sync.
"""

from __future__ import annotations

from sqlalchemy import select

from connectors.models import Checkout
from connectors.shopify.client import ShopifyConnector
from gateway.db import models
from gateway.db.column_limits import check_rows
from gateway.insights.order_facts import BATCH, Sessions
from gateway.insights.sql import excluded_all, upsert
from gateway.insights.tables import CheckoutFact


async def _linked(sessions: Sessions) -> dict[str, int]:
    """Every Shopify customer gid we link, to our customer id."""
    async with sessions() as session:
        rows = await session.execute(
            select(models.Identity.external_id, models.Identity.customer_id).where(
                models.Identity.source == "shopify"
            )
        )
        return {gid: customer_id for gid, customer_id in rows}


async def sync_checkouts(sessions: Sessions, connector: ShopifyConnector) -> int:
    """Copy the store's recent checkouts of linked customers; returns how many."""
    linked = await _linked(sessions)
    if not linked:
        return 0
    found = await connector.abandoned_checkouts_by_customers(list(linked))
    rows = [
        _row(linked[gid], checkout)
        for gid, checkouts in found.items()
        for checkout in checkouts
    ]
    for start in range(0, len(rows), BATCH):
        await _upsert(sessions, rows[start : start + BATCH])
    return len(rows)


def _row(customer_id: int, checkout: Checkout) -> dict[str, object]:
    return {
        "checkout_id": checkout.id,
        "customer_id": customer_id,
        "created_at": checkout.created_at,
        "completed_at": checkout.completed_at,
    }


async def _upsert(sessions: Sessions, rows: list[dict[str, object]]) -> None:
    check_rows(CheckoutFact.__table__, rows)
    async with sessions() as session, session.begin():
        dialect = (await session.connection()).dialect.name
        statement = upsert(dialect, CheckoutFact.__table__)
        statement = statement.on_conflict_do_update(
            index_elements=["checkout_id"],
            set_=excluded_all(statement, {"checkout_id"}),
        )
        await session.execute(statement, rows)
