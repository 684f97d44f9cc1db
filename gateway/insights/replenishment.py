"""Per-product replenishment: how long a product lasts, and when each
customer's last purchase of it runs out (docs/segments.md, "Replenishment").

**Learning** (``learn_intervals``, in a full refresh). A *repeat* is two
consecutive purchases of one SKU by one customer at least ``MIN_GAP_DAYS``
apart; its value is the days between them divided by the units bought the
first time (two jars of cream last twice as long as one). A product's
interval is the median of its repeats across customers, a category's the
median of the repeats of all its products; either needs ``MIN_REPEATS``
repeats, else it is not learned. The median is computed with window
functions (no ``percentile_cont`` on SQLite): the middle one or two values of
each ordered group, those whose rank r satisfies n ≤ 2r ≤ n + 2. One
statement reads the repeats once (a CTE) for both levels.

**Which interval applies**, most specific first, the operator's word before
what was learned at the same level:

====================  =================================================  ==========
basis                 days one unit lasts                                confidence
====================  =================================================  ==========
``PRODUCT_OVERRIDE``  ``products.override_days``                         1.0
``PRODUCT_HISTORY``   the product's learned median (n repeats)           n / (n + 3)
``CATEGORY_OVERRIDE`` ``category_replenishment.days``                    0.5
``CATEGORY_HISTORY``  the category's learned median (n repeats)          n / (n + 3) / 2
``NONE``              none: no date                                      null
====================  =================================================  ==========

The product's own history beats a category's configured days: the point of
learning per product is that a 26-day shoe habit says nothing about a 90-day
cream of the same shopper, nor one cream about another of its category.

**Per customer** (``replenishment_rows``): the last purchase of each SKU (the
latest order, its units) and ``expected_run_out_at`` = that purchase + days
per unit × units, computed when read from ``order_item_facts`` and the few
rows of the interval tables. Nothing per customer is stored: an order webhook
or an interval set through the API changes every date it touches at once,
and a full refresh writes ~40 learned rows rather than one row per customer
and product (materialised, 6,000,000 rows took 149 s of a 1,000,000-customer
refresh; read, a product's last purchases take a fraction of a second through
``order_item_facts``' ``(sku, customer_id, processed_at)`` index, in the order
its window needs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Row,
    Select,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from gateway.db.models import UTCDateTime
from gateway.insights.product_tables import Basis, LearnedInterval, Level, Product
from gateway.insights.sql import add_days, days_between
from gateway.insights.tables import CategoryReplenishment, OrderItemFact

MIN_REPEATS = 3
"""Repeats a learned interval needs: fewer fall back to the next rule."""
MIN_GAP_DAYS = 1.0
"""Purchases closer than this are one restock (a second order the same
day), not a repeat."""


def _repeats() -> Any:
    """``(sku, per_unit)``: each repeat's days per unit bought, read in the
    order of the ``(customer_id, sku, processed_at)`` index."""
    i = OrderItemFact
    by, order = (i.customer_id, i.sku), (i.processed_at,)
    lagged = select(
        i.sku,
        i.processed_at,
        func.lag(i.processed_at)
        .over(partition_by=by, order_by=order)
        .label("previous_at"),
        func.lag(i.quantity)
        .over(partition_by=by, order_by=order)
        .label("previous_quantity"),
    ).subquery("lagged")
    gap = days_between(lagged.c.processed_at, lagged.c.previous_at)
    return (
        select(lagged.c.sku, (gap / lagged.c.previous_quantity).label("per_unit"))
        .where(lagged.c.previous_at.is_not(None), gap >= MIN_GAP_DAYS)
        .cte("repeats")
    )


def _medians(
    level: Level, key: Any, value: Any, source: Any, now: datetime
) -> Select[Any]:
    """Rows of ``learned_intervals``: the median ``value`` per ``key``."""
    ranked = (
        select(
            key.label("key"),
            value.label("value"),
            func.row_number().over(partition_by=key, order_by=value).label("rank"),
            func.count().over(partition_by=key).label("n"),
        )
        .select_from(source)
        .where(key.is_not(None))
        .subquery(f"ranked_{level.value}")
    )
    r = ranked.c
    return (
        select(
            literal(level.value),
            r.key,
            func.avg(r.value),
            func.max(r.n),
            literal(now, UTCDateTime()),
        )
        .where(2 * r.rank >= r.n, 2 * r.rank <= r.n + 2, r.n >= MIN_REPEATS)
        .group_by(r.key)
    )


async def learn_intervals(session: AsyncSession, now: datetime) -> None:
    """Replace ``learned_intervals`` with the medians of today's facts."""
    repeats = _repeats()
    by_category = repeats.join(Product, Product.sku == repeats.c.sku)
    rows = union_all(
        _medians(Level.PRODUCT, repeats.c.sku, repeats.c.per_unit, repeats, now),
        _medians(
            Level.CATEGORY, Product.category, repeats.c.per_unit, by_category, now
        ),
    )
    columns = ["level", "key", "days", "samples", "computed_at"]
    await session.execute(delete(LearnedInterval))
    await session.execute(insert(LearnedInterval).from_select(columns, rows))


