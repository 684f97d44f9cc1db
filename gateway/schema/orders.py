"""The ecommerce side of a customer (Shopify): orders, line items, refunds,
returns, abandoned checkouts and the store's own customer record."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import strawberry

from connectors import models as canonical
from gateway.auth.pii import pii_field
from gateway.auth.policy import PiiKind
from gateway.resolvers import orders as resolve
from gateway.resolvers.context import Info
from gateway.schema.connections import Connection
from gateway.schema.descriptions import role_null, scope_missing

if TYPE_CHECKING:
    from gateway.schema.customer import Customer


FORBIDDEN = " " + scope_missing("Shopify")


@strawberry.type(
    description="An amount in one currency: the shape of every per-customer amount."
)
class Money:
    amount: Decimal = strawberry.field(
        description="A decimal string with the currency's fixed number of digits"
        ' (ISO 4217): "12.50" USD, "1200" JPY, "1.250" KWD. Never a float: parse'
        " it as a decimal."
    )
    currency_code: str = strawberry.field(
        description='ISO 4217 code, e.g. "USD": the shop\'s currency of the amount.'
    )

    @classmethod
    def of(cls, money: canonical.Money) -> Money:
        return cls(amount=money.fixed(), currency_code=money.currency)


@strawberry.type(description="One product line of an order or a checkout.")
class LineItem:
    id: strawberry.ID = strawberry.field(description="The Shopify line item gid.")
    title: str | None = strawberry.field(
        description="The product's title when bought; null when Shopify has none"
        " (an abandoned checkout's line may lack one)."
    )
    quantity: int = strawberry.field(description="Units bought.")
    sku: str | None = strawberry.field(
        description="Stock keeping unit; null when the variant has none."
    )
    variant_title: str | None = strawberry.field(
        description='The variant, e.g. "Blue / XL"; null when the product has'
        " only its default variant or the variant was deleted."
    )
    unit_price: Money = strawberry.field(
        description="Price of one unit when bought, before discounts."
    )
    item: strawberry.Private[canonical.LineItem | canonical.LineSummary]
    """A summary when the query shows no line total (``resolve.orders``)."""

    @strawberry.field(
        description="The line's price after the discounts on the line itself, not"
        " those on the order or from discount codes (Shopify's discountedTotalSet)."
    )
    def total(self) -> Money:
        if not isinstance(self.item, canonical.LineItem):
            raise RuntimeError(f"line item {self.id} was read without its total")
        return Money.of(self.item.total)

    @strawberry.field(
        description="The product type; null when the product was deleted." + FORBIDDEN
    )
    def category(self) -> str | None:
        resolve.readable("category", self.item.unavailable)
        return self.item.category

    @strawberry.field(
        description="The product's vendor; null when the product was deleted."
        + FORBIDDEN
    )
    def vendor(self) -> str | None:
        resolve.readable("vendor", self.item.unavailable)
        return self.item.vendor

    @classmethod
    def of(cls, item: canonical.LineItem | canonical.LineSummary) -> LineItem:
        return cls(
            id=strawberry.ID(item.id),
            title=item.title,
            quantity=item.quantity,
            sku=item.sku or None,
            variant_title=item.variant_title,
            unit_price=Money.of(item.unit_price),
            item=item,
        )


@strawberry.type(description="Money given back on an order.")
class Refund:
    id: strawberry.ID = strawberry.field(description="The Shopify refund gid.")
    created_at: datetime | None = strawberry.field(
        description="When it was refunded (UTC); null when Shopify does not say"
        " (its Refund.createdAt is nullable)."
    )
    note: str | None = pii_field(
        PiiKind.TEXT,
        description="The staff's reason. Null when none was written. "
        + role_null(PiiKind.TEXT),
    )
    total: Money = strawberry.field(description="Amount refunded.")
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


@strawberry.type(description="A return of items of an order.")
class Return:
    id: strawberry.ID = strawberry.field(description="The Shopify return gid.")
    order_id: strawberry.ID = strawberry.field(
        description="The gid of the order it returns items of."
    )
    name: str = strawberry.field(description='The return\'s number, e.g. "#1001-R1".')
    status: str = strawberry.field(
        description="As Shopify reports it: REQUESTED, OPEN, CLOSED, DECLINED or"
        " CANCELED."
    )
    created_at: datetime | None = strawberry.field(
        description="When it was requested (UTC); null when Shopify did not say."
    )
    quantity: int = strawberry.field(description="Units returned, over all lines.")

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


@strawberry.type(description="A Shopify order of the customer.")
class Order:
    id: strawberry.ID = strawberry.field(description="The Shopify gid.")
    name: str = strawberry.field(description='The order number, e.g. "#1001".')
    created_at: datetime = strawberry.field(
        description="When it was created in Shopify (UTC)."
    )
    processed_at: datetime = strawberry.field(
        description="When it was placed (UTC); differs from createdAt for imports."
    )
    cancelled_at: datetime | None = strawberry.field(
        description="Null when the order was not cancelled."
    )
    financial_status: str | None = strawberry.field(
        description="Shopify's displayFinancialStatus: PENDING, AUTHORIZED, PAID,"
        " PARTIALLY_PAID, PARTIALLY_REFUNDED, REFUNDED, VOIDED or EXPIRED. Null"
        " when Shopify reports none."
    )
    fulfillment_status: str = strawberry.field(
        description="Shopify's displayFulfillmentStatus: UNFULFILLED, FULFILLED,"
        " PARTIALLY_FULFILLED, IN_PROGRESS, ON_HOLD, OPEN, SCHEDULED…"
    )
    total: Money = strawberry.field(description="What the customer paid, all in.")
    parts: strawberry.Private[canonical.Order | None]
    """``None`` when read as a summary: only for queries that ask none of the
    fields below but ``lineItems`` (``gateway.resolvers.orders.depth``)."""
    lines: strawberry.Private[tuple[canonical.LineSummary, ...] | None]
    """A summary's line items, when its query shows them but no line total."""
    customer_id: strawberry.Private[int]

    @strawberry.field(description="Line items after discounts, before shipping, tax.")
    def subtotal(self) -> Money:
        return Money.of(self._parts().subtotal)

    @strawberry.field(description="Sum of the refunds; zero when none.")
    def total_refunded(self) -> Money:
        return Money.of(self._parts().total_refunded)

    @strawberry.field(description="In the order's own order.")
    def line_items(self) -> list[LineItem]:
        items = self.lines if self.parts is None else self.parts.line_items
        if items is None:
            raise RuntimeError(f"order {self.id} was read without its line items")
        return [LineItem.of(i) for i in items]

    @strawberry.field(description="Oldest first; empty when none.")
    def refunds(self) -> list[Refund]:
        return [Refund.of(r, self.customer_id) for r in self._parts().refunds]

    @strawberry.field(description="Oldest first; empty when none." + FORBIDDEN)
    def returns(self) -> list[Return] | None:
        parts = self._parts()
        resolve.readable("returns", parts.unavailable)
        return [Return.of(r) for r in parts.returns]

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
            lines=None if isinstance(order, canonical.Order) else order.line_items,
            customer_id=customer_id,
        )


