"""Publishing an event: one message, one delivery per matching endpoint, and
a job for each endpoint lane the deliveries fall in.

The message, its deliveries and their jobs are written in one transaction —
the caller's, when it passes its session (the automations' ``webhook``
action: the event is published with the action's outcome or not at all) —
through ``gateway.jobs.deferral.defer_with``. So no delivery is ever
committed without its job, and nothing needs sweeping up after a crash.

A delivery belongs to one of its endpoint's ``CG_OUTBOUND_ENDPOINT_CONCURRENCY``
lanes (its id modulo their number). A lane's first attempts are sent by one
``outbound:send_lane`` job at a time (``lane_job``: the lane is its lock),
which sends what is pending in the lane in batches (``tasks.py``): a slow
endpoint holds as many workers' slots as it has lanes, and the others'
deliveries go on. A publish adds no job to a lane that already has one
queued: that job sends the new deliveries too.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from secrets import token_hex
from typing import Any

import orjson
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models import utcnow
from gateway.errors import BadUserInput
from gateway.jobs.deferral import Job, defer_with
from gateway.outbound.endpoints import EVENT_TYPE
from gateway.outbound.tables import (
    DeliveryStatus,
    OutboundDelivery,
    OutboundEndpoint,
    OutboundMessage,
)
from gateway.runtime.services import Services

QUEUE = "outbound"
DELIVER = "outbound:deliver"
"""A retry of one delivery (the task's name once its blueprint is added to an
app under the ``outbound`` namespace)."""
SEND_LANE = "outbound:send_lane"
"""The first attempts of one endpoint lane's pending deliveries."""


def new_msg_id() -> str:
    """``msg_`` + 26 characters: a ULID-like id, sortable by time."""
    millis = int(datetime.now(UTC).timestamp() * 1000)
    return f"msg_{millis:013x}{token_hex(8)[:13]}"


def body_of(event_type: str, payload: Mapping[str, Any], now: datetime) -> str:
    """The spec's payload shape: ``type``, ``timestamp`` (ISO 8601), ``data``."""
    stamp = now.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return orjson.dumps(
        {"type": event_type, "timestamp": stamp, "data": payload}
    ).decode()


def lane_job(endpoint_id: int, lane: int, lanes: int) -> Job:
    """The ``send_lane`` job of lane ``lane`` of ``lanes`` (the deliveries
    whose id modulo ``lanes`` is ``lane``). The number of lanes is in its lock
    and arguments: a job queued before the setting changed still sends the
    deliveries it was queued for."""
    return Job(
        {"endpoint_id": endpoint_id, "lane": lane, "lanes": lanes},
        lock=f"outbound:{endpoint_id}:{lane}/{lanes}",
        queue=QUEUE,
        if_none_queued=True,
    )


async def publish(
    services: Services,
    event_type: str,
    payload: Mapping[str, Any],
    customer_id: int | None = None,
    session: AsyncSession | None = None,
) -> list[int]:
    """Send ``payload`` as an ``event_type`` event to every enabled endpoint
    that takes that type; the deliveries' ids (none: no endpoint takes it,
    and nothing is stored). Written in ``session``'s transaction when given
    (committed with the caller's writes), else in one of its own."""
    if not EVENT_TYPE.fullmatch(event_type):
        raise BadUserInput("Not a valid event type.", field="eventType")
    if session is not None:
        return await _publish(services, session, event_type, payload, customer_id)
    async with services.sessions() as own, own.begin():
        return await _publish(services, own, event_type, payload, customer_id)


async def _publish(
    services: Services,
    session: AsyncSession,
    event_type: str,
    payload: Mapping[str, Any],
    customer_id: int | None,
) -> list[int]:
    if services.jobs is None:
        raise RuntimeError("no job engine: Services.jobs is not set")
    rows = await session.execute(
        select(OutboundEndpoint.id, OutboundEndpoint.event_types).where(
            OutboundEndpoint.enabled.is_(True)
        )
    )
    targets = [i for i, types in rows if not types or event_type in types]
    if not targets:
        return []
    now = utcnow()
    message_id = await session.scalar(
        insert(OutboundMessage)
        .values(
            msg_id=new_msg_id(),
            event_type=event_type,
            body=body_of(event_type, payload, now),
            customer_id=customer_id,
            created_at=now,
        )
        .returning(OutboundMessage.id)
    )
    created = await session.execute(
        insert(OutboundDelivery).returning(
            OutboundDelivery.id, OutboundDelivery.endpoint_id
        ),
        [
            {
                "message_id": message_id,
                "endpoint_id": endpoint_id,
                "status": DeliveryStatus.PENDING.value,
                "attempts": 0,
                "created_at": now,
            }
            for endpoint_id in targets
        ],
    )
    deliveries = [(d, e) for d, e in created]
    width = services.settings.outbound_endpoint_concurrency
    lanes = [lane_job(e, d % width, width) for d, e in deliveries]
    await defer_with(session, services.jobs, SEND_LANE, lanes)
    return [d for d, _ in deliveries]
