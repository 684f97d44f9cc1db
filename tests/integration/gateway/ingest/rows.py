"""Reading back what the ingest stored, and the messages the tests send."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from gateway.db import models
from gateway.runtime.services import Services

WRITE_KEY = "wk_test_ingest"
"""The public write key (``CG_INGEST_WRITE_KEY``)."""
SERVER_WRITE_KEY = "wk_test_ingest_server"
"""The trusted server-side write key (``CG_INGEST_SERVER_WRITE_KEY``)."""


async def events(db: Services) -> list[models.TrackedEvent]:
    async with db.sessions() as session:
        rows = await session.scalars(
            select(models.TrackedEvent).order_by(models.TrackedEvent.id)
        )
        return list(rows)


async def count(db: Services, model: type[models.Base]) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def customer_by_email(db: Services, email: str) -> models.Customer | None:
    async with db.sessions() as session:
        customer: models.Customer | None = await session.scalar(
            select(models.Customer).where(models.Customer.email == email)
        )
        return customer


async def preferences(db: Services, customer_id: int) -> dict[str, str]:
    async with db.sessions() as session:
        rows = await session.scalars(
            select(models.Preference).where(
                models.Preference.customer_id == customer_id
            )
        )
        return {p.key: p.value for p in rows}


def track(message_id: str, user_id: str = "u-1", **extra: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "messageId": message_id,
        "userId": user_id,
        "event": "Viewed",
        **extra,
    }
