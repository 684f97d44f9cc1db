"""The audit log: who saw whose personal data, who changed what.

Reads are collected per request (one entry per customer, with the fields shown)
and written in one INSERT after the response is sent, off the hot path.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.auth.principal import Principal
from gateway.db.auth_models import AuditEntry

log = logging.getLogger("gateway.audit")


@dataclass(slots=True)
class AuditTrail:
    """What one request showed and changed."""

    reads: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    writes: list[tuple[int | None, str]] = field(default_factory=list)

    def read(self, customer_id: int, field_name: str) -> None:
        self.reads[customer_id].add(field_name)

    def wrote(self, customer_id: int | None, mutation: str) -> None:
        self.writes.append((customer_id, mutation))

    def rows(
        self, principal: Principal, operation: str | None
    ) -> list[dict[str, object]]:
        base = {"subject": principal.subject, "role": principal.role.value}
        rows: list[dict[str, object]] = [
            {
                **base,
                "action": "read",
                "customer_id": cid,
                "operation": operation,
                "fields": sorted(names),
            }
            for cid, names in self.reads.items()
        ]
        rows += [
            {
                **base,
                "action": "write",
                "customer_id": cid,
                "operation": mutation,
                "fields": [],
            }
            for cid, mutation in self.writes
        ]
        return rows


async def write_trail(
    sessions: async_sessionmaker[AsyncSession],
    trail: AuditTrail,
    principal: Principal,
    operation: str | None,
) -> None:
    rows = trail.rows(principal, operation)
    if not rows:
        return
    try:
        async with sessions() as session, session.begin():
            await session.execute(insert(AuditEntry), rows)
    except Exception:  # the audit must never fail a request that already answered
        log.exception("could not write %d audit entries", len(rows))


async def entries_for(
    sessions: async_sessionmaker[AsyncSession], customer_id: int, limit: int = 100
) -> Sequence[AuditEntry]:
    async with sessions() as session:
        rows = await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.customer_id == customer_id)
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .limit(limit)
        )
        return list(rows)
