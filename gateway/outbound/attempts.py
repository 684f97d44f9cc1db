"""A delivery's attempts in the database: claimed by one job, then each
attempt's outcome written with the decision it leads to.

``claim`` is one conditional ``UPDATE``: a pending delivery is taken by the
first job that asks (a delivery deferred twice is sent once), and a failed
or interrupted one only by the job that holds it (a job the engine runs again
after a retry or a crashed worker). ``record`` writes the attempt into the
log and the delivery's new state in one transaction: delivered; dead after
``CG_OUTBOUND_MAX_ATTEMPTS``, on 410 Gone (which also disables the endpoint)
or for a disabled endpoint; otherwise failed, the next attempt after an
exponential backoff with jitter (``backoff``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.db.models import utcnow
from gateway.outbound.endpoints import GONE, signing_secrets
from gateway.outbound.sending import Answer, Attempt
from gateway.outbound.tables import (
    DeliveryStatus,
    OutboundAttempt,
    OutboundDelivery,
    OutboundEndpoint,
    OutboundMessage,
    Outcome,
)
from gateway.settings import Settings


@dataclass(frozen=True, slots=True)
class Claimed:
    delivery_id: int
    endpoint_id: int
    attempts: int
    """Attempts made before this one (since it was last queued)."""
    enabled: bool
    attempt: Attempt


async def claim(
    sessions: async_sessionmaker[AsyncSession], delivery_id: int, job_id: int
) -> Claimed | None:
    """The delivery, now held by ``job_id``; ``None`` when there is nothing
    for this job to send (delivered, dead, deleted, or held by another job)."""
    async with sessions() as session, session.begin():
        taken = await session.execute(
            update(OutboundDelivery)
            .where(
                OutboundDelivery.id == delivery_id,
                or_(
                    OutboundDelivery.status == DeliveryStatus.PENDING.value,
                    and_(
                        OutboundDelivery.status.in_(
                            [DeliveryStatus.FAILED.value, DeliveryStatus.SENDING.value]
                        ),
                        OutboundDelivery.job_id == job_id,
                    ),
                ),
            )
            .values(status=DeliveryStatus.SENDING.value, job_id=job_id)
            .returning(OutboundDelivery.endpoint_id, OutboundDelivery.attempts)
        )
        row = taken.first()
        if row is None:
            return None
        endpoint_id, attempts = row
        found = (
            await session.execute(
                select(
                    OutboundEndpoint.url,
                    OutboundEndpoint.enabled,
                    OutboundEndpoint.secret,
                    OutboundEndpoint.previous_secret,
                    OutboundEndpoint.previous_secret_expires_at,
                    OutboundMessage.msg_id,
                    OutboundMessage.body,
                )
                .select_from(OutboundDelivery)
                .join(
                    OutboundEndpoint,
                    OutboundEndpoint.id == OutboundDelivery.endpoint_id,
                )
                .join(
                    OutboundMessage, OutboundMessage.id == OutboundDelivery.message_id
                )
                .where(OutboundDelivery.id == delivery_id)
            )
        ).one()
    now = utcnow()
    return Claimed(
        delivery_id=delivery_id,
        endpoint_id=endpoint_id,
        attempts=attempts,
        enabled=found.enabled,
        attempt=Attempt(
            url=found.url,
            msg_id=found.msg_id,
            body=found.body,
            secrets=signing_secrets(
                found.secret,
                found.previous_secret,
                found.previous_secret_expires_at,
                now,
            ),
            now=now,
        ),
    )


def backoff(attempts: int, settings: Settings) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones: the
    base doubled each time, capped; half of it fixed and half random, so the
    retries of many deliveries that failed together spread out."""
    ceiling = min(
        settings.outbound_backoff_max_seconds,
        settings.outbound_backoff_seconds * 2.0 ** (attempts - 1),
    )
    return ceiling / 2 + random.uniform(0, ceiling / 2)


async def record(
    sessions: async_sessionmaker[AsyncSession],
    claimed: Claimed,
    answer: Answer,
    settings: Settings,
) -> float | None:
    """Write the attempt and the delivery's state; the seconds until the next
    attempt, or ``None`` when there is none."""
    now = utcnow()
    attempts = claimed.attempts + 1
    retry_in: float | None = None
    values: dict[str, object] = {
        "attempts": attempts,
        "last_status_code": answer.status_code,
        "next_attempt_at": None,
    }
    if answer.outcome is Outcome.DELIVERED:
        values.update(status=DeliveryStatus.DELIVERED.value, delivered_at=now)
    elif (
        answer.outcome in (Outcome.GONE, Outcome.DISABLED)
        or attempts >= settings.outbound_max_attempts
    ):
        values["status"] = DeliveryStatus.DEAD.value
    else:
        retry_in = backoff(attempts, settings)
        values.update(
            status=DeliveryStatus.FAILED.value,
            next_attempt_at=now + timedelta(seconds=retry_in),
        )
    async with sessions() as session, session.begin():
        await session.execute(
            update(OutboundDelivery)
            .where(OutboundDelivery.id == claimed.delivery_id)
            .values(**values)
        )
        await session.execute(
            insert(OutboundAttempt).values(_log_row(claimed, answer, now))
        )
        if answer.outcome is Outcome.GONE:
            await session.execute(
                update(OutboundEndpoint)
                .where(OutboundEndpoint.id == claimed.endpoint_id)
                .values(enabled=False, disabled_reason=GONE)
            )
    return retry_in


def _log_row(claimed: Claimed, answer: Answer, now: datetime) -> dict[str, object]:
    return {
        "delivery_id": claimed.delivery_id,
        "attempted_at": now,
        "outcome": answer.outcome.value,
        "status_code": answer.status_code,
        "duration_ms": answer.duration_ms,
        "error_class": answer.error_class,
        "response_excerpt": answer.excerpt,
    }
