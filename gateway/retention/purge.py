"""The purge: every table of ``tables.RETAINED`` past its retention, in
bounded batches.

A batch is one statement, ``DELETE … WHERE key IN (SELECT key … WHERE
<time> < cutoff LIMIT n)`` (``n``: ``CG_RETENTION_BATCH_ROWS``), in its own
transaction, so however large the backlog no lock is held for longer than
one batch takes; a table is done when a batch finds fewer than ``n`` rows.
A dry run sends one count per table instead and changes nothing. What is
logged is one line of counts per run: a purge knows nothing else about the
rows it removes, and says nothing else.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, Executable, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.db.models import utcnow
from gateway.retention.tables import RETAINED, Retained
from gateway.settings import Settings

log = logging.getLogger("gateway.retention")


@dataclass(frozen=True)
class Purged:
    """One table's outcome: its retention in days (0: kept forever) and the
    rows purged — or, in a dry run, that would be."""

    name: str
    kept_days: int
    rows: int


async def purge(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    batch_rows: int | None = None,
) -> list[Purged]:
    """Purge (or count, ``dry_run``) what is past retention, table by table
    in ``RETAINED``'s order."""
    now = now or utcnow()
    batch = batch_rows or settings.retention_batch_rows
    report = []
    for retained in RETAINED:
        days = retained.kept_days(settings)
        rows = 0
        if days:
            cutoff = now - timedelta(days=days)
            rows = await (
                _count(sessions, retained, cutoff)
                if dry_run
                else _purge(sessions, retained, cutoff, batch)
            )
        report.append(Purged(retained.name, days, rows))
    if not dry_run:
        log.info("retention purge: %s", ", ".join(f"{p.name} {p.rows}" for p in report))
    return report


async def _purge(
    sessions: async_sessionmaker[AsyncSession],
    retained: Retained,
    cutoff: datetime,
    batch: int,
) -> int:
    total = 0
    while True:
        async with sessions.begin() as session:
            result = await session.execute(_batch(retained, cutoff, batch))
        done = max(result.rowcount, 0) if isinstance(result, CursorResult) else 0
        total += done
        if done < batch:
            return total


def _batch(retained: Retained, cutoff: datetime, batch: int) -> Executable:
    table: Any = retained.key.class_
    keys = retained.key.in_(retained.rows(cutoff).limit(batch))
    statement = (
        update(table).where(keys).values(export=None)
        if retained.action == "drop_export"
        else delete(table).where(keys)
    )
    # No ORM bookkeeping of the rows removed (it would read their keys back).
    return statement.execution_options(synchronize_session=False)


async def _count(
    sessions: async_sessionmaker[AsyncSession], retained: Retained, cutoff: datetime
) -> int:
    async with sessions() as session:
        found = await session.scalar(
            select(func.count()).select_from(retained.rows(cutoff).subquery())
        )
    return int(found or 0)
