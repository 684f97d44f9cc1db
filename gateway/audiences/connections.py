"""Connecting a saved segment to a Klaviyo list, disconnecting it, and the
connections with their counts.

A connection is checked before it is stored: the segment exists (by name, as
everywhere in the API), the list id has the form of one and Klaviyo knows
the list (one Get List call); a pair already connected is a ``CONFLICT``.
Disconnecting stops the sync and forgets its records; it does not empty the
list in Klaviyo (the profiles there stay subscribed, as after any export).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.models import EmailList
from gateway.audiences.tables import (
    REMOVED,
    SUBSCRIBED,
    UNSUBSCRIBED,
    AudienceConnection,
    AudienceMember,
)
from gateway.errors import BadUserInput, Conflict, NotFound
from gateway.insights.segments import segment_by_name
from gateway.insights.tables import Segment

LIST_ID = re.compile(r"^[A-Za-z0-9]{1,64}$")
"""Klaviyo list ids are short alphanumeric strings (``Y6nRLr``)."""


@dataclass(frozen=True, slots=True)
class Connection:
    id: int
    segment: str
    list_id: str
    list_name: str
    created_at: datetime
    synced_at: datetime | None
    subscribed: int
    removed: int
    unsubscribed: int


async def segment_named(session: AsyncSession, name: str) -> Segment:
    """The saved segment; NOT_FOUND on the argument ``segment``."""
    try:
        return await segment_by_name(session, name)
    except NotFound as exc:
        raise NotFound(exc.message, field="segment") from None


def check_list_id(list_id: str) -> str:
    if not LIST_ID.match(list_id):
        raise BadUserInput("Not a Klaviyo list id.", field="listId")
    return list_id


async def connect(
    session: AsyncSession, segment_name: str, found: EmailList | None, list_id: str
) -> AudienceConnection:
    """Store the connection of ``segment_name`` to the list Klaviyo answered
    (``found``; ``None``: it has no list ``list_id``)."""
    segment = await segment_named(session, segment_name)
    if found is None:
        raise BadUserInput("Klaviyo has no list with this id.", field="listId")
    row = AudienceConnection(
        segment_id=segment.id, list_id=list_id, list_name=found.name
    )
    session.add(row)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(
            "This segment is already connected to this list.", field="listId"
        ) from None
    return row


async def disconnect(session: AsyncSession, segment_name: str, list_id: str) -> None:
    segment = await segment_named(session, segment_name)
    gone = await session.execute(
        delete(AudienceConnection)
        .where(
            AudienceConnection.segment_id == segment.id,
            AudienceConnection.list_id == list_id,
        )
        .returning(AudienceConnection.id)
    )
    if gone.first() is None:
        raise NotFound("This segment is not connected to this list.", field="listId")


async def all_connections(session: AsyncSession) -> list[Connection]:
    """Every connection with its members by state: two statements."""
    c = AudienceConnection
    rows = (
        await session.execute(
            select(c, Segment.name)
            .join(Segment, Segment.id == c.segment_id)
            .order_by(Segment.name, c.list_id)
        )
    ).all()
    numbers = await _counts(session, [row.id for row, _ in rows])
    return [
        Connection(
            id=row.id,
            segment=name,
            list_id=row.list_id,
            list_name=row.list_name,
            created_at=row.created_at,
            synced_at=row.synced_at,
            subscribed=numbers[row.id].get(SUBSCRIBED, 0),
            removed=numbers[row.id].get(REMOVED, 0),
            unsubscribed=numbers[row.id].get(UNSUBSCRIBED, 0),
        )
        for row, name in rows
    ]


async def _counts(
    session: AsyncSession, connection_ids: Sequence[int]
) -> dict[int, dict[str, int]]:
    found: dict[int, dict[str, int]] = {cid: {} for cid in connection_ids}
    if not connection_ids:
        return found
    m = AudienceMember
    rows = await session.execute(
        select(m.connection_id, m.state, func.count())
        .where(m.connection_id.in_(connection_ids))
        .group_by(m.connection_id, m.state)
    )
    for connection_id, state, number in rows:
        found[connection_id][state] = int(number)
    return found
