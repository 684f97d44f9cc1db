"""Deliveries' attempts in the database: claimed by one job, then the
outcomes written with the decisions they lead to.

A claim is one conditional ``UPDATE … RETURNING`` and one read of what to
send (the endpoints and messages of what it took: SQLite's ``RETURNING``
cannot name the other tables of an ``UPDATE … FROM``), in one transaction.
``claim_lane`` takes up to a batch of a lane's pending deliveries, oldest
first (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), and those
the same job held when it was interrupted; ``claim_one`` takes one delivery
for its retry job: pending (``retryDelivery``), failed and handed over by the
attempt before, or held by this very job (the engine running it again after
an error or a crashed worker). A delivery deferred twice is sent once: the
first job takes it, the second finds nothing.

``record`` writes a batch's outcomes in one transaction: the deliveries' new
states (one ``executemany``), the log rows (one multi-row ``INSERT``), an
endpoint that answered 410 Gone disabled, a retry job per failed delivery at
its backoff and the jobs the caller passes. Delivered; dead after
``CG_OUTBOUND_MAX_ATTEMPTS``, on 410 Gone or for a disabled endpoint;
otherwise failed, the next attempt after an exponential backoff with jitter
(``backoff``), as a job of its own (``DELIVER``) due then.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, insert, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.db.models import utcnow
from gateway.jobs.deferral import Job, defer_with
from gateway.outbound.endpoints import GONE, signing_secrets
from gateway.outbound.publish import DELIVER, QUEUE, SEND_LANE
from gateway.outbound.sending import Answer, Attempt
from gateway.outbound.tables import (
    DeliveryStatus,
    OutboundAttempt,
    OutboundDelivery,
    OutboundEndpoint,
    OutboundMessage,
    Outcome,
)
from gateway.runtime.services import Services
from gateway.settings import Settings

D = OutboundDelivery


@dataclass(frozen=True, slots=True)
class Claimed:
    delivery_id: int
    endpoint_id: int
    attempts: int
    """Attempts made before this one (since it was last queued)."""
    enabled: bool
    attempt: Attempt


async def claim_lane(
    sessions: async_sessionmaker[AsyncSession],
    endpoint_id: int,
    lane: int,
    lanes: int,
    job_id: int,
    batch: int,
) -> list[Claimed]:
    """Up to ``batch`` deliveries of the lane, oldest first, now held by
    ``job_id``: its pending ones and those this job held already."""
    pending = and_(
        D.endpoint_id == endpoint_id,
        D.status == DeliveryStatus.PENDING.value,
        D.id % lanes == lane,
    )
    held = and_(D.status == DeliveryStatus.SENDING.value, D.job_id == job_id)
    ids = (
        select(D.id)
        .where(or_(pending, held))
        .order_by(D.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    return await _claim(sessions, D.id.in_(ids.scalar_subquery()), job_id)


async def claim_one(
    sessions: async_sessionmaker[AsyncSession], delivery_id: int, job_id: int
) -> Claimed | None:
    """The delivery, now held by ``job_id``; ``None`` when there is nothing
    for this job to send (delivered, dead, deleted, or held by another job)."""
    takeable = or_(
        D.status == DeliveryStatus.PENDING.value,
        and_(D.status == DeliveryStatus.FAILED.value, D.job_id.is_(None)),
        and_(D.status == DeliveryStatus.SENDING.value, D.job_id == job_id),
    )
    found = await _claim(sessions, and_(D.id == delivery_id, takeable), job_id)
    return found[0] if found else None


async def _claim(
    sessions: async_sessionmaker[AsyncSession],
    which: ColumnElement[bool],
    job_id: int,
) -> list[Claimed]:
    e, m = OutboundEndpoint, OutboundMessage
    async with sessions() as session, session.begin():
        taken = (
            await session.execute(
                update(D)
                .where(which)
                .values(status=DeliveryStatus.SENDING.value, job_id=job_id)
                .returning(D.id, D.endpoint_id, D.message_id, D.attempts)
                .execution_options(synchronize_session=False)
            )
        ).all()
        if not taken:
            return []
        found = {
            (row.endpoint_id, row.message_id): row
            for row in await session.execute(
                select(
                    e.id.label("endpoint_id"),
                    m.id.label("message_id"),
                    e.url,
                    e.enabled,
                    e.secret,
                    e.previous_secret,
                    e.previous_secret_expires_at,
                    m.msg_id,
                    m.body,
                )
                .join_from(e, m, true())
                .where(
                    e.id.in_({t.endpoint_id for t in taken}),
                    m.id.in_({t.message_id for t in taken}),
                )
            )
        }
    now = utcnow()
    claimed = []
    for t in sorted(taken, key=lambda t: t.id):
        row = found[t.endpoint_id, t.message_id]
        secrets = signing_secrets(
            row.secret, row.previous_secret, row.previous_secret_expires_at, now
        )
        claimed.append(
            Claimed(
                delivery_id=t.id,
                endpoint_id=t.endpoint_id,
                attempts=t.attempts,
                enabled=row.enabled,
                attempt=Attempt(
                    url=row.url, msg_id=row.msg_id, body=row.body, secrets=secrets
                ),
            )
        )
    return claimed


def backoff(attempts: int, settings: Settings) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones: the
    base doubled each time, capped; half of it fixed and half random, so the
    retries of many deliveries that failed together spread out."""
    ceiling = min(
        settings.outbound_backoff_max_seconds,
        settings.outbound_backoff_seconds * 2.0 ** (attempts - 1),
    )
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def retry_job(delivery_id: int, at: datetime) -> Job:
    """The next attempt of a delivery, under a lock of its own: a delivery
    waiting for its retry holds back no lane."""
    return Job(
        {"delivery_id": delivery_id},
        lock=f"outbound:delivery:{delivery_id}",
        queue=QUEUE,
        scheduled_at=at,
    )


