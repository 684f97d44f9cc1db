"""Insights in the graph: ``Customer.traits``, ``Customer.rfm``, ``rfmSummary``,
segment previews, saved segments and their members; the filter's inputs are
in ``gateway.schema.segment_inputs``."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, cast

import strawberry
from strawberry.scalars import JSON

from connectors import models as canonical
from gateway.db import models
from gateway.insights import tables
from gateway.insights.segment_rules import is_dynamic
from gateway.insights.segments import member_cursor
from gateway.relay.pagination import Page
from gateway.resolvers import insights as resolve
from gateway.resolvers.context import Info
from gateway.schema.connections import Connection, Edge
from gateway.schema.orders import Money
from gateway.schema.segment_inputs import SegmentFilter, filter_json

if TYPE_CHECKING:
    from gateway.schema.customer import Customer

LazyCustomer = Annotated["Customer", strawberry.lazy("gateway.schema.customer")]


@strawberry.type(
    description="Facts computed from the customer's orders, tickets and visits"
    " (docs/segments.md), as of `computedAt`."
)
class CustomerTraits:
    lifetime_value: Money | None = strawberry.field(
        description="Order totals net of refunds, cancelled orders excluded. Null"
        " when the customer has no order at all (no currency to state it in)."
    )
    currency: str | None = strawberry.field(
        description="ISO 4217 code of the amounts; null when the customer has no"
        " order at all.",
        deprecation_reason="Use lifetimeValue.currencyCode.",
    )
    order_count: int = strawberry.field(
        description="Orders not cancelled, as of `computedAt`"
        " (`orders.totalCount` counts every order, now)."
    )
    average_order_value: Money | None = strawberry.field(
        description="lifetimeValue / orderCount; null when the customer has no"
        " order that was not cancelled."
    )
    first_order_at: datetime | None = strawberry.field(
        description="Null when the customer has no order."
    )
    last_order_at: datetime | None = strawberry.field(
        description="Null when the customer has no order."
    )
    average_days_between_orders: float | None = strawberry.field(
        description="Days; null when the customer has fewer than two orders."
    )
    favourite_category_by_quantity: str | None = strawberry.field(
        description="Product type bought in the most units; null when no line"
        " item has one."
    )
    favourite_category_by_spend: str | None = strawberry.field(
        description="Product type with the most spend; null when no line item has one."
    )
    categories_bought: list[str] = strawberry.field(
        description="Product types ever bought, alphabetical."
    )
    return_rate: float | None = strawberry.field(
        description="Share of orders with a return (0–1); null when the customer"
        " has no order."
    )
    predicted_next_order_at: datetime | None = strawberry.field(
        description="The last order plus the customer's own average interval"
        " between orders, else the shortest replenishment interval of the"
        " categories they bought;"
        " null when neither is known. May lie before `computedAt`: the"
        " customer is overdue (a reorder reminder's audience)."
    )
    open_tickets: int = strawberry.field(
        description="Tickets in NEW, OPEN, PENDING or HOLD."
    )
    ticket_count: int = strawberry.field(description="All tickets ever requested.")
    average_satisfaction: float | None = strawberry.field(
        description="Share of good ratings among good and bad ones (0–1); null"
        " when no ticket was rated."
    )
    last_seen_at: datetime | None = strawberry.field(
        description="The latest web event; null when none was recorded."
    )
    computed_at: datetime = strawberry.field(
        description="When these facts were computed (UTC)."
    )

    @classmethod
    def from_row(cls, row: tables.CustomerTraits) -> CustomerTraits:
        values = {
            f.name: getattr(row, f.name)
            for f in dataclasses.fields(cls)
            if f.name not in ("categories_bought", *_MONEY)
        }
        bought = sorted(filter(None, (row.categories or "").split("|")))
        return cls(
            **values,
            lifetime_value=_money(row.lifetime_value, row.currency),
            average_order_value=_money(row.average_order_value, row.currency),
            categories_bought=bought,
        )


_MONEY = ("lifetime_value", "average_order_value")


def _money(amount: Decimal | None, currency: str | None) -> Money | None:
    if amount is None or currency is None:
        return None
    return Money.of(canonical.Money(amount, currency))


@strawberry.type(
    description="Recency, frequency and monetary quintiles: 5 is best"
    " (docs/segments.md)."
)
class Rfm:
    recency: int = strawberry.field(description="1–5, from the last order's date.")
    frequency: int = strawberry.field(
        description="1–5, from the order count inside the RFM window."
    )
    monetary: int = strawberry.field(
        description="1–5, from the net spend inside the RFM window."
    )
    score: str = strawberry.field(description='R, F and M digits, e.g. "545".')
    segment: str = strawberry.field(
        description='The named segment, e.g. "Champions" (docs/segments.md).'
    )
    computed_at: datetime = strawberry.field(description="When scored (UTC).")


@strawberry.type(description="One RFM segment's size and revenue.")
class RfmSegmentSummary:
    segment: str = strawberry.field(description='e.g. "Champions".')
    customers: int = strawberry.field(description="Customers in the segment.")
    revenue: Decimal = strawberry.field(
        description="Net order totals inside the RFM window, a decimal string;"
        " summed as recorded, so a shop selling in several currencies adds"
        " unlike amounts."
    )


async def customer_traits(root: Customer, info: Info) -> CustomerTraits | None:
    row = await resolve.traits(info, root.id)
    return CustomerTraits.from_row(row) if row else None


async def customer_rfm(root: Customer, info: Info) -> Rfm | None:
    row = await resolve.customer_rfm(info, root.id)
    if row is None:
        return None
    return Rfm(
        recency=row.recency,
        frequency=row.frequency,
        monetary=row.monetary,
        score=f"{row.recency}{row.frequency}{row.monetary}",
        segment=row.segment,
        computed_at=row.computed_at,
    )


@strawberry.type(description="A member customer and its cursor.")
class SegmentMemberEdge(Edge[LazyCustomer]):
    pass


@strawberry.type(description="A page of a segment's members, by customer id.")
class SegmentMemberConnection(Connection[LazyCustomer]):
    edges: Sequence[SegmentMemberEdge] = strawberry.field(
        description="The page's members."
    )
    total_count: int = strawberry.field(description="Members in all.")


def _connection(
    kind: str, count: int, page: Page[models.Customer]
) -> SegmentMemberConnection:
    from gateway.schema.customer import Customer

    return SegmentMemberConnection.build(
        page.items,
        lambda row: member_cursor(kind, row.id),
        Customer.from_row,
        has_next=page.has_next,
        edge=SegmentMemberEdge,
        total_count=count,
    )


@strawberry.type(description="A named, stored SegmentFilter and its members.")
class SavedSegment:
    name: str = strawberry.field(description="Unique; at most 100 characters.")
    filter: JSON = strawberry.field(
        description="The SegmentFilter as saved (GraphQL names, no nulls)."
    )
    created_at: datetime = strawberry.field(description="When it was saved (UTC).")
    refreshed_at: datetime | None = strawberry.field(
        description="When the stored membership (entries and exits) was last"
        " computed; null when it never was."
    )
    dynamic: bool = strawberry.field(
        description="True when the filter counts days from now (lastDays,"
        " nextDays, inLastDays, withinDays, monthsAhead): its members then change"
        " as days pass, and `members` evaluates it when read."
    )
    _row: strawberry.Private[tables.Segment]

    @classmethod
    def from_row(cls, row: tables.Segment) -> SavedSegment:
        return cls(
            name=row.name,
            filter=cast(JSON, row.filter),
            created_at=row.created_at,
            refreshed_at=row.refreshed_at,
            dynamic=is_dynamic(row.filter),
            _row=row,
        )

    @strawberry.field(
        description="Members by customer id: a dynamic segment's evaluated now,"
        " another's as of the last refresh (which order webhooks keep current);"
        " `first` at most CG_MAX_PAGE_SIZE (100 by default). FORBIDDEN for a"
        " role that may not filter by a condition of the segment's filter (an"
        " analyst, a filter by city)."
    )
    async def members(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> SegmentMemberConnection:
        count, page = await resolve.members(info, self._row, first, after)
        return _connection(f"segment:{self._row.id}", count, page)


@strawberry.type
class InsightsQuery:
    @strawberry.field(description="Customers and revenue per RFM segment.")
    async def rfm_summary(self, info: Info) -> list[RfmSegmentSummary]:
        rows = await resolve.rfm_summary(info)
        return [
            RfmSegmentSummary(segment=s, customers=n, revenue=r) for s, n, r in rows
        ]

    @strawberry.field(
        description="Who a filter matches now, without saving it, by customer"
        " id; `first` at most CG_MAX_PAGE_SIZE (100 by default)."
    )
    async def segment_preview(
        self,
        info: Info,
        filter: SegmentFilter,
        first: int = 20,
        after: str | None = None,
    ) -> SegmentMemberConnection:
        count, page = await resolve.preview(info, filter_json(filter), first, after)
        return _connection("preview", count, page)

    @strawberry.field(description="Every saved segment, by name.")
    async def segments(self, info: Info) -> list[SavedSegment]:
        return [SavedSegment.from_row(r) for r in await resolve.all_segments(info)]

    @strawberry.field(description="A saved segment by name; NOT_FOUND if none.")
    async def segment(self, info: Info, name: str) -> SavedSegment:
        return SavedSegment.from_row(await resolve.segment(info, name))


@strawberry.type
class InsightsMutation:
    @strawberry.mutation(description="Save a filter as a segment; members fill now.")
    async def create_segment(
        self, info: Info, name: str, filter: SegmentFilter
    ) -> SavedSegment:
        row = await resolve.create_segment(info, name, filter_json(filter))
        return SavedSegment.from_row(row)

    @strawberry.mutation(
        description="Rename a saved segment and/or replace its filter; members"
        " who no longer match leave and new matches enter now (each recorded)."
        " NOT_FOUND for an unknown name, CONFLICT for a `newName` taken."
    )
    async def update_segment(
        self,
        info: Info,
        name: str,
        new_name: str | None = None,
        filter: SegmentFilter | None = None,
    ) -> SavedSegment:
        spec = None if filter is None else filter_json(filter)
        row = await resolve.update_segment(info, name, new_name, spec)
        return SavedSegment.from_row(row)

    @strawberry.mutation(
        description="Delete a saved segment and its stored members; returns its"
        " name. NOT_FOUND for an unknown name."
    )
    async def delete_segment(self, info: Info, name: str) -> str:
        return await resolve.delete_segment(info, name)
