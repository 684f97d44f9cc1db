"""The ecommerce side of a customer (Shopify): orders, line items, refunds,
returns, abandoned checkouts and the store's own customer record."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import strawberry
from strawberry import relay

from connectors import models as canonical
from gateway.auth.pii import pii_field
from gateway.auth.policy import PiiKind
from gateway.context import Info
from gateway.resolvers import orders as resolve
from gateway.schema.connections import page_info

if TYPE_CHECKING:
    from gateway.schema.customer import Customer


@strawberry.type
class Money:
    amount: Decimal = strawberry.field(description="Exact decimal, as a string.")
    currency_code: str

    @classmethod
    def of(cls, money: canonical.Money) -> Money:
        return cls(amount=money.amount, currency_code=money.currency)


@strawberry.type
class LineItem:
    id: strawberry.ID
    title: str
    quantity: int
    sku: str | None
    variant_title: str | None
    category: str | None = strawberry.field(
        description="The product type; null when the product was deleted."
    )
    vendor: str | None
    unit_price: Money
    total: Money

    @classmethod
    def of(cls, item: canonical.LineItem) -> LineItem:
        return cls(
            id=strawberry.ID(item.id),
            title=item.title,
            quantity=item.quantity,
            sku=item.sku or None,
            variant_title=item.variant_title,
            category=item.category,
            vendor=item.vendor,
            unit_price=Money.of(item.unit_price),
            total=Money.of(item.total),
        )


@strawberry.type
class Refund:
    id: strawberry.ID
    created_at: datetime
    note: str | None = pii_field(PiiKind.TEXT)
    total: Money
    customer_id: strawberry.Private[int]

    @classmethod
    def of(cls, refund: canonical.Refund, customer_id: int) -> Refund:
        return cls(
            id=strawberry.ID(refund.id),
            created_at=refund.created_at,
            note=refund.note,
            total=Money.of(refund.total),
            customer_id=customer_id,
        )


@strawberry.type
class Return:
    id: strawberry.ID
    order_id: strawberry.ID
    name: str
    status: str
    created_at: datetime | None
    quantity: int

    @classmethod
    def of(cls, ret: canonical.Return) -> Return:
        return cls(
            id=strawberry.ID(ret.id),
            order_id=strawberry.ID(ret.order_id),
            name=ret.name,
            status=ret.status,
            created_at=ret.created_at,
            quantity=ret.quantity,
        )


@strawberry.type
class Order:
    id: strawberry.ID = strawberry.field(description="The Shopify gid.")
    name: str
    created_at: datetime
    processed_at: datetime
    cancelled_at: datetime | None
    financial_status: str | None
    fulfillment_status: str
    total: Money
    parts: strawberry.Private[canonical.Order | None]
    """``None`` when read as a summary: only for queries that ask none of the
    fields below (``gateway.resolvers.orders.PARTS``)."""
    customer_id: strawberry.Private[int]

    @strawberry.field
    def subtotal(self) -> Money:
        return Money.of(self._parts().subtotal)

    @strawberry.field
    def total_refunded(self) -> Money:
        return Money.of(self._parts().total_refunded)

    @strawberry.field
    def line_items(self) -> list[LineItem]:
        return [LineItem.of(i) for i in self._parts().line_items]

    @strawberry.field
    def refunds(self) -> list[Refund]:
        return [Refund.of(r, self.customer_id) for r in self._parts().refunds]

    @strawberry.field
    def returns(self) -> list[Return]:
        return [Return.of(r) for r in self._parts().returns]

    def _parts(self) -> canonical.Order:
        if self.parts is None:
            raise RuntimeError(f"order {self.id} was read without its parts")
        return self.parts

    @classmethod
    def of(
        cls, order: canonical.Order | canonical.OrderSummary, customer_id: int
    ) -> Order:
        return cls(
            id=strawberry.ID(order.id),
            name=order.name,
            created_at=order.created_at,
            processed_at=order.processed_at,
            cancelled_at=order.cancelled_at,
            financial_status=order.financial_status,
            fulfillment_status=order.fulfillment_status,
            total=Money.of(order.total),
            parts=order if isinstance(order, canonical.Order) else None,
            customer_id=customer_id,
        )


@strawberry.type
class OrderEdge:
    cursor: str
    node: Order


@strawberry.type
class OrderConnection:
    edges: list[OrderEdge]
    page_info: relay.PageInfo
    total_count: int = strawberry.field(
        description="The customer's order count in Shopify (numberOfOrders); every"
        " one of them can be paged to."
    )


@strawberry.type
class AbandonedCheckout:
    id: strawberry.ID
    created_at: datetime
    completed_at: datetime | None = strawberry.field(description="Set once recovered.")
    url: str | None = pii_field(PiiKind.URL)
    total: Money
    line_items: list[LineItem]
    customer_id: strawberry.Private[int]

    @classmethod
    def of(cls, checkout: canonical.Checkout, customer_id: int) -> AbandonedCheckout:
        return cls(
            id=strawberry.ID(checkout.id),
            created_at=checkout.created_at,
            completed_at=checkout.completed_at,
            url=checkout.url,
            total=Money.of(checkout.total),
            line_items=[LineItem.of(i) for i in checkout.line_items],
            customer_id=customer_id,
        )


@strawberry.type
class ShopifyCustomer:
    id: strawberry.ID
    amount_spent: Money | None
    number_of_orders: int | None
    created_at: datetime | None
    tags: list[str]


async def customer_orders(
    root: Customer, info: Info, first: int = 10, after: str | None = None
) -> OrderConnection | None:
    """The customer's Shopify orders, newest first; null without a Shopify link."""
    page = await resolve.orders(info, root.id, first, after)
    if page is None:
        return None
    edges = [
        OrderEdge(
            cursor=resolve.order_cursor(o, page.offset + i), node=Order.of(o, root.id)
        )
        for i, o in enumerate(page.items)
    ]
    return OrderConnection(
        edges=edges,
        page_info=page_info(
            edges, has_next=page.has_next, has_previous=after is not None
        ),
        total_count=page.total,
    )


async def customer_returns(root: Customer, info: Info) -> list[Return] | None:
    """Returns of the customer's recent orders (CG_SHOPIFY_ORDER_HISTORY),
    newest first."""
    returns = await resolve.returns(info, root.id)
    return None if returns is None else [Return.of(r) for r in returns]


async def customer_abandoned_checkouts(
    root: Customer, info: Info
) -> list[AbandonedCheckout] | None:
    checkouts = await resolve.abandoned_checkouts(info, root.id)
    if checkouts is None:
        return None
    return [AbandonedCheckout.of(c, root.id) for c in checkouts]


async def customer_shopify(root: Customer, info: Info) -> ShopifyCustomer | None:
    """The store's own record of this customer (lifetime spend, order count)."""
    profile = await resolve.shopify_customer(info, root.id)
    if profile is None:
        return None
    return ShopifyCustomer(
        id=strawberry.ID(profile.external_id),
        amount_spent=Money.of(profile.amount_spent) if profile.amount_spent else None,
        number_of_orders=profile.number_of_orders,
        created_at=profile.created_at,
        tags=list(profile.tags),
    )
