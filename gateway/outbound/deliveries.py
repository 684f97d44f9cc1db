"""The delivery log as the API reads it, and the two ways to send again.

``page``: deliveries newest first, by endpoint and status, each with its
message's id and type and every attempt (two statements a page).
``requeue``: ``retryDelivery`` takes a dead or failed delivery,
``replayDelivery`` a delivered one; either way the delivery is pending again
in its lane, whose job is queued in the same transaction, with a fresh
attempt budget and the same message — the same ``webhook-id``
and body, which is how a receiver recognises a message it already has.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.errors import Conflict, NotFound
from gateway.jobs.deferral import defer_with
from gateway.outbound.publish import SEND_LANE, lane_job
from gateway.outbound.tables import (
    DeliveryStatus,
    OutboundAttempt,
    OutboundDelivery,
    OutboundEndpoint,
    OutboundMessage,
)
from gateway.relay.pagination import Cursor, Page
from gateway.runtime.services import Services

DELIVERIES: Cursor[tuple[int]] = Cursor("webhook_deliveries", (int,))
RETRYABLE = frozenset({DeliveryStatus.DEAD, DeliveryStatus.FAILED})
REPLAYABLE = frozenset({DeliveryStatus.DELIVERED})


@dataclass(frozen=True, slots=True)
class Delivery:
    row: OutboundDelivery
    msg_id: str
    event_type: str
    log: Sequence[OutboundAttempt]
    """Every attempt, oldest first."""


async def page(
    sessions: async_sessionmaker[AsyncSession],
    endpoint_id: int | None,
    status: DeliveryStatus | None,
    first: int,
    after: str | None,
) -> Page[Delivery]:
    query = (
        select(OutboundDelivery, OutboundMessage.msg_id, OutboundMessage.event_type)
        .join(OutboundMessage, OutboundMessage.id == OutboundDelivery.message_id)
        .order_by(OutboundDelivery.id.desc())
        .limit(first + 1)
    )
    if endpoint_id is not None:
        query = query.where(OutboundDelivery.endpoint_id == endpoint_id)
    if status is not None:
        query = query.where(OutboundDelivery.status == status.value)
    if after is not None:
        (last,) = DELIVERIES.decode(after)
        query = query.where(OutboundDelivery.id < last)
    async with sessions() as session:
        rows = (await session.execute(query)).all()
        ids = [row[0].id for row in rows[:first]]
        logs = await _logs(session, ids)
    found = [Delivery(d, msg_id, kind, logs.get(d.id, [])) for d, msg_id, kind in rows]
    return Page.from_rows(found, first)


async def one(sessions: async_sessionmaker[AsyncSession], delivery_id: int) -> Delivery:
    async with sessions() as session:
        row = (
            await session.execute(
                select(
                    OutboundDelivery, OutboundMessage.msg_id, OutboundMessage.event_type
                )
                .join(
                    OutboundMessage, OutboundMessage.id == OutboundDelivery.message_id
                )
                .where(OutboundDelivery.id == delivery_id)
            )
        ).first()
        if row is None:
            raise NotFound("No such webhook delivery.", argument="id")
        logs = await _logs(session, [delivery_id])
    return Delivery(row[0], row[1], row[2], logs.get(delivery_id, []))


async def requeue(
    services: Services, delivery_id: int, allowed: frozenset[DeliveryStatus]
) -> Delivery:
    """Queue the delivery again if its status is one of ``allowed`` and its
    endpoint is enabled; CONFLICT otherwise, NOT_FOUND for no such delivery."""
    current = await one(services.sessions, delivery_id)
    async with services.sessions() as session, session.begin():
        endpoint = await session.get(OutboundEndpoint, current.row.endpoint_id)
        if endpoint is None or not endpoint.enabled:
            raise Conflict(
                "The delivery's endpoint is disabled: enable it first.", argument="id"
            )
        taken = await session.execute(
            update(OutboundDelivery)
            .where(
                OutboundDelivery.id == delivery_id,
                OutboundDelivery.status.in_([s.value for s in allowed]),
            )
            .values(
                status=DeliveryStatus.PENDING.value,
                attempts=0,
                job_id=None,
                next_attempt_at=None,
            )
            .returning(OutboundDelivery.endpoint_id)
        )
        if taken.first() is None:
            names = " or ".join(sorted(s.value for s in allowed))
            raise Conflict(
                f"Only a {names} delivery can be sent this way.", argument="id"
            )
        if services.jobs is None:
            raise RuntimeError("no job engine: Services.jobs is not set")
        width = services.settings.outbound_endpoint_concurrency
        job = lane_job(endpoint.id, delivery_id % width, width)
        await defer_with(session, services.jobs, SEND_LANE, [job])
    return await one(services.sessions, delivery_id)


async def _logs(
    session: AsyncSession, delivery_ids: Sequence[int]
) -> dict[int, list[OutboundAttempt]]:
    if not delivery_ids:
        return {}
    attempts = await session.scalars(
        select(OutboundAttempt)
        .where(OutboundAttempt.delivery_id.in_(delivery_ids))
        .order_by(OutboundAttempt.id)
    )
    found: dict[int, list[OutboundAttempt]] = {}
    for attempt in attempts:
        found.setdefault(attempt.delivery_id, []).append(attempt)
    return found
