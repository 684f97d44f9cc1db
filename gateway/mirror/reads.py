"""A batch of persons read from the mirror, answering what PostHog's
``activity_query`` answers (``connectors.posthog.hogql``): each person's
newest ``ACTIVITY_LIMIT`` events within ``ACTIVITY_DAYS``, their last-seen
time (any event, ever) and their distinct sessions within ``SESSION_DAYS``.

The mirror answers for a person it holds any event of, and for one the live
fallback found quiet within the last ``CHECK_TTL``
(``posthog_person_checks``: no events, no sessions, that last-seen time).
Only those are in the answers; the caller sends the others to the live
fallback. Two statements at most per batch, both on
``(distinct_id, occurred_at, uuid)``: the summaries (``GROUP BY
distinct_id``, with the checks by ``UNION ALL``) and, for the persons with
events, their newest (``row_number() OVER (PARTITION BY distinct_id …)``,
which SQLite has had since 3.25 and PostgreSQL always).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    CompoundSelect,
    Integer,
    Result,
    Select,
    SQLColumnExpression,
    bindparam,
    case,
    distinct,
    exists,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.models import ActivityEvent, PersonActivity, PersonSummary
from connectors.posthog.mapping import kind_of
from gateway import metrics
from gateway.db.models import PostHogEvent, PostHogPersonCheck

ACTIVITY_LIMIT = 100
"""The most events read per person (the largest window of
``gateway.loaders.analytics``); ``activity`` pages within these."""
ACTIVITY_DAYS = 90
"""How far back ``activity`` and the timeline's web events reach: the widest
window shown, so a person last seen before it is quiet."""
SESSION_DAYS = 30
"""The window of ``sessionsCount``."""
CHECK_TTL = timedelta(days=1)
"""How long a quiet person's check answers before the live path is asked
again (an event delivered meanwhile answers from the mirror at once)."""


CHECKED_SINCE = "mirror_checked_since"
"""The bound parameter of ``answers_for``: ``checked_since``'s value."""


def answers_for(distinct_id: SQLColumnExpression[str]) -> ColumnElement[bool]:
    """Whether the mirror answers for the person ``distinct_id`` names, as
    ``summaries`` decides it (an event of theirs, or a check within
    ``CHECK_TTL``, the bound parameter ``CHECKED_SINCE``: ``checked_since``):
    a condition read with a customer's links (``gateway.loaders.upstream``),
    so a person it cannot answer for goes to the live fallback without a
    mirror read first. The condition holds no time, so a statement built
    with it once serves every request."""
    e, check = PostHogEvent, PostHogPersonCheck
    since = bindparam(CHECKED_SINCE, type_=check.checked_at.type)
    return or_(
        exists().where(e.distinct_id == distinct_id),
        exists().where(check.distinct_id == distinct_id, check.checked_at > since),
    )


def checked_since(now: datetime) -> dict[str, datetime]:
    """``answers_for``'s parameter at ``now``: checks since then answer."""
    return {CHECKED_SINCE: now - CHECK_TTL}


WANTED = "mirror_wanted"
SESSIONS_SINCE = "mirror_sessions_since"
EVENTS_SINCE = "mirror_events_since"
LIMIT = "mirror_limit"
"""The bound parameters of the statements below, built once: building a
``select`` and its cache key per batch cost more than running it
(docs/benchmarks.md, "The mirror's statements built once")."""


@functools.cache
def _summaries_statement() -> CompoundSelect[Any]:
    """Each person's last event and distinct sessions since
    ``SESSIONS_SINCE``, and by ``UNION ALL`` the checks since
    ``CHECKED_SINCE``, of the persons ``WANTED``."""
    e, check = PostHogEvent, PostHogPersonCheck
    wanted: BindParameter[str] = bindparam(WANTED, expanding=True)
    since = bindparam(SESSIONS_SINCE, type_=e.occurred_at.type)
    recent = case((e.occurred_at >= since, e.session_id))
    return union_all(
        select(
            e.distinct_id,
            func.max(e.occurred_at),
            func.count(distinct(recent)),
            literal(True),
        )
        .where(e.distinct_id.in_(wanted))
        .group_by(e.distinct_id),
        select(check.distinct_id, check.last_seen_at, literal(0), literal(False)).where(
            check.distinct_id.in_(wanted),
            check.checked_at > bindparam(CHECKED_SINCE, type_=check.checked_at.type),
        ),
    )


@functools.cache
def _activity_statement() -> Select[Any]:
    """The newest ``LIMIT`` events since ``EVENTS_SINCE`` of each person
    ``WANTED``."""
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
            e.distinct_id.in_(bindparam(WANTED, expanding=True)),
            e.occurred_at >= bindparam(EVENTS_SINCE, type_=e.occurred_at.type),
        )
        .subquery()
    )
    return select(ranked).where(ranked.c.rank <= bindparam(LIMIT, type_=Integer()))


async def summaries(
    session: AsyncSession,
    distinct_ids: Sequence[str],
    *,
    session_days: int = SESSION_DAYS,
    now: datetime,
) -> dict[str, PersonSummary]:
    """The persons among ``distinct_ids`` the mirror answers for: last seen
    and sessions."""
    found, _ = await _summaries(session, distinct_ids, session_days, now)
    return found


async def _summaries(
    session: AsyncSession, distinct_ids: Sequence[str], session_days: int, now: datetime
) -> tuple[dict[str, PersonSummary], set[str]]:
    """The summaries, and which of them have events in the mirror."""
    wanted = set(distinct_ids)
    if not wanted:
        return {}, set()
    result: Result[str, datetime | None, int, bool] = await session.execute(
        _summaries_statement(),
        {
            WANTED: list(wanted),
            SESSIONS_SINCE: now - timedelta(days=session_days),
            **checked_since(now),
        },
    )
    found: dict[str, PersonSummary] = {}
    with_events: set[str] = set()
    for distinct_id, last_seen, sessions, mirrored in result:
        if mirrored:
            with_events.add(distinct_id)
        elif distinct_id in with_events or distinct_id in found:
            continue  # the events answer, not an older check
        found[distinct_id] = PersonSummary(last_seen=last_seen, sessions=int(sessions))
    metrics.MIRROR_LOOKUPS.labels(result="hit").inc(len(found))
    metrics.MIRROR_LOOKUPS.labels(result="miss").inc(len(wanted) - len(found))
    return found, with_events


async def activity(
    session: AsyncSession,
    distinct_ids: Sequence[str],
    *,
    limit: int = ACTIVITY_LIMIT,
    days: int = ACTIVITY_DAYS,
    session_days: int = SESSION_DAYS,
    now: datetime,
) -> dict[str, PersonActivity]:
    """The persons among ``distinct_ids`` the mirror answers for: their
    newest ``limit`` events within ``days`` (newest first) and summary."""
    found, with_events = await _summaries(session, distinct_ids, session_days, now)
    if not with_events:
        return {d: PersonActivity(summary=summary) for d, summary in found.items()}
    rows = await session.execute(
        _activity_statement(),
        {
            WANTED: list(with_events),
            EVENTS_SINCE: now - timedelta(days=days),
            LIMIT: limit,
        },
    )
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
