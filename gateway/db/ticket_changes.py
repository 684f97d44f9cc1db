"""Zendesk tickets written lately: what the webhooks announced, read by the
ticket loader so a new or changed ticket is in the very next read although
Zendesk search, which answers the batch, has not indexed it yet.

Zendesk's search index "can take up to a few minutes" to show a write
(https://developer.zendesk.com/api-reference/ticketing/ticket-management/search/);
for ``lag`` seconds after a ticket webhook its ticket is read through
``show_many`` instead (``connectors.zendesk.client``). A row per ticket, the
latest webhook's time; each write prunes what no read needs any more.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    SQLColumnExpression,
    bindparam,
    delete,
    exists,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models import ZendeskTicketChange, utcnow
from gateway.db.upsert import dialect_insert


async def note_ticket_change(
    session: AsyncSession, ticket_id: str, requester_id: str, *, lag: float
) -> None:
    """Remember that ``ticket_id`` (of ``requester_id``) changed now, and
    forget the changes older than ``lag`` seconds."""
    now = utcnow()
    insert = dialect_insert(session, ZendeskTicketChange).values(
        ticket_id=ticket_id, requester_id=requester_id, changed_at=now
    )
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=["ticket_id"],
            set_={"requester_id": requester_id, "changed_at": now},
        )
    )
    await session.execute(
        delete(ZendeskTicketChange).where(
            ZendeskTicketChange.changed_at < now - timedelta(seconds=lag)
        )
    )


async def announced_tickets(
    session: AsyncSession, requester_ids: Sequence[str]
) -> list[str]:
    """The tickets of ``requester_ids`` a webhook announced within the lag
    (what ``note_ticket_change`` keeps)."""
    found = await session.scalars(
        select(ZendeskTicketChange.ticket_id).where(
            ZendeskTicketChange.requester_id.in_(requester_ids)
        )
    )
    return list(found)


SINCE = "zendesk_changed_since"
"""The bound parameter of ``changed_lately``: ``since``'s value."""


def changed_lately(requester_id: SQLColumnExpression[str]) -> ColumnElement[bool]:
    """Whether a ticket of the Zendesk user ``requester_id`` names was
    announced since the bound parameter ``SINCE`` (``since``): a condition
    read with a customer's links (``gateway.loaders.sources``), so a view
    whose requesters had no such ticket reads none, the usual case. Holds
    no time: a statement built with it once serves every request."""
    change = ZendeskTicketChange
    return exists().where(
        change.requester_id == requester_id,
        change.changed_at >= bindparam(SINCE, type_=change.changed_at.type),
    )


def since(now: datetime, lag: timedelta) -> dict[str, datetime]:
    """``changed_lately``'s parameter: changes within ``lag`` of ``now``."""
    return {SINCE: now - lag}


_CHANGED_SINCE = select(ZendeskTicketChange.ticket_id).where(
    ZendeskTicketChange.requester_id.in_(bindparam("requesters", expanding=True)),
    ZendeskTicketChange.changed_at >= bindparam("since"),
)
"""Built once: a view runs it with every Zendesk read (its ``select`` built
per call was a tenth of its instructions)."""


async def tickets_changed_since(
    sessions: Callable[[], AbstractAsyncContextManager[AsyncSession]],
    requester_ids: Sequence[str],
    since: datetime,
) -> list[str]:
    """Ids of the tickets of ``requester_ids`` announced since ``since``;
    ``sessions``: an ``async_sessionmaker``, or a request's ``SharedSession``."""
    async with sessions() as session:
        found = await session.scalars(
            _CHANGED_SINCE, {"requesters": list(requester_ids), "since": since}
        )
        return list(found)
