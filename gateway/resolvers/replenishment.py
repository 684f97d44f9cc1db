"""Replenishment reads and writes: a customer's products through a loader; the
operator's intervals through ``gateway.insights.catalogue`` in one
transaction, after which stored responses are dropped (many customers'
``replenishment`` changed)."""

from __future__ import annotations

from gateway.insights import catalogue
from gateway.insights.product_tables import Product
from gateway.insights.replenishment import Replenishment
from gateway.relay.pagination import check_first
from gateway.resolvers.context import Info

__all__ = [
    "Replenishment",
    "customer_replenishment",
    "set_category_interval",
    "set_product_interval",
]


async def customer_replenishment(
    info: Info, customer_id: int, first: int
) -> list[Replenishment]:
    check_first(first, info.context.services.settings.max_page_size)
    rows: list[
        Replenishment
    ] = await info.context.loaders.replenishment_by_customer.load(customer_id)
    return rows[:first]


async def set_product_interval(info: Info, sku: str, days: int | None) -> Product:
    async with info.context.services.sessions() as session, session.begin():
        product = await catalogue.set_product_interval(session, sku, days)
    await info.context.services.forget_responses()
    return product


async def set_category_interval(info: Info, category: str, days: int | None) -> str:
    async with info.context.services.sessions() as session, session.begin():
        found = await catalogue.set_category_interval(session, category, days)
    await info.context.services.forget_responses()
    return found
