"""RFM: recency, frequency and monetary quintiles, and the named segments.

The population is every customer with at least one order that was not
cancelled (``customer_traits.order_count > 0``). Recency is the last such
order ever (``last_order_at``); frequency and monetary count
only orders inside the window (``Settings.rfm_window_days``), so a customer
whose orders all predate it scores lowest on both. Scores are ``NTILE(5)``
(5 best) with the customer id breaking ties, which makes them deterministic
and identical on PostgreSQL and SQLite (3.28+ has window functions).

The segment comes from R and FM = round-half-up((F + M) / 2) through
``SEGMENT_MAP`` (documented in docs/segments.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, case, delete, exists, func, literal, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models import UTCDateTime
from gateway.insights.sql import excluded_all, held_to, upsert
from gateway.insights.tables import CustomerRfm, CustomerTraits, OrderFact

SEGMENTS = (
    "Champions",
    "Loyal Customers",
    "Potential Loyalists",
    "New Customers",
    "Promising",
    "Need Attention",
    "About to Sleep",
    "At Risk",
    "Can't Lose Them",
    "Hibernating",
    "Lost",
)

# Rows: recency 5..1; columns: FM 1..5.
_GRID = {
    5: ("New Customers", "Potential Loyalists", "Potential Loyalists", "Champions",
        "Champions"),
    4: ("Promising", "Potential Loyalists", "Potential Loyalists", "Loyal Customers",
        "Champions"),
    3: ("Promising", "About to Sleep", "Need Attention", "Loyal Customers",
        "Loyal Customers"),
    2: ("Hibernating", "Hibernating", "At Risk", "At Risk", "Can't Lose Them"),
    1: ("Lost", "Lost", "At Risk", "At Risk", "Can't Lose Them"),
}  # fmt: skip
SEGMENT_MAP: dict[tuple[int, int], str] = {
    (r, fm): name for r, row in _GRID.items() for fm, name in enumerate(row, 1)
}


def segment_of(recency: int, frequency: int, monetary: int) -> str:
    return SEGMENT_MAP[(recency, (frequency + monetary + 1) // 2)]


def _segment_case(r: Any, fm: Any) -> Any:
    cells: dict[str, list[int]] = {}
    for (rs, fms), name in SEGMENT_MAP.items():
        cells.setdefault(name, []).append(rs * 10 + fms)
    key = r * 10 + fm
    return case(*((key.in_(codes), name) for name, codes in cells.items()))


def _statement(dialect: str, now: datetime, window_days: int) -> Any:
    """Population and recency from ``customer_traits`` (``order_count`` and
    ``last_order_at`` count the same orders), frequency and monetary from the
    orders inside the window only: one aggregation of the recent orders
    instead of a second one of every order."""
    o, t = OrderFact, CustomerTraits
    start = now - timedelta(days=window_days)
    recent = (
        select(
            o.customer_id,
            func.count().label("n"),
            held_to(func.sum(o.total - o.refunded), CustomerRfm.revenue).label(
                "revenue"
            ),
        )
        .where(o.cancelled.is_(False), o.processed_at >= start)
        .group_by(o.customer_id)
        .subquery("w")
    )
    per_customer = (
        select(
            t.customer_id,
            t.last_order_at.label("last_at"),
            func.coalesce(recent.c.n, 0).label("n"),
            func.coalesce(recent.c.revenue, 0).label("revenue"),
        )
        .outerjoin(recent, recent.c.customer_id == t.customer_id)
        .where(t.order_count > 0)
        .subquery("pc")
    )
    pc = per_customer.c

    def tile(column: Any) -> Any:
        return func.ntile(5, type_=Integer).over(order_by=(column, pc.customer_id))

    scored = select(
        pc.customer_id,
        tile(pc.last_at).label("r"),
        tile(pc.n).label("f"),
        tile(pc.revenue).label("m"),
        pc.revenue,
    ).subquery("s")
    s = scored.c
    fm = (s.f + s.m + 1) // 2
    rows = select(
        s.customer_id,
        s.r,
        s.f,
        s.m,
        _segment_case(s.r, fm),
        s.revenue,
        literal(now, UTCDateTime()),
    ).where(true())  # SQLite: ON CONFLICT after WHERE
    names = ["customer_id", "recency", "frequency", "monetary", "segment"]
    statement = upsert(dialect, CustomerRfm.__table__).from_select(
        [*names, "revenue", "computed_at"], rows
    )
    return statement.on_conflict_do_update(
        index_elements=["customer_id"],
        set_=excluded_all(statement, {"customer_id"}),
    )


async def refresh_rfm(session: AsyncSession, now: datetime, window_days: int) -> None:
    """Recompute every RFM row (quintiles are relative: one customer's order
    moves the boundaries for all, so there is no per-customer refresh): an
    upsert in place, as for the traits, then the rows of customers who left
    the population are deleted. Reads the traits: run it after
    ``refresh_traits`` for everyone, in the same transaction."""
    dialect = (await session.connection()).dialect.name
    await session.execute(_statement(dialect, now, window_days))
    t = CustomerTraits
    await session.execute(
        delete(CustomerRfm).where(
            ~exists().where(t.customer_id == CustomerRfm.customer_id, t.order_count > 0)
        )
    )


async def rfm_summary(session: AsyncSession) -> list[tuple[str, int, Decimal]]:
    """``(segment, customers, revenue)`` for every segment, empty ones included."""
    t = CustomerRfm
    rows = await session.execute(
        select(t.segment, func.count(), func.coalesce(func.sum(t.revenue), 0)).group_by(
            t.segment
        )
    )
    found = {name: (int(n), Decimal(revenue)) for name, n, revenue in rows}
    return [(name, *found.get(name, (0, Decimal(0)))) for name in SEGMENTS]
