"""Writing events into the mirror: ``INSERT … ON CONFLICT (uuid) DO NOTHING``,
so a destination's retry, a backfill page overlapping the last one or an
event both delivered and backfilled is stored once, whoever writes first.

A row is checked against its columns first (``gateway.db.column_limits``): a
delivery holding what a column cannot is refused whole (400), a backfill page
skips such rows and counts them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from connectors.models import ActivityEvent
from gateway import metrics
from gateway.db.column_limits import check_rows
from gateway.db.models import PostHogEvent
from gateway.db.upsert import dialect_insert, table_of
from gateway.errors import BadUserInput

Via = Literal["destination", "backfill"]
ROWS_PER_STATEMENT = 1_000
"""Rows per ``INSERT``: 10 columns each keeps a statement under SQLite's
32,766 bound parameters."""


def event_row(event: ActivityEvent, via: Via, received_at: datetime) -> dict[str, Any]:
    return {
        "uuid": event.id,
        "distinct_id": event.distinct_id,
        "event": event.name,
        "occurred_at": event.occurred_at,
        "url": event.url,
        "path": event.path,
        "session_id": event.session_id,
        "properties": dict(event.properties),
        "via": via,
        "received_at": received_at,
    }


def storable(rows: Iterable[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """The rows every column can hold, and how many others were left out."""
    table = table_of(PostHogEvent)
    kept: list[dict[str, Any]] = []
    skipped = 0
    for row in rows:
        try:
            check_rows(table, [row])
        except BadUserInput:
            skipped += 1
        else:
            kept.append(row)
    return kept, skipped


async def insert_rows(
    session: AsyncSession, rows: Sequence[dict[str, Any]], via: Via
) -> set[str]:
    """Store the rows not stored yet (checked ones: see ``storable``);
    returns the uuids that were new."""
    new: set[str] = set()
    unique = list({row["uuid"]: row for row in rows}.values())
    for start in range(0, len(unique), ROWS_PER_STATEMENT):
        chunk = unique[start : start + ROWS_PER_STATEMENT]
        statement = (
            dialect_insert(session, PostHogEvent)
            .values(chunk)
            .on_conflict_do_nothing(index_elements=["uuid"])
            .returning(PostHogEvent.uuid)
        )
        new.update(await session.scalars(statement))
    metrics.MIRROR_EVENTS.labels(via=via, result="stored").inc(len(new))
    metrics.MIRROR_EVENTS.labels(via=via, result="duplicate").inc(len(rows) - len(new))
    return new