@strawberry.type(description="A page of orders, newest first.")
class OrderConnection(Connection[Order]):
    total_count: int = strawberry.field(
        description="The customer's order count in Shopify (numberOfOrders),"
        " cancelled orders included; every one of them can be paged to."
        " `traits.orderCount` leaves the cancelled ones out."
    )


@strawberry.type(description="A checkout the customer started and left.")
class AbandonedCheckout:
    id: strawberry.ID = strawberry.field(description="The Shopify checkout gid.")
    created_at: datetime = strawberry.field(description="When it was started (UTC).")
    completed_at: datetime | None = strawberry.field(
        description="When it was recovered; null when it is still abandoned."
    )
    url: str | None = pii_field(
        PiiKind.URL,
        description="The recovery link. Null when Shopify has none. "
        + role_null(PiiKind.URL, "query string removed"),
    )
    total: Money = strawberry.field(description="The cart's total.")
    line_items: list[LineItem] = strawberry.field(description="The cart's lines.")
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


@strawberry.type(description="The store's own record of the customer.")
class ShopifyCustomer:
    id: strawberry.ID = strawberry.field(description="The Shopify customer gid.")
    amount_spent: Money | None = strawberry.field(
        description="Lifetime spend as Shopify counts it; null when Shopify"
        " reports none."
    )
    number_of_orders: int | None = strawberry.field(
        description="Null when Shopify reports no count."
    )
    created_at: datetime | None = strawberry.field(
        description="When the store's record was created; null when unknown."
    )
    tags: list[str] = strawberry.field(description="The store's tags, as in Shopify.")


async def customer_orders(
    root: Customer, info: Info, first: int = 10, after: str | None = None
) -> OrderConnection | None:
    """The customer's Shopify orders, newest first; `first` at most
    CG_MAX_PAGE_SIZE (100 by default)."""
    page = await resolve.orders(info, root.id, first, after)
    if page is None:
        return None
    return OrderConnection.build(
        enumerate(page.items, page.offset),
        lambda pair: resolve.order_cursor(pair[1], position=pair[0]),
        lambda pair: Order.of(pair[1], root.id),
        has_next=page.has_next,
        has_previous=after is not None,
        total_count=page.total,
    )


async def customer_returns(root: Customer, info: Info) -> list[Return] | None:
    """Returns of the customer's recent orders (CG_SHOPIFY_ORDER_HISTORY),
    newest first; null with UPSTREAM_FORBIDDEN without Shopify's read_returns."""
    returns = await resolve.returns(info, root.id)
    return None if returns is None else [Return.of(r) for r in returns]


async def customer_abandoned_checkouts(
    root: Customer, info: Info
) -> list[AbandonedCheckout] | None:
    """Checkouts left unpaid, newest first."""
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
