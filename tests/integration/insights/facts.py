"""Small fixed data sets for the insights tests, written through the same
functions the connectors' data goes through (canonical orders → order facts)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import count

from sqlalchemy import insert

from connectors.models import LineItem, Money, Order, Return
from gateway.db import models
from gateway.insights.order_facts import upsert_orders
from gateway.insights.tables import EngagementFact
from gateway.runtime.services import Services

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
_ids = count(1)


def order(
    at: datetime,
    lines: list[tuple[str, int, str]] | list[tuple[str, int, str, str]],
    *,
    refunded: str = "0",
    cancelled: bool = False,
    returned: bool = False,
    total: str | None = None,
) -> Order:
    """An order of ``(category, quantity, spend)`` lines, or ``(category,
    quantity, spend, sku)``; total = sum of spends."""
    n = next(_ids)
    gid = f"gid://shopify/Order/{n}"
    spend = sum((Decimal(line[2]) for line in lines), Decimal(0))
    amount = Decimal(total) if total is not None else spend
    items = tuple(
        LineItem(
            id=f"{gid}/{i}",
            title=f"{line[0]} {line[3]}" if len(line) > 3 else line[0],
            quantity=line[1],
            unit_price=Money(Decimal(line[2]) / line[1], "USD"),
            total=Money(Decimal(line[2]), "USD"),
            sku=line[3] if len(line) > 3 else None,
            category=line[0],
        )
        for i, line in enumerate(lines)
    )
    return Order(
        id=gid,
        customer_id=None,
        name=f"#{n}",
        created_at=at,
        processed_at=at,
        total=Money(amount, "USD"),
        subtotal=Money(amount, "USD"),
        total_refunded=Money(Decimal(refunded), "USD"),
        financial_status="paid",
        fulfillment_status="fulfilled",
        cancelled_at=at if cancelled else None,
        line_items=items,
        returns=(Return(f"{gid}/r", gid, "R1", "closed", at, 1),) if returned else (),
    )


async def add_customer(
    db: Services,
    email: str,
    *,
    birth: date | None = None,
    tags: tuple[str, ...] = (),
    city: str | None = None,
    region: str | None = None,
    country: str = "US",
    email_consent: str | None = None,
    sms_consent: str | None = None,
) -> int:
    async with db.sessions() as session, session.begin():
        customer = models.Customer(email=email, birth_date=birth, first_name="Ada")
        session.add(customer)
        await session.flush()
        cid = customer.id
        for tag in tags:
            session.add(models.Tag(customer_id=cid, name=tag))
        if city or region:
            session.add(
                models.Address(
                    customer_id=cid,
                    kind="shipping",
                    city=city,
                    region=region,
                    country=country,
                    is_default=True,
                )
            )
        for channel, state in (("email", email_consent), ("sms", sms_consent)):
            if state:
                session.add(
                    models.Consent(
                        customer_id=cid, channel=channel, state=state, source="test"
                    )
                )
    return cid


async def add_orders(db: Services, customer_id: int, *orders: Order) -> None:
    await upsert_orders(db.sessions, customer_id, list(orders))


async def add_engagement(
    db: Services,
    customer_id: int,
    *,
    open_tickets: int = 0,
    tickets: int = 0,
    good: int = 0,
    bad: int = 0,
    last_seen: datetime | None = None,
) -> None:
    async with db.sessions() as session, session.begin():
        await session.execute(
            insert(EngagementFact),
            [
                {
                    "customer_id": customer_id,
                    "open_tickets": open_tickets,
                    "ticket_count": tickets,
                    "good_ratings": good,
                    "bad_ratings": bad,
                    "last_seen_at": last_seen,
                    "updated_at": NOW,
                }
            ],
        )


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


# (R, F, M) per customer, in id order: every score value five times per
# dimension, and every named segment at least once.
RFM_TRIPLES = (
    (5, 1, 1), (5, 3, 4), (5, 2, 4), (5, 4, 2), (5, 5, 4),
    (4, 3, 2), (4, 1, 5), (4, 3, 1), (4, 5, 3), (4, 1, 1),
    (3, 5, 5), (3, 2, 5), (3, 2, 4), (3, 3, 3), (3, 2, 2),
    (2, 4, 3), (2, 1, 1), (2, 5, 4), (2, 3, 5), (2, 5, 5),
    (1, 2, 1), (1, 4, 2), (1, 4, 3), (1, 1, 2), (1, 4, 3),
)  # fmt: skip


async def rfm_world(db: Services) -> list[int]:
    """25 customers whose scores are their ``RFM_TRIPLES``: F orders inside the
    window, revenue M×1000 + i, last order (6 − R)×40 + i mod 5 days ago."""
    ids = []
    for i, (r, f, m) in enumerate(RFM_TRIPLES, start=1):
        cid = await add_customer(db, f"rfm{i}@example.com")
        last = days_ago((6 - r) * 40 + i % 5)
        revenue = Decimal(m * 1000 + i)
        share = (revenue / f).quantize(Decimal("0.01"))
        first_total = revenue - share * (f - 1)
        orders = [
            order(
                last - timedelta(days=k),
                [("Grocery", 1, str(first_total if k == 0 else share))],
            )
            for k in range(f)
        ]
        await add_orders(db, cid, *orders)
        ids.append(cid)
    return ids
