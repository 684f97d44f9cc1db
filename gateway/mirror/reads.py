"""A batch of persons read from the mirror, answering what PostHog's
``activity_query`` answers (``connectors.posthog.hogql``): each person's
newest events within a window, their last-seen time (any event, ever) and
their distinct sessions within the recent window.

A person is *mirrored* when the mirror holds any event of theirs: only those
are in the answers; the caller sends the others to the live fallback. Two
statements at most per batch, both on ``(distinct_id, occurred_at, uuid)``:
the summaries (``GROUP BY distinct_id``) and, for the persons found, their
newest events (``row_number() OVER (PARTITION BY distinct_id …)``, which
SQLite has had since 3.25 and PostgreSQL always).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import case, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.models import ActivityEvent, PersonActivity, PersonSummary
from connectors.posthog.mapping import kind_of
from gateway import metrics
from gateway.db.models import PostHogEvent


async def summaries(
    session: AsyncSession,
    distinct_ids: Sequence[str],
    *,
    session_days: int,
    now: datetime,
) -> dict[str, PersonSummary]:
    """The mirrored persons among ``distinct_ids``: last seen and sessions."""
    if not distinct_ids:
        return {}
    e = PostHogEvent
    recent = case((e.occurred_at >= now - timedelta(days=session_days), e.session_id))
    rows = await session.execute(
        select(e.distinct_id, func.max(e.occurred_at), func.count(distinct(recent)))
        .where(e.distinct_id.in_(set(distinct_ids)))
        .group_by(e.distinct_id)
    )
    found = {
        distinct_id: PersonSummary(last_seen=last_seen, sessions=int(sessions))
        for distinct_id, last_seen, sessions in rows
    }
    metrics.MIRROR_LOOKUPS.labels(result="hit").inc(len(found))
    metrics.MIRROR_LOOKUPS.labels(result="miss").inc(
        len(set(distinct_ids)) - len(found)
    )
    return found


async def activity(
    session: AsyncSession,
    distinct_ids: Sequence[str],
    *,
    limit: int,
    days: int,
    session_days: int,
    now: datetime,
) -> dict[str, PersonActivity]:
    """The mirrored persons among ``distinct_ids``: their newest ``limit``
    events within ``days`` (newest first) and their summary."""
    found = await summaries(session, distinct_ids, session_days=session_days, now=now)
    if not found:
        return {}
    e = PostHogEvent
    rank = (
        func.row_number()
        .over(
            partition_by=e.distinct_id,
            order_by=(e.occurred_at.desc(), e.uuid.desc()),
        )
        .label("rank")
    )
    ranked = (
        select(
            e.uuid,
            e.distinct_id,
            e.event,
            e.occurred_at,
            e.url,
            e.path,
            e.session_id,
            e.properties,
            rank,
        )
        .where(
            e.distinct_id.in_(list(found)),
            e.occurred_at >= now - timedelta(days=days),
        )
        .subquery()
    )
    rows = await session.execute(select(ranked).where(ranked.c.rank <= limit))
    events: dict[str, list[ActivityEvent]] = defaultdict(list)
    for row in rows:
        events[row.distinct_id].append(
            ActivityEvent(
                id=row.uuid,
                distinct_id=row.distinct_id,
                kind=kind_of(row.event),
                name=row.event,
                occurred_at=row.occurred_at,
                url=row.url,
                path=row.path,
                session_id=row.session_id,
                properties=row.properties,
            )
        )
    return {
        distinct_id: PersonActivity(
            events=tuple(
                sorted(
                    events[distinct_id],
                    key=lambda event: (event.occurred_at, event.id),
                    reverse=True,
                )
            ),
            summary=summary,
        )
        for distinct_id, summary in found.items()
    }
