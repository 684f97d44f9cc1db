"""Insights in the graph: ``Customer.traits``, ``Customer.rfm``, ``rfmSummary``,
segment previews, saved segments and their members."""

from __future__ import annotations

import dataclasses
import enum
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, cast

import strawberry
from strawberry import relay
from strawberry.scalars import JSON
from strawberry.utils.str_converters import to_camel_case

from gateway.context import Info
from gateway.db import models
from gateway.insights import tables
from gateway.insights.segments import member_cursor
from gateway.pagination import Page
from gateway.resolvers import insights as resolve
from gateway.schema.connections import page_info
from gateway.schema.crm import ConsentChannel, ConsentState

if TYPE_CHECKING:
    from gateway.schema.customer import Customer

LazyCustomer = Annotated["Customer", strawberry.lazy("gateway.schema.customer")]


@strawberry.type
class CustomerTraits:
    lifetime_value: Decimal = strawberry.field(description="Net of refunds.")
    currency: str | None
    order_count: int = strawberry.field(description="Orders not cancelled.")
    average_order_value: Decimal | None
    first_order_at: datetime | None
    last_order_at: datetime | None
    average_days_between_orders: float | None
    favourite_category_by_quantity: str | None
    favourite_category_by_spend: str | None
    categories_bought: list[str]
    return_rate: float | None = strawberry.field(
        description="Share of orders with a return (0–1)."
    )
    predicted_next_order_at: datetime | None = strawberry.field(
        description="Own average interval, else the category's replenishment."
    )
    open_tickets: int
    ticket_count: int
    average_satisfaction: float | None = strawberry.field(
        description="Share of good ratings among good and bad ones (0–1)."
    )
    last_seen_at: datetime | None
    computed_at: datetime

    @classmethod
    def from_row(cls, row: tables.CustomerTraits) -> CustomerTraits:
        values = {
            f.name: getattr(row, f.name)
            for f in dataclasses.fields(cls)
            if f.name != "categories_bought"
        }
        bought = sorted(filter(None, (row.categories or "").split("|")))
        return cls(**values, categories_bought=bought)


@strawberry.type
class Rfm:
    recency: int
    frequency: int
    monetary: int
    score: str = strawberry.field(description='R, F and M digits, e.g. "545".')
    segment: str
    computed_at: datetime


@strawberry.type
class RfmSegmentSummary:
    segment: str
    customers: int
    revenue: Decimal = strawberry.field(description="Inside the RFM window.")


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


@strawberry.input(description="Both bounds inclusive; either may be left out.")
class NumberRange:
    gte: float | None = None
    lte: float | None = None


@strawberry.input(description="Absolute bounds and/or days around now.")
class TimeRange:
    after: datetime | None = None
    before: datetime | None = None
    last_days: int | None = strawberry.field(default=None, description="Past N days.")
    next_days: int | None = strawberry.field(default=None, description="Next N days.")


@strawberry.input
class SegmentConsent:
    channel: ConsentChannel
    state: ConsentState | None = None


@strawberry.input(description="All given conditions hold; and/or/not combine.")
class SegmentFilter:
    and_: list[SegmentFilter] | None = strawberry.field(default=None, name="and")
    or_: list[SegmentFilter] | None = strawberry.field(default=None, name="or")
    not_: SegmentFilter | None = strawberry.field(default=None, name="not")
    lifetime_value: NumberRange | None = None
    order_count: NumberRange | None = None
    average_order_value: NumberRange | None = None
    average_days_between_orders: NumberRange | None = None
    return_rate: NumberRange | None = None
    satisfaction: NumberRange | None = None
    open_tickets: NumberRange | None = None
    ticket_count: NumberRange | None = None
    first_order_at: TimeRange | None = None
    last_order_at: TimeRange | None = None
    predicted_next_order_at: TimeRange | None = None
    last_seen_at: TimeRange | None = None
    rfm_segment_in: list[str] | None = None
    tags_any: list[str] | None = None
    tags_all: list[str] | None = None
    categories_any: list[str] | None = None
    categories_all: list[str] | None = None
    favourite_category: str | None = None
    favourite_category_by_spend: str | None = None
    consent: SegmentConsent | None = None
    country: str | None = None
    region: str | None = None
    city: str | None = None
    birth_month: int | None = None


def filter_json(value: object) -> Any:
    """The input as the JSON a saved segment stores (GraphQL names, no nulls)."""
    if isinstance(value, list):
        return [filter_json(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            to_camel_case(f.name.rstrip("_")): filter_json(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if getattr(value, f.name) is not None
        }
    return value


@strawberry.type
class SegmentMemberEdge:
    cursor: str
    node: LazyCustomer


@strawberry.type
class SegmentMemberConnection:
    total_count: int
    edges: list[SegmentMemberEdge]
    page_info: relay.PageInfo


def _connection(
    kind: str, count: int, page: Page[models.Customer]
) -> SegmentMemberConnection:
    from gateway.schema.customer import Customer

    edges = [
        SegmentMemberEdge(
            cursor=member_cursor(kind, row.id), node=Customer.from_row(row)
        )
        for row in page.items
    ]
    return SegmentMemberConnection(
        total_count=count,
        edges=edges,
        page_info=page_info(edges, has_next=page.has_next),
    )


@strawberry.type
class SavedSegment:
    name: str
    filter: JSON
    created_at: datetime
    refreshed_at: datetime | None
    _row: strawberry.Private[tables.Segment]

    @classmethod
    def from_row(cls, row: tables.Segment) -> SavedSegment:
        return cls(
            name=row.name,
            filter=cast(JSON, row.filter),
            created_at=row.created_at,
            refreshed_at=row.refreshed_at,
            _row=row,
        )

    @strawberry.field(description="Members by customer id, as of the last refresh.")
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

    @strawberry.field(description="Who a filter matches now, without saving it.")
    async def segment_preview(
        self,
        info: Info,
        filter: SegmentFilter,
        first: int = 20,
        after: str | None = None,
    ) -> SegmentMemberConnection:
        count, page = await resolve.preview(info, filter_json(filter), first, after)
        return _connection("preview", count, page)

    @strawberry.field
    async def segments(self, info: Info) -> list[SavedSegment]:
        return [SavedSegment.from_row(r) for r in await resolve.all_segments(info)]

    @strawberry.field
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
