"""The ``SegmentFilter`` input and its parts, and the JSON a saved segment
stores for it (``filter_json``: GraphQL names, no nulls).

What each condition means is ``gateway.insights.segment_filter`` and
``gateway.insights.segment_rules``; docs/segments.md lists them with examples.
A rule's fields that compare with personal data (a birthday's day) are in
``gateway.auth.policy.COMPARED`` under their own coordinates
(``BirthdayRule.withinDays``), so the gate and the readers of saved segments
hold each role to them.
"""

from __future__ import annotations

import dataclasses
import enum
from datetime import datetime
from typing import Any

import strawberry
from strawberry.utils.str_converters import to_camel_case

from gateway.auth.policy import PiiKind
from gateway.schema.crm import ConsentChannel, ConsentState
from gateway.schema.descriptions import role_refused


@strawberry.input(description="Both bounds inclusive; either may be left out.")
class NumberRange:
    gte: float | None = strawberry.field(default=None, description="At least.")
    lte: float | None = strawberry.field(default=None, description="At most.")


@strawberry.input(
    description="Absolute bounds and/or days around now; every given bound holds."
)
class TimeRange:
    after: datetime | None = strawberry.field(
        default=None, description="At or after this time."
    )
    before: datetime | None = strawberry.field(
        default=None, description="Before this time."
    )
    last_days: int | None = strawberry.field(default=None, description="Past N days.")
    next_days: int | None = strawberry.field(default=None, description="Next N days.")


@strawberry.input(description="Customers with a given consent.")
class SegmentConsent:
    channel: ConsentChannel = strawberry.field(description="The channel.")
    state: ConsentState | None = strawberry.field(
        default=None, description="The state it must be in; any state when left out."
    )


@strawberry.input(
    description="A birthday (month and day, UTC calendar days) coming up; both"
    " fields given: both hold. Someone born on 29 February counts on the 28th"
    " in other years."
)
class BirthdayRule:
    within_days: int | None = strawberry.field(
        default=None,
        description="From today to N days ahead, 0–365 (0: today). "
        + role_refused(PiiKind.BIRTH_DATE),
    )
    months_ahead: int | None = strawberry.field(
        default=None,
        description="In the calendar month N months from now, 0–11 (1: next"
        " month). " + role_refused(PiiKind.BIRTH_MONTH),
    )


@strawberry.input(
    description="A span of time, both ends inclusive; an end left out is open."
)
class DateTimeRange:
    from_: datetime | None = strawberry.field(
        default=None,
        name="from",
        description="Start; at most `to`, else BAD_USER_INPUT.",
    )
    to: datetime | None = strawberry.field(default=None, description="End.")


@strawberry.input(
    description="Bought, in orders not cancelled: a SKU, a category (both: that"
    " SKU in that category), or anything when neither is given; every given"
    " field holds. A SKU or category no order ever had is BAD_USER_INPUT."
)
class PurchasedRule:
    sku: str | None = strawberry.field(default=None, description="A product's SKU.")
    category: str | None = strawberry.field(
        default=None, description="A product type, e.g. Outerwear."
    )
    between: DateTimeRange | None = strawberry.field(
        default=None, description="Ordered within this span."
    )
    in_last_days: int | None = strawberry.field(
        default=None, description="Ordered in the last N days, 1–36,500."
    )
    min_quantity: int | None = strawberry.field(
        default=None,
        description="At least this many units in all within the span (1 when"
        " left out).",
    )


@strawberry.input(
    description="A product bought runs out (`Customer.replenishment`"
    " `expectedRunOutAt`) from now to `withinDays` days ahead. A SKU or category"
    " no order ever had is BAD_USER_INPUT."
)
class ReplenishmentDueRule:
    sku: str | None = strawberry.field(
        default=None, description="That product; any when left out."
    )
    category: str | None = strawberry.field(
        default=None, description="A product of that type; any when left out."
    )
    within_days: int = strawberry.field(description="Days ahead, 0–365.")


@strawberry.input(
    description="Left a Shopify checkout unpaid and has not ordered since"
    " (`customer-graph insights sync-orders` copies checkouts)."
)
class AbandonedCheckoutRule:
    in_last_days: int = strawberry.field(
        description="The checkout was started in the last N days, 1–36,500."
    )


@strawberry.input(
    description="Sent a `Product Viewed` event (Segment's e-commerce spec, or"
    " its v1 name `Viewed Product`) to the ingest API, naming this SKU and/or"
    " category in its properties; every given field holds. A SKU or category no"
    " order ever had is BAD_USER_INPUT."
)
class ViewedProductRule:
    sku: str | None = strawberry.field(
        default=None, description="The event's `sku` property."
    )
    category: str | None = strawberry.field(
        default=None, description="The event's `category` property."
    )
    in_last_days: int | None = strawberry.field(
        default=None, description="In the last N days, 1–36,500; ever when left out."
    )