def _chosen() -> tuple[Any, Any, Any, list[tuple[Any, Any]]]:
    """The days per unit, the basis and the confidence, as SQL ``CASE``s over
    ``products``, the learned rows and ``category_replenishment``; and the
    outer joins they need."""
    p, r = Product, CategoryReplenishment
    mine, theirs = aliased(LearnedInterval), aliased(LearnedInterval)
    joins = [
        (mine, and_(mine.level == Level.PRODUCT.value, mine.key == p.sku)),
        (r, r.category == p.category),
        (theirs, and_(theirs.level == Level.CATEGORY.value, theirs.key == p.category)),
    ]

    def share(samples: Any) -> ColumnElement[float]:
        shared: ColumnElement[float] = cast(samples, Float) / (samples + MIN_REPEATS)
        return shared

    rules: list[tuple[ColumnElement[bool], Any, Basis, Any]] = [
        (p.override_days.is_not(None), p.override_days, Basis.PRODUCT_OVERRIDE, 1.0),
        (mine.days.is_not(None), mine.days, Basis.PRODUCT_HISTORY, share(mine.samples)),
        (r.days.is_not(None), r.days, Basis.CATEGORY_OVERRIDE, 0.5),
        (
            theirs.days.is_not(None),
            theirs.days,
            Basis.CATEGORY_HISTORY,
            share(theirs.samples) / 2,
        ),
    ]
    days = case(*((when, cast(d, Float)) for when, d, _, _ in rules), else_=None)
    basis = case(
        *((when, literal(b.value)) for when, _, b, _ in rules),
        else_=literal(Basis.NONE.value),
    )
    confidence = case(*((when, cast(c, Float)) for when, _, _, c in rules), else_=None)
    return days, basis, confidence, joins


def replenishment_rows(
    *,
    customers: Sequence[int] | None = None,
    sku: str | None = None,
    category: str | None = None,
) -> Any:
    """A subquery of each customer's last purchase per SKU and when it runs
    out (columns as ``Replenishment``'s fields), for some ``customers``, one
    ``sku``, the SKUs of one ``category`` (each ``None``: all)."""
    i = OrderItemFact
    scope: list[Any] = []
    if customers is not None:
        scope.append(i.customer_id.in_(list(customers)))
    if sku is not None:
        scope.append(i.sku == sku)
    if category is not None:
        scope.append(i.sku.in_(select(Product.sku).where(Product.category == category)))
    ranked = (
        select(
            i.customer_id,
            i.sku,
            i.processed_at,
            i.quantity,
            func.lead(i.processed_at)
            .over(partition_by=(i.sku, i.customer_id), order_by=i.processed_at)
            .label("next_at"),
        )
        .where(*scope)
        .subquery("purchases")
    )
    last = ranked.c
    days, basis, confidence, joins = _chosen()
    source: Any = ranked.outerjoin(Product, Product.sku == last.sku)
    for table, on in joins:
        source = source.outerjoin(table, on)
    return (
        select(
            last.customer_id,
            last.sku,
            func.coalesce(Product.title, last.sku).label("title"),
            Product.category,
            Product.override_days,
            last.processed_at.label("last_purchased_at"),
            last.quantity,
            days.label("days_per_unit"),
            case(
                (days.is_not(None), add_days(last.processed_at, days * last.quantity)),
                else_=None,
            ).label("expected_run_out_at"),
            basis.label("basis"),
            confidence.label("confidence"),
        )
        .select_from(source)
        .where(last.next_at.is_(None))
        .subquery("replenishment")
    )


@dataclass(frozen=True, slots=True)
class Replenishment:
    """One product a customer bought: the last purchase and when it runs out."""

    customer_id: int
    sku: str
    title: str
    category: str | None
    override_days: int | None
    last_purchased_at: datetime
    quantity: int
    days_per_unit: float | None
    expected_run_out_at: datetime | None
    basis: Basis
    confidence: float | None

    @classmethod
    def of(cls, row: Row[Any]) -> Replenishment:
        values = row._asdict()
        return cls(**{**values, "basis": Basis(values["basis"])})


async def replenishment_of(
    session: AsyncSession, customers: Sequence[int]
) -> list[Replenishment]:
    """The products of ``customers``, by customer, the soonest to run out
    first, those without a date last, then by SKU."""
    rows = replenishment_rows(customers=customers)
    found = await session.execute(
        select(rows).order_by(
            rows.c.customer_id,
            rows.c.expected_run_out_at.is_(None),
            rows.c.expected_run_out_at,
            rows.c.sku,
        )
    )
    return [Replenishment.of(row) for row in found]
