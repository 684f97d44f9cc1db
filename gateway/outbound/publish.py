"""Publishing an event: one message, one delivery per matching endpoint, one
job per delivery.

The message and its deliveries are written in one transaction; the jobs are
deferred right after it commits, in one statement, and the deliveries are
then marked queued. Not in the same transaction: the job engine's connector
(procrastinate's, psycopg) holds its own connections, and ours are
SQLAlchemy's; sharing one would mean writing procrastinate's private tables
through our connection. So a process that dies between the commit and the
defer leaves deliveries committed but unqueued; ``requeue_stranded`` (a
periodic task, ``tasks.py``) defers those. A delivery deferred twice that way
is still sent once: the first job claims it (``attempts.claim``).

A job runs under a lock of its endpoint's ``CG_OUTBOUND_ENDPOINT_CONCURRENCY``
lanes (``lane``): the job engine runs one job per lock at a time, across every
worker, so a slow endpoint occupies that many workers' slots at most and the
others' deliveries go on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from secrets import token_hex
from typing import Any

import orjson
from procrastinate import App
from procrastinate.jobs import Job
from sqlalchemy import insert, select, update

from gateway.db.models import utcnow
from gateway.errors import BadUserInput
from gateway.outbound.endpoints import EVENT_TYPE
from gateway.outbound.tables import (
    DeliveryStatus,
    OutboundDelivery,
    OutboundEndpoint,
    OutboundMessage,
)
from gateway.runtime.services import Services

DELIVER = "outbound:deliver"
"""The delivery task's name once its blueprint is added to an app under the
``outbound`` namespace."""
QUEUE = "outbound"
STRANDED_AFTER = timedelta(minutes=1)
"""A delivery committed this long ago and still not queued was stranded."""


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


def lane(endpoint_id: int, delivery_id: int, width: int) -> str:
    return f"outbound:{endpoint_id}:{delivery_id % width}"


async def publish(
    services: Services,
    event_type: str,
    payload: Mapping[str, Any],
    customer_id: int | None = None,
) -> list[int]:
    """Send ``payload`` as an ``event_type`` event to every enabled endpoint
    that takes that type; the deliveries' ids (none: no endpoint takes it,
    and nothing is stored)."""
    if not EVENT_TYPE.fullmatch(event_type):
        raise BadUserInput("Not a valid event type.", field="eventType")
    now = utcnow()
    body = body_of(event_type, payload, now)
    async with services.sessions() as session, session.begin():
        rows = await session.execute(
            select(OutboundEndpoint.id, OutboundEndpoint.event_types).where(
                OutboundEndpoint.enabled.is_(True)
            )
        )
        targets = [i for i, types in rows if not types or event_type in types]
        if not targets:
            return []
        message_id = await session.scalar(
            insert(OutboundMessage)
            .values(
                msg_id=new_msg_id(),
                event_type=event_type,
                body=body,
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
    await defer(services, deliveries)
    return [d for d, _ in deliveries]


async def defer(
    services: Services,
    deliveries: Iterable[tuple[int, int]],
    jobs: App | None = None,
) -> None:
    """One job per ``(delivery id, endpoint id)``, in one statement, on
    ``jobs`` (by default the services' app); then the deliveries are marked
    queued."""
    app = jobs or services.jobs
    if app is None:
        raise RuntimeError("no job engine: Services.jobs is not set")
    width = services.settings.outbound_endpoint_concurrency
    batch = [
        Job(
            id=None,
            queue=QUEUE,
            lock=lane(endpoint_id, delivery_id, width),
            queueing_lock=None,
            task_name=DELIVER,
            task_kwargs={"delivery_id": delivery_id},
        )
        for delivery_id, endpoint_id in deliveries
    ]
    if not batch:
        return
    await app.job_manager.batch_defer_jobs_async(batch)
    ids = [job.task_kwargs["delivery_id"] for job in batch]
    async with services.sessions() as session, session.begin():
        await session.execute(
            update(OutboundDelivery)
            .where(OutboundDelivery.id.in_(ids))
            .values(queued_at=utcnow())
        )


async def requeue_stranded(services: Services, jobs: App) -> int:
    """Defer the deliveries committed over ``STRANDED_AFTER`` ago whose jobs
    never were (their publisher stopped in between); how many."""
    cutoff = utcnow() - STRANDED_AFTER
    async with services.sessions() as session:
        rows = (
            await session.execute(
                select(OutboundDelivery.id, OutboundDelivery.endpoint_id)
                .where(
                    OutboundDelivery.status == DeliveryStatus.PENDING.value,
                    OutboundDelivery.queued_at.is_(None),
                    OutboundDelivery.created_at < cutoff,
                )
                .order_by(OutboundDelivery.id)
                .limit(1_000)
            )
        ).all()
    stranded = [(d, e) for d, e in rows]
    await defer(services, stranded, jobs)
    return len(stranded)
