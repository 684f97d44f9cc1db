"""Ecommerce reads: our customer id → Shopify link → the Shopify loaders.

Each returns ``None`` when Shopify is not configured or the customer has no
Shopify record, so the field is ``null`` rather than an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from connectors.models import Checkout, ExternalCustomer, Order, Return
from gateway.context import Info
from gateway.errors import BadUserInput
from gateway.loaders import ShopifyLoaders
from gateway.pagination import check_first, decode_cursor, encode_cursor

ORDERS = "orders"


@dataclass(frozen=True, slots=True)
class OrderPage:
    items: Sequence[Order]
    has_next: bool
    total: int


async def _link(info: Info, customer_id: int) -> tuple[ShopifyLoaders, str] | None:
    loaders = info.context.loaders.upstream.shopify
    if loaders is None:
        return None
    external_id: str | None = await loaders.id_by_customer.load(customer_id)
    return (loaders, external_id) if external_id else None


def order_cursor(order: Order) -> str:
    return encode_cursor(ORDERS, (order.processed_at.isoformat(), order.id))


def _sort_key(order: Order) -> tuple[str, str]:
    return (order.processed_at.isoformat(), order.id)


async def orders(
    info: Info, customer_id: int, first: int, after: str | None
) -> OrderPage | None:
    check_first(first, info.context.services.settings.max_page_size)
    start: tuple[str, str] | None = None
    if after is not None:
        key = decode_cursor(ORDERS, after)
        if len(key) != 2 or not all(isinstance(k, str) for k in key):
            raise BadUserInput("The cursor is not valid.", argument="after")
        start = (str(key[0]), str(key[1]))
    link = await _link(info, customer_id)
    if link is None:
        return None
    loaders, external_id = link
    placed: list[Order] = await loaders.orders_by_customer.load(external_id)
    newest_first = sorted(placed, key=_sort_key, reverse=True)
    if start is not None:
        newest_first = [o for o in newest_first if _sort_key(o) < start]
    return OrderPage(
        items=newest_first[:first],
        has_next=len(newest_first) > first,
        total=len(placed),
    )


async def returns(info: Info, customer_id: int) -> list[Return] | None:
    link = await _link(info, customer_id)
    if link is None:
        return None
    loaders, external_id = link
    placed: list[Order] = await loaders.orders_by_customer.load(external_id)
    found = [r for order in placed for r in order.returns]
    return sorted(
        found, key=lambda r: (r.created_at is None, r.created_at), reverse=True
    )


async def abandoned_checkouts(info: Info, customer_id: int) -> list[Checkout] | None:
    link = await _link(info, customer_id)
    if link is None:
        return None
    loaders, external_id = link
    checkouts: list[Checkout] = await loaders.checkouts_by_customer.load(external_id)
    return sorted(checkouts, key=lambda c: c.created_at, reverse=True)


async def shopify_customer(info: Info, customer_id: int) -> ExternalCustomer | None:
    link = await _link(info, customer_id)
    if link is None:
        return None
    loaders, external_id = link
    profile: ExternalCustomer | None = await loaders.customer_by_id.load(external_id)
    return profile
