"""A batch of persons read from the mirror, answering what PostHog's
``activity_query`` answers (``connectors.posthog.hogql``): each person's
newest ``ACTIVITY_LIMIT`` events within ``ACTIVITY_DAYS``, their last-seen
time (any event, ever) and their distinct sessions within ``SESSION_DAYS``.

The mirror answers for a person it holds any event of, and for one the live
fallback found quiet within the last ``CHECK_TTL``
(``posthog_person_checks``: no events, no sessions, that last-seen time).
Only those are in the answers; the caller sends the others to the live
fallback. Two statements at most per batch of up to ``CHUNK`` persons, both
read from ``(distinct_id, occurred_at, uuid)``'s newest end for each person
(a branch of a ``UNION ALL`` each): the summaries (the last event, and the
sessions since ``SESSION_DAYS``; with the checks) and, for the persons with
events, their newest (``ORDER BY … LIMIT``). A person's older history is
never read, however long.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    CompoundSelect,
    Integer,
    Result,
    Row,
    Select,
    SQLColumnExpression,
    bindparam,
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


SESSIONS_SINCE = "mirror_sessions_since"
EVENTS_SINCE = "mirror_events_since"
LIMIT = "mirror_limit"
"""The bound parameters of the statements below, with each person's
(``_persons``): the statements are built once per number of persons, since
building a ``select`` and its cache key per batch cost more than running it
(docs/benchmarks.md, "The mirror's statements built once")."""

CHUNK = 50
"""Persons per statement at most. Each is a branch of its own (``UNION ALL``),
so that a person's newest events and last event are read from the index's
newest end, however many they have: a window function over the batch, or a
``GROUP BY``, read every event of each person — 35 and 28 ms for one with
50,000 (docs/benchmarks.md, "A person's whole history read for a window")."""


def _person(index: int) -> BindParameter[str]:
    return bindparam(f"mirror_person_{index}", type_=PostHogEvent.distinct_id.type)


def _persons(chunk: Sequence[str]) -> dict[str, str]:
    """The statement's persons' parameters."""
    return {f"mirror_person_{index}": person for index, person in enumerate(chunk)}


def _chunks(persons: Iterable[str]) -> list[list[str]]:
    every = sorted(persons)
    return [every[i : i + CHUNK] for i in range(0, len(every), CHUNK)]


@functools.lru_cache(maxsize=CHUNK)
def _summaries_statement(persons: int) -> CompoundSelect[Any]:
    """Of each of ``persons`` persons that has events, its last event and its
    distinct sessions since ``SESSIONS_SINCE``; by ``UNION ALL``, their checks
    since ``CHECKED_SINCE``."""
    e, check = PostHogEvent, PostHogPersonCheck
    since = bindparam(SESSIONS_SINCE, type_=e.occurred_at.type)
    branches: list[Select[str, datetime | None, int, bool]] = []
    for index in range(persons):
        person = _person(index)
        last = (
            select(e.distinct_id, e.occurred_at)
            .where(e.distinct_id == person)
            .order_by(e.occurred_at.desc())
            .limit(1)
            .subquery()
        )
        sessions = (
            select(func.count(distinct(e.session_id)))
            .where(e.distinct_id == person, e.occurred_at >= since)
            .scalar_subquery()
        )
        branches.append(
            select(last.c.distinct_id, last.c.occurred_at, sessions, literal(True))
        )
    checked = bindparam(CHECKED_SINCE, type_=check.checked_at.type)
    branches.append(
        select(check.distinct_id, check.last_seen_at, literal(0), literal(False)).where(
            check.distinct_id.in_([_person(index) for index in range(persons)]),
            check.checked_at > checked,
        )
    )
    return union_all(*branches)


@functools.lru_cache(maxsize=CHUNK)
def _activity_statement(persons: int) -> CompoundSelect[Any]:
    """The newest ``LIMIT`` events since ``EVENTS_SINCE`` of each of
    ``persons`` persons."""
    e = PostHogEvent
    since = bindparam(EVENTS_SINCE, type_=e.occurred_at.type)
    limit = bindparam(LIMIT, type_=Integer())
    branches = []
    for index in range(persons):
        newest = (
            select(
                e.uuid,
                e.distinct_id,
                e.event,
                e.occurred_at,
                e.url,
                e.path,
                e.session_id,
                e.properties,
            )
            .where(e.distinct_id == _person(index), e.occurred_at >= since)
            .order_by(e.occurred_at.desc(), e.uuid.desc())
            .limit(limit)
            .subquery()
        )
        branches.append(select(newest))
    return union_all(*branches)


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
    rows: list[Row[str, datetime | None, int, bool]] = []
    for chunk in _chunks(wanted):
        result: Result[str, datetime | None, int, bool] = await session.execute(
            _summaries_statement(len(chunk)),
            {
                **_persons(chunk),
                SESSIONS_SINCE: now - timedelta(days=session_days),
                **checked_since(now),
            },
        )
        rows += result
    found: dict[str, PersonSummary] = {}
    with_events: set[str] = set()
    for distinct_id, last_seen, sessions, mirrored in rows:
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
    rows: list[Row[Any]] = []
    for chunk in _chunks(with_events):
        rows += await session.execute(
            _activity_statement(len(chunk)),
            {
                **_persons(chunk),
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
