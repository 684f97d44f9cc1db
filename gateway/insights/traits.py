"""Traits per customer, computed in SQL from the local facts.

Three statements per refresh, however many customers are in scope:

1. orders, help desk and analytics: one ``INSERT … SELECT`` over ``customers``
   joined to per-customer aggregates of ``order_facts``, ``engagement_facts``
   and ``tracked_events``;
2. categories: favourite by quantity and by spend (``ROW_NUMBER`` per
   customer), every category bought, and the replenishment-based prediction
   for customers with a single order;
3. (before both) deleting the rows in scope, so a refresh is a replacement.

``scope`` limits everything to some customers: the incremental refresh after
an order webhook runs the same SQL for one id.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Float,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import ColumnElement

from gateway.db import models
from gateway.insights.sql import add_days, days_between
from gateway.insights.tables import (
    CategoryReplenishment,
    CustomerTraits,
    EngagementFact,
    OrderFact,
    OrderLineFact,
)

Scope = Sequence[int] | None


def _in_scope(column: Any, scope: Scope) -> list[ColumnElement[bool]]:
    return [] if scope is None else [column.in_(list(scope))]


def _later(a: Any, b: Any) -> ColumnElement[Any]:
    """The later of two nullable timestamps (no portable GREATEST)."""
    return case((a.is_(None), b), (b.is_(None), a), (a > b, a), else_=b)


def _orders_statement(now: datetime, scope: Scope) -> Any:
    o = OrderFact
    orders = (
        select(
            o.customer_id,
            func.sum(o.total - o.refunded).label("ltv"),
            func.count().label("n"),
            func.max(o.currency).label("currency"),
            func.min(o.processed_at).label("first_at"),
            func.max(o.processed_at).label("last_at"),
            func.sum(case((o.returned, 1), else_=0)).label("returned"),
        )
        .where(o.cancelled.is_(False), *_in_scope(o.customer_id, scope))
        .group_by(o.customer_id)
        .subquery("o")
    )
    t = models.TrackedEvent
    seen = (
        select(t.customer_id, func.max(t.occurred_at).label("seen_at"))
        .where(t.customer_id.is_not(None), *_in_scope(t.customer_id, scope))
        .group_by(t.customer_id)
        .subquery("t")
    )
    e, c = EngagementFact, models.Customer
    interval = case(
        (
            orders.c.n > 1,
            days_between(orders.c.last_at, orders.c.first_at) / (orders.c.n - 1),
        ),
        else_=None,
    )
    rated = e.good_ratings + e.bad_ratings
    select_rows = (
        select(
            c.id,
            func.coalesce(orders.c.ltv, 0),
            orders.c.currency,
            func.coalesce(orders.c.n, 0),
            orders.c.ltv / orders.c.n,
            orders.c.first_at,
            orders.c.last_at,
            interval,
            cast(orders.c.returned, Float) / orders.c.n,
            case((orders.c.n > 1, add_days(orders.c.last_at, interval)), else_=None),
            func.coalesce(e.open_tickets, 0),
            func.coalesce(e.ticket_count, 0),
            case((rated > 0, cast(e.good_ratings, Float) / rated), else_=None),
            _later(e.last_seen_at, seen.c.seen_at),
            literal(now, models.UTCDateTime()),
        )
        .select_from(c)
        .outerjoin(orders, orders.c.customer_id == c.id)
        .outerjoin(e, e.customer_id == c.id)
        .outerjoin(seen, seen.c.customer_id == c.id)
        .where(*_in_scope(c.id, scope))
    )
    tr = CustomerTraits
    columns = [
        tr.customer_id, tr.lifetime_value, tr.currency, tr.order_count,
        tr.average_order_value, tr.first_order_at, tr.last_order_at,
        tr.average_days_between_orders, tr.return_rate, tr.predicted_next_order_at,
        tr.open_tickets, tr.ticket_count, tr.average_satisfaction, tr.last_seen_at,
        tr.computed_at,
    ]  # fmt: skip
    return insert(tr).from_select([col.key for col in columns], select_rows)


def _categories_statement(scope: Scope) -> Any:
    line = OrderLineFact
    r = CategoryReplenishment
    per_category = (
        select(
            line.customer_id,
            line.category,
            r.days,
            func.row_number()
            .over(
                partition_by=line.customer_id,
                order_by=(func.sum(line.quantity).desc(), line.category),
            )
            .label("by_quantity"),
            func.row_number()
            .over(
                partition_by=line.customer_id,
                order_by=(func.sum(line.spend).desc(), line.category),
            )
            .label("by_spend"),
        )
        .outerjoin(r, r.category == line.category)
        .where(*_in_scope(line.customer_id, scope))
        .group_by(line.customer_id, line.category, r.days)
        .subquery("pc")
    )
    pc = per_category.c
    per_customer = (
        select(
            pc.customer_id,
            func.max(case((pc.by_quantity == 1, pc.category))).label("fav_q"),
            func.max(case((pc.by_spend == 1, pc.category))).label("fav_s"),
            func.aggregate_strings(pc.category, "|").label("categories"),
            func.min(pc.days).label("replenish_days"),
        )
        .group_by(pc.customer_id)
        .subquery("cc")
    )
    tr = CustomerTraits
    cc = per_customer.c
    return (
        update(tr)
        .where(tr.customer_id == cc.customer_id)
        .values(
            favourite_category_by_quantity=cc.fav_q,
            favourite_category_by_spend=cc.fav_s,
            categories=cc.categories,
            predicted_next_order_at=func.coalesce(
                tr.predicted_next_order_at,
                case(
                    (
                        and_(
                            cc.replenish_days.is_not(None),
                            tr.last_order_at.is_not(None),
                        ),
                        add_days(tr.last_order_at, cc.replenish_days),
                    ),
                    else_=None,
                ),
            ),
        )
    )


async def refresh_traits(
    session: AsyncSession, now: datetime, scope: Scope = None
) -> None:
    """Recompute the traits of ``scope`` (every customer when ``None``) inside
    the caller's transaction."""
    if scope is not None and not scope:
        return
    await session.execute(
        delete(CustomerTraits).where(*_in_scope(CustomerTraits.customer_id, scope))
    )
    await session.execute(_orders_statement(now, scope))
    await session.execute(_categories_statement(scope))