async def record(
    services: Services,
    sent: Sequence[tuple[Claimed, Answer]],
    unsent: Sequence[Claimed] = (),
    then: Sequence[Job] = (),
) -> None:
    """Write the attempts ``sent`` and the deliveries' states, give the
    ``unsent`` back to their lane (pending, held by no job), and defer the
    failed ones' retries and the ``send_lane`` jobs ``then``, in one
    transaction."""
    settings = services.settings
    assert services.jobs is not None  # a worker runs with its job engine
    now = utcnow()
    states: list[dict[str, object]] = []
    retries: list[Job] = []
    gone: set[int] = set()
    for claimed, answer in sent:
        attempts = claimed.attempts + 1
        state: dict[str, object] = {
            "id": claimed.delivery_id,
            "attempts": attempts,
            "last_status_code": answer.status_code,
            "next_attempt_at": None,
            "job_id": None,
        }
        if answer.outcome is Outcome.DELIVERED:
            state.update(status=DeliveryStatus.DELIVERED.value, delivered_at=now)
        elif (
            answer.outcome in (Outcome.GONE, Outcome.DISABLED)
            or attempts >= settings.outbound_max_attempts
        ):
            state["status"] = DeliveryStatus.DEAD.value
        else:
            due = now + timedelta(seconds=backoff(attempts, settings))
            state.update(status=DeliveryStatus.FAILED.value, next_attempt_at=due)
            retries.append(retry_job(claimed.delivery_id, due))
        if answer.outcome is Outcome.GONE:
            gone.add(claimed.endpoint_id)
        states.append(state)
    states.extend(
        {"id": c.delivery_id, "status": DeliveryStatus.PENDING.value, "job_id": None}
        for c in unsent
    )
    async with services.sessions() as session, session.begin():
        if states:
            await session.execute(update(OutboundDelivery), states)
        if sent:
            await session.execute(
                insert(OutboundAttempt), [_log_row(c, a) for c, a in sent]
            )
        if gone:
            await session.execute(
                update(OutboundEndpoint)
                .where(OutboundEndpoint.id.in_(gone))
                .values(enabled=False, disabled_reason=GONE)
            )
        await defer_with(session, services.jobs, DELIVER, retries)
        await defer_with(session, services.jobs, SEND_LANE, then)


def _log_row(claimed: Claimed, answer: Answer) -> dict[str, object]:
    return {
        "delivery_id": claimed.delivery_id,
        "attempted_at": answer.attempted_at,
        "outcome": answer.outcome.value,
        "status_code": answer.status_code,
        "duration_ms": answer.duration_ms,
        "error_class": answer.error_class,
        "response_excerpt": answer.excerpt,
    }
