"""Event triggers, opened inside the transaction of the webhook that saw the
event: an order placed (Shopify ``orders/create``) and a ticket rated bad
(Zendesk). The runs and their jobs commit with the delivery's claim
(``gateway.webhooks.delivery.process_once``), so a delivery processed once
opens each run once, and the worker hears of the job at that commit
(procrastinate's ``NOTIFY``): an action starts within the worker's fetch of
it, not at the next periodic tick.

Zendesk's event subscriptions have no satisfaction event: a Zendesk trigger
("Satisfaction is Bad") posts to ``/webhooks/zendesk`` a body in the event
envelope's shape with the type ``RATED_TOPIC`` (docs/automations.md gives the
template); ``event.current`` holds the rating.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from procrastinate import App
from sqlalchemy import literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.automations.definitions import parse
from gateway.automations.runs import open_runs
from gateway.automations.tables import Automation

RATED_TOPIC = "ticket.satisfaction_rated"


def rated_bad(topic: str, payload: Mapping[str, object]) -> bool:
    """Whether a Zendesk delivery says a ticket was rated bad
    (``bad``, ``bad_with_comment``, ``Bad`` as the placeholder renders it)."""
    event = payload.get("event")
    current = event.get("current") if isinstance(event, Mapping) else None
    return topic == RATED_TOPIC and str(current).lower().startswith("bad")


async def open_event_runs(
    session: AsyncSession,
    jobs: App,
    trigger_kind: str,
    customer_id: int,
    occasion: str,
    now: datetime,
) -> list[int]:
    """Open a run of every active automation with this trigger whose
    conditions the customer meets."""
    rows = await session.scalars(
        select(Automation).where(Automation.status == "active").order_by(Automation.id)
    )
    opened: list[int] = []
    for row in rows:
        definition = parse(row.trigger, row.conditions, row.actions)
        if definition.trigger_kind != trigger_kind:
            continue
        pair = select(
            literal(customer_id).label("customer_id"),
            literal(occasion).label("occasion"),
        )
        opened += await open_runs(session, jobs, row.id, definition, pair, now)
    return opened


async def order_placed(
    session: AsyncSession, jobs: App, customer_id: int, order_id: str, now: datetime
) -> list[int]:
    return await open_event_runs(
        session, jobs, "orderPlaced", customer_id, f"order:{order_id}", now
    )


async def ticket_rated_bad(
    session: AsyncSession, jobs: App, customer_id: int, ticket_id: str, now: datetime
) -> list[int]:
    return await open_event_runs(
        session, jobs, "ticketRatedBad", customer_id, f"ticket:{ticket_id}", now
    )
