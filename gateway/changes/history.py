"""The local CRM history: one ``customer_events`` row per change a person made.

Writers call ``record`` inside the transaction of the change itself, so the
timeline never shows a change that was rolled back nor misses one that was
committed. Kinds are the timeline's (``gateway.timeline.items.Kind``) values.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db import models

SUMMARY_LENGTH = 200


def record(
    session: AsyncSession,
    customer_id: int,
    kind: str,
    summary: str,
    *,
    actor: str | None = None,
    **payload: object,
) -> models.CustomerEvent:
    event = models.CustomerEvent(
        customer_id=customer_id,
        kind=kind,
        source="crm",
        summary=summary[:SUMMARY_LENGTH],
        actor=actor,
        payload=payload,
        occurred_at=models.utcnow(),
    )
    session.add(event)
    return event