@strawberry.input(description="All given conditions hold; and/or/not combine.")
class SegmentFilter:
    and_: list[SegmentFilter] | None = strawberry.field(
        default=None, name="and", description="Every one of these filters holds."
    )
    or_: list[SegmentFilter] | None = strawberry.field(
        default=None, name="or", description="At least one of these filters holds."
    )
    not_: SegmentFilter | None = strawberry.field(
        default=None, name="not", description="This filter does not hold."
    )
    lifetime_value: NumberRange | None = strawberry.field(
        default=None, description="Net order totals, in the customer's currency."
    )
    order_count: NumberRange | None = strawberry.field(
        default=None, description="Orders not cancelled."
    )
    average_order_value: NumberRange | None = strawberry.field(
        default=None, description="CustomerTraits.averageOrderValue."
    )
    average_days_between_orders: NumberRange | None = strawberry.field(
        default=None, description="Days between orders."
    )
    return_rate: NumberRange | None = strawberry.field(
        default=None, description="Share of orders with a return, 0–1."
    )
    satisfaction: NumberRange | None = strawberry.field(
        default=None, description="Share of good ratings, 0–1."
    )
    open_tickets: NumberRange | None = strawberry.field(
        default=None, description="Tickets in NEW, OPEN, PENDING or HOLD."
    )
    ticket_count: NumberRange | None = strawberry.field(
        default=None, description="All tickets."
    )
    first_order_at: TimeRange | None = strawberry.field(
        default=None, description="When the first order was placed."
    )
    last_order_at: TimeRange | None = strawberry.field(
        default=None, description="When the last order was placed."
    )
    predicted_next_order_at: TimeRange | None = strawberry.field(
        default=None, description="CustomerTraits.predictedNextOrderAt."
    )
    last_seen_at: TimeRange | None = strawberry.field(
        default=None, description="The latest web event."
    )
    rfm_segment_in: list[str] | None = strawberry.field(
        default=None,
        description="In one of these RFM segments, e.g. Champions; an empty"
        " list matches no customer.",
    )
    tags_any: list[str] | None = strawberry.field(
        default=None,
        description="Has at least one of these tags; an empty list matches no"
        " customer.",
    )
    tags_all: list[str] | None = strawberry.field(
        default=None,
        description="Has all of these tags; an empty list matches every customer.",
    )
    categories_any: list[str] | None = strawberry.field(
        default=None,
        description="Bought from at least one of these product types; an empty"
        " list matches no customer.",
    )
    categories_all: list[str] | None = strawberry.field(
        default=None,
        description="Bought from all of these product types; an empty list"
        " matches every customer.",
    )
    favourite_category: str | None = strawberry.field(
        default=None, description="Favourite product type by quantity."
    )
    favourite_category_by_spend: str | None = strawberry.field(
        default=None, description="Favourite product type by spend."
    )
    consent: SegmentConsent | None = strawberry.field(
        default=None, description="Has this consent."
    )
    country: str | None = strawberry.field(
        default=None,
        description="ISO 3166-1 alpha-2 code of any address, e.g. DE. "
        + role_refused(PiiKind.ADDRESS),
    )
    region: str | None = strawberry.field(
        default=None,
        description="Region of any address. " + role_refused(PiiKind.ADDRESS),
    )
    city: str | None = strawberry.field(
        default=None,
        description="City of any address. " + role_refused(PiiKind.ADDRESS),
    )
    birth_month: int | None = strawberry.field(
        default=None, description="1–12. " + role_refused(PiiKind.BIRTH_MONTH)
    )
    birthday: BirthdayRule | None = strawberry.field(
        default=None, description="A birthday coming up (relative to now)."
    )
    purchased: PurchasedRule | None = strawberry.field(
        default=None, description="Bought a product or category, when and how much."
    )
    replenishment_due: ReplenishmentDueRule | None = strawberry.field(
        default=None, description="A product bought runs out soon (relative to now)."
    )
    abandoned_checkout: AbandonedCheckoutRule | None = strawberry.field(
        default=None, description="Left a checkout unpaid recently."
    )
    viewed_product: ViewedProductRule | None = strawberry.field(
        default=None, description="Viewed a product (web events of the ingest API)."
    )


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
            if getattr(value, f.name) not in (None, strawberry.UNSET)
        }
    return value
