"""Reading the audit log the way the tables need: per-customer read entries of
one caller, counted after the batch writer has flushed (it writes at most about
a second after the response, ``gateway.auth.audit.AuditLog``)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from gateway.auth.policy import Role
from gateway.db.auth_models import AuditEntry

if TYPE_CHECKING:
    from tests.security.conftest import Stage


def subject_of(role: Role) -> str:
    """The audited subject of the stage's credential for ``role`` (embed
    tokens: any ``embed:…`` subject)."""
    return "embed:%" if role is Role.EMBED else f"key:sec-{role}"


async def reads(stage: Stage, role: Role, customer_id: int) -> int:
    await stage.services.audit.flush()
    async with stage.services.sessions() as session:
        counted = await session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(
                AuditEntry.subject.like(subject_of(role)),
                AuditEntry.customer_id == customer_id,
                AuditEntry.action == "read",
            )
        )
    return int(counted or 0)


async def wait_for_more_reads(
    stage: Stage, role: Role, customer_id: int, before: int, seconds: float = 1.5
) -> int:
    """The count once it grew past ``before`` (or after ``seconds``)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        now = await reads(stage, role, customer_id)
        if now > before or loop.time() > deadline:
            return now
        await asyncio.sleep(0.1)
