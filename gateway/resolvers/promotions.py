"""Promo codes: a customer's codes through a loader; ``createPromoCode``
through ``gateway.promotions`` (which checks, reserves, asks Shopify and
announces the change), after which this request's loaders forget the customer."""

from __future__ import annotations

from gateway.promotions import service
from gateway.promotions.tables import PromoCode
from gateway.relay.ids import customer_pk
from gateway.relay.pagination import check_first
from gateway.resolvers.context import Info

__all__ = ["PromoCode", "create_promo_code", "customer_promo_codes"]


async def customer_promo_codes(
    info: Info, customer_id: int, first: int
) -> list[PromoCode]:
    check_first(first, info.context.services.settings.max_page_size)
    rows: list[PromoCode] = await info.context.loaders.promo_codes_by_customer.load(
        customer_id
    )
    return rows[:first]


async def create_promo_code(
    info: Info,
    customer_id: str,
    percentage: int,
    category: str | None,
    collection: str | None,
    valid_days: int,
) -> PromoCode:
    pk = customer_pk(customer_id)
    row = await service.create_promo_code(
        info.context.services,
        pk,
        percentage,
        category=category,
        collection=collection,
        valid_days=valid_days,
    )
    info.context.loaders.forget_customer(pk)
    return row
