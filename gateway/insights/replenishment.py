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
each ordered group, those whose rank r satisfies n ≤ 2r ≤ n + 2.

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

**Per customer** (``refresh_replenishment``): the last purchase of each SKU
(the latest order, its units: the row with no next one, so both window
functions read ``order_item_facts`` in the order of its ``(customer_id, sku,
processed_at)`` index, with no sort), and ``expected_run_out_at`` = that purchase +
days per unit × units. Rows are replaced for everyone (full refresh), for some
customers (an order webhook) or for some SKUs (an interval set by the
operator): one ``DELETE`` and one ``INSERT … SELECT`` whatever the size.
Dates are absolute, so a saved filter compares them with the time it is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from gateway.db.models import UTCDateTime
from gateway.insights.product_tables import (
    Basis,
    CustomerReplenishment,
    LearnedInterval,
    Level,
    Product,
)
from gateway.insights.sql import add_days, analyze, days_between
from gateway.insights.tables import CategoryReplenishment, OrderItemFact

MIN_REPEATS = 3
"""Repeats a learned interval needs: fewer fall back to the next rule."""
MIN_GAP_DAYS = 1.0
"""Purchases closer than this are one restock (a second order the same
day), not a repeat."""
ANALYZE_AFTER = 10_000


def _repeats() -> Any:
    """``(sku, per_unit)``: each repeat's days per unit bought."""
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
        select(
            lagged.c.sku,
            (gap / lagged.c.previous_quantity).label("per_unit"),
        )
        .where(lagged.c.previous_at.is_not(None), gap >= MIN_GAP_DAYS)
        .subquery("repeats")
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
        .subquery("ranked")
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
    columns = ["level", "key", "days", "samples", "computed_at"]
    repeats = _repeats()
    by_category = repeats.join(Product, Product.sku == repeats.c.sku)
    await session.execute(delete(LearnedInterval))
    for level, key, source in (
        (Level.PRODUCT, repeats.c.sku, repeats),
        (Level.CATEGORY, Product.category, by_category),
    ):
        rows = _medians(level, key, repeats.c.per_unit, source, now)
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


def _scope(customers: Sequence[int] | None, skus: Sequence[str] | None) -> list[Any]:
    terms: list[Any] = []
    if customers is not None:
        terms.append(OrderItemFact.customer_id.in_(list(customers)))
    if skus is not None:
        terms.append(OrderItemFact.sku.in_(list(skus)))
    return terms


def _rows(now: datetime, scope: list[Any]) -> Select[Any]:
    i = OrderItemFact
    ranked = (
        select(
            i.customer_id,
            i.sku,
            i.processed_at,
            i.quantity,
            func.lead(i.processed_at)
            .over(partition_by=(i.customer_id, i.sku), order_by=i.processed_at)
            .label("next_at"),
        )
        .where(*scope)
        .subquery("last")
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
            Product.category,
            last.processed_at,
            last.quantity,
            days,
            case(
                (days.is_not(None), add_days(last.processed_at, days * last.quantity)),
                else_=None,
            ),
            basis,
            confidence,
            literal(now, UTCDateTime()),
        )
        .select_from(source)
        .where(last.next_at.is_(None))
    )


async def refresh_replenishment(
    session: AsyncSession,
    now: datetime,
    *,
    customers: Sequence[int] | None = None,
    skus: Sequence[str] | None = None,
) -> None:
    """Recompute ``customer_replenishment`` for ``customers``, ``skus`` (either
    ``None``: all), inside the caller's transaction."""
    if (customers is not None and not customers) or (skus is not None and not skus):
        return
    c = CustomerReplenishment
    gone: list[Any] = []
    if customers is not None:
        gone.append(c.customer_id.in_(list(customers)))
    if skus is not None:
        gone.append(c.sku.in_(list(skus)))
    await session.execute(delete(c).where(*gone))
    columns = [
        "customer_id", "sku", "category", "last_purchased_at", "quantity",
        "days_per_unit", "expected_run_out_at", "basis", "confidence", "computed_at",
    ]  # fmt: skip
    added = await session.execute(
        insert(c).from_select(columns, _rows(now, _scope(customers, skus)))
    )
    if customers is None and max(getattr(added, "rowcount", 0), 0) >= ANALYZE_AFTER:
        await analyze(session, CustomerReplenishment)
