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

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

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


async def tickets_changed_since(
    sessions: async_sessionmaker[AsyncSession],
    requester_ids: Sequence[str],
    since: datetime,
) -> list[str]:
    """Ids of the tickets of ``requester_ids`` announced since ``since``."""
    async with sessions() as session:
        found = await session.scalars(
            select(ZendeskTicketChange.ticket_id).where(
                ZendeskTicketChange.requester_id.in_(requester_ids),
                ZendeskTicketChange.changed_at >= since,
            )
        )
        return list(found)
