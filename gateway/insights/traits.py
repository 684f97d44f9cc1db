"""Traits per customer, computed in SQL from the local facts.

One statement per refresh, however many customers are in scope: an
``INSERT … SELECT … ON CONFLICT DO UPDATE`` (every customer has a row, so
there is nothing to delete; a deleted customer's row goes by cascade) over
``customers`` left-joined to per-customer aggregates, each computed once in
its own sub-query and joined by hash or merge, never correlated:

* ``order_facts``: lifetime value, counts, first and last order, return rate;
* ``order_line_facts``: favourite category by quantity and by spend (the
  first by name among the customer's largest sums), every category bought,
  and the shortest replenishment interval, which predicts the next order of a
  customer with a single order;
* ``engagement_facts`` and ``tracked_events``: tickets, satisfaction, last seen.

Updating in place rather than deleting and re-inserting matters on PostgreSQL
at a million rows: an update that keeps ``customer_id`` runs no foreign-key
check, and one that keeps the indexed columns (most rows, from one refresh to
the next) is a HOT update that touches no index, in the free space that
``fillfactor`` 50 (migration 0006) leaves on each page.

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
    func,
    literal,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import ColumnElement

from gateway.db import models
from gateway.insights.sql import (
    add_days,
    days_between,
    excluded_all,
    held_to,
    upsert,
)
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


def _orders(scope: Scope) -> Any:
    o = OrderFact
    return (
        select(
            o.customer_id,
            held_to(
                func.sum(o.total - o.refunded), CustomerTraits.lifetime_value
            ).label("ltv"),
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


def _last_seen(scope: Scope) -> Any:
    t = models.TrackedEvent
    return (
        select(t.customer_id, func.max(t.occurred_at).label("seen_at"))
        .where(t.customer_id.is_not(None), *_in_scope(t.customer_id, scope))
        .group_by(t.customer_id)
        .subquery("t")
    )


def _categories(scope: Scope) -> Any:
    """Favourites by quantity and by spend, every category bought, and the
    shortest replenishment interval among them, one row per customer.

    The lines are summed per (customer, category) in the order of their
    covering index; each sum is set beside the customer's largest (a window
    over the customer alone, which needs no sort: the sums arrive grouped by
    customer), and a favourite is the first category, by name, whose sum is
    the largest. The few replenishment rows join last, by a nested loop that
    keeps that order, so the final grouping streams too."""
    line = OrderLineFact
    r = CategoryReplenishment
    sums = (
        select(
            line.customer_id,
            line.category,
            func.sum(line.quantity).label("quantity"),
            func.sum(line.spend).label("spend"),
        )
        .where(*_in_scope(line.customer_id, scope))
        .group_by(line.customer_id, line.category)
        .subquery("s")
    )
    s = sums.c
    with_tops = select(
        s.customer_id,
        s.category,
        s.quantity,
        s.spend,
        func.max(s.quantity).over(partition_by=s.customer_id).label("top_quantity"),
        func.max(s.spend).over(partition_by=s.customer_id).label("top_spend"),
    ).subquery("pc")
    pc = with_tops.c
    return (
        select(
            pc.customer_id,
            func.min(case((pc.quantity == pc.top_quantity, pc.category))).label(
                "fav_q"
            ),
            func.min(case((pc.spend == pc.top_spend, pc.category))).label("fav_s"),
            func.aggregate_strings(pc.category, "|").label("categories"),
            func.min(r.days).label("replenish_days"),
        )
        .select_from(with_tops.outerjoin(r, r.category == pc.category))
        .group_by(pc.customer_id)
        .subquery("cc")
    )


def _statement(dialect: str, now: datetime, scope: Scope) -> Any:
    orders, seen, cc = _orders(scope), _last_seen(scope), _categories(scope)
    e, c = EngagementFact, models.Customer
    interval = case(
        (
            orders.c.n > 1,
            days_between(orders.c.last_at, orders.c.first_at) / (orders.c.n - 1),
        ),
        else_=None,
    )
    predicted = case(
        (orders.c.n > 1, add_days(orders.c.last_at, interval)),
        (
            and_(cc.c.replenish_days.is_not(None), orders.c.last_at.is_not(None)),
            add_days(orders.c.last_at, cc.c.replenish_days),
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
            cc.c.fav_q,
            cc.c.fav_s,
            cc.c.categories,
            cast(orders.c.returned, Float) / orders.c.n,
            predicted,
            func.coalesce(e.open_tickets, 0),
            func.coalesce(e.ticket_count, 0),
            case((rated > 0, cast(e.good_ratings, Float) / rated), else_=None),
            _later(e.last_seen_at, seen.c.seen_at),
            literal(now, models.UTCDateTime()),
        )
        .select_from(c)
        .outerjoin(orders, orders.c.customer_id == c.id)
        .outerjoin(cc, cc.c.customer_id == c.id)
        .outerjoin(e, e.customer_id == c.id)
        .outerjoin(seen, seen.c.customer_id == c.id)
        .where(true(), *_in_scope(c.id, scope))  # SQLite: ON CONFLICT after WHERE
    )
    tr = CustomerTraits
    columns = [
        tr.customer_id, tr.lifetime_value, tr.currency, tr.order_count,
        tr.average_order_value, tr.first_order_at, tr.last_order_at,
        tr.average_days_between_orders, tr.favourite_category_by_quantity,
        tr.favourite_category_by_spend, tr.categories, tr.return_rate,
        tr.predicted_next_order_at, tr.open_tickets, tr.ticket_count,
        tr.average_satisfaction, tr.last_seen_at, tr.computed_at,
    ]  # fmt: skip
    statement = upsert(dialect, tr.__table__).from_select(
        [col.key for col in columns], select_rows
    )
    return statement.on_conflict_do_update(
        index_elements=["customer_id"],
        set_=excluded_all(statement, {"customer_id"}),
    )


async def refresh_traits(
    session: AsyncSession, now: datetime, scope: Scope = None
) -> None:
    """Recompute the traits of ``scope`` (every customer when ``None``) inside
    the caller's transaction."""
    if scope is not None and not scope:
        return
    dialect = (await session.connection()).dialect.name
    await session.execute(_statement(dialect, now, scope))
