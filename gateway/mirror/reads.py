"""A batch of persons read from the mirror, answering what PostHog's
``activity_query`` answers (``connectors.posthog.hogql``): each person's
newest ``ACTIVITY_LIMIT`` events within ``ACTIVITY_DAYS``, their last-seen
time (any event, ever) and their distinct sessions within ``SESSION_DAYS``.

The mirror answers for a person it holds any event of, and for one the live
fallback found quiet within the last ``CHECK_TTL``
(``posthog_person_checks``: no events, no sessions, that last-seen time).
Only those are in the answers; the caller sends the others to the live
fallback. Two statements per batch (per ``CHUNK`` persons on SQLite): the
summaries (each person's last event, and their sessions since
``SESSION_DAYS``; with the checks) and, for the persons with events, their
newest (``ORDER BY occurred_at DESC, uuid DESC LIMIT``), each person's read
on its own from ``(distinct_id, occurred_at, uuid)``. A person's history
before the days a value covers is never read, however long.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    CompoundSelect,
    Integer,
    Result,
    Row,
    ScalarSelect,
    Select,
    SQLColumnExpression,
    any_,
    bindparam,
    distinct,
    exists,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.selectable import TableValuedAlias

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
PERSONS = "mirror_persons"
"""The bound parameters of the statements below, with the persons: one array
on PostgreSQL, one parameter each on SQLite (``_batches``). The statements are
built once (per number of persons on SQLite): building a ``select`` and its
cache key per batch cost more than running it (docs/benchmarks.md, "The
mirror's statements built once")."""

CHUNK = 50
"""Persons per statement at most on SQLite, where each is a branch of its own
(``UNION ALL``); PostgreSQL joins each person of one array to its reads
(``LATERAL``: a ``UNION ALL`` of 50 branches costs it ~4 ms to plan, each time
behind PgBouncer, which keeps no prepared statement). A window function over
the batch, or a ``GROUP BY``, read every event of each person: 35 and 28 ms
for one with 50,000 (docs/benchmarks.md, "A person's whole history read for a
window")."""

_EVENT: tuple[Any, ...] = (
    PostHogEvent.uuid,
    PostHogEvent.distinct_id,
    PostHogEvent.event,
    PostHogEvent.occurred_at,
    PostHogEvent.url,
    PostHogEvent.path,
    PostHogEvent.session_id,
    PostHogEvent.properties,
)
_NEWEST = (PostHogEvent.occurred_at.desc(), PostHogEvent.uuid.desc())
"""The index's order: a read in any other (``occurred_at`` alone) may be
planned on ``ix_posthog_events_occurred_at``, walking everyone's events."""


def _newest_events(
    person: ColumnElement[str], columns: tuple[Any, ...] = _EVENT
) -> Select[Any]:
    """The person's newest ``LIMIT`` events since ``EVENTS_SINCE``."""
    e = PostHogEvent
    since = bindparam(EVENTS_SINCE, type_=e.occurred_at.type)
    return (
        select(*columns)
        .where(e.distinct_id == person, e.occurred_at >= since)
        .order_by(*_NEWEST)
        .limit(bindparam(LIMIT, type_=Integer()))
    )


def _last_event(person: ColumnElement[str]) -> Select[Any]:
    e = PostHogEvent
    return (
        select(e.occurred_at).where(e.distinct_id == person).order_by(*_NEWEST).limit(1)
    )


def _sessions(person: ColumnElement[str]) -> ScalarSelect[int]:
    """The person's distinct sessions since ``SESSIONS_SINCE``."""
    e = PostHogEvent
    since = bindparam(SESSIONS_SINCE, type_=e.occurred_at.type)
    return (
        select(func.count(distinct(e.session_id)))
        .where(e.distinct_id == person, e.occurred_at >= since)
        .scalar_subquery()
    )


def _checks(wanted: ColumnElement[bool]) -> Select[str, datetime | None, int, bool]:
    """The checks since ``CHECKED_SINCE`` of the persons ``wanted`` holds for."""
    check = PostHogPersonCheck
    since = bindparam(CHECKED_SINCE, type_=check.checked_at.type)
    return select(
        check.distinct_id, check.last_seen_at, literal(0), literal(False)
    ).where(wanted, check.checked_at > since)


@functools.cache
def _array() -> tuple[BindParameter[Sequence[str]], TableValuedAlias]:
    """PostgreSQL's persons: the array ``PERSONS``, and its rows."""
    persons = bindparam(PERSONS, type_=ARRAY(PostHogEvent.distinct_id.type))
    rows = func.unnest(persons).table_valued("distinct_id").render_derived("persons")
    return persons, rows


@functools.cache
def _array_summaries() -> CompoundSelect[Any]:
    persons, rows = _array()
    person = rows.c.distinct_id
    last = _last_event(person).lateral("last")
    return union_all(
        select(person, last.c.occurred_at, _sessions(person), literal(True))
        .select_from(rows)
        .join(last, true()),
        _checks(PostHogPersonCheck.distinct_id == any_(persons)),
    )


@functools.cache
def _array_activity() -> Select[Any]:
    """The newest events' ids in the index's order, then the events by their
    ids. A person joined from the array is an average one to the planner:
    guessing few events, it may read the ids of their last ``EVENTS_SINCE``
    days by a bitmap scan and sort them, never their older history."""
    _, rows = _array()
    newest = (
        _newest_events(rows.c.distinct_id, (PostHogEvent.uuid,))
        .correlate(rows)
        .lateral("newest")
    )
    shown = aliased(PostHogEvent, name="shown")
    columns = [getattr(shown, column.key) for column in _EVENT]
    return (
        select(*columns)
        .select_from(rows)
        .join(newest, true())
        .join(shown, shown.uuid == newest.c.uuid)
    )


def _person_key(index: int) -> str:
    return f"mirror_person_{index}"


def _person(index: int) -> BindParameter[str]:
    return bindparam(_person_key(index), type_=PostHogEvent.distinct_id.type)


@functools.lru_cache(maxsize=CHUNK)
def _branched_summaries(persons: int) -> CompoundSelect[Any]:
    """SQLite's: a branch per person, then the checks."""
    branches: list[Select[str, datetime | None, int, bool]] = []
    for index in range(persons):
        person = _person(index)
        newest = _last_event(person).add_columns(PostHogEvent.distinct_id).subquery()
        branches.append(
            select(
                newest.c.distinct_id,
                newest.c.occurred_at,
                _sessions(person),
                literal(True),
            )
        )
    wanted = [_person(index) for index in range(persons)]
    branches.append(_checks(PostHogPersonCheck.distinct_id.in_(wanted)))
    return union_all(*branches)


@functools.lru_cache(maxsize=CHUNK)
def _branched_activity(persons: int) -> CompoundSelect[Any]:
    """SQLite's: a branch per person."""
    return union_all(
        *(select(_newest_events(_person(index)).subquery()) for index in range(persons))
    )


Statement = CompoundSelect[Any] | Select[Any]


def _batches(
    session: AsyncSession,
    persons: Iterable[str],
    array: Callable[[], Statement],
    branched: Callable[[int], Statement],
) -> list[tuple[Statement, dict[str, Any]]]:
    """The statements that read ``persons``, each with its persons' parameters."""
    every = sorted(persons)
    if session.get_bind().dialect.name == "postgresql":
        return [(array(), {PERSONS: every})]
    chunks = [every[i : i + CHUNK] for i in range(0, len(every), CHUNK)]
    return [
        (branched(len(chunk)), {_person_key(i): p for i, p in enumerate(chunk)})
        for chunk in chunks
    ]


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
    times = {SESSIONS_SINCE: now - timedelta(days=session_days), **checked_since(now)}
    for statement, persons in _batches(
        session, wanted, _array_summaries, _branched_summaries
    ):
        result: Result[str, datetime | None, int, bool] = await session.execute(
            statement, {**persons, **times}
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
    metrics.labelled(metrics.MIRROR_LOOKUPS, result="hit").inc(len(found))
    metrics.labelled(metrics.MIRROR_LOOKUPS, result="miss").inc(
        len(wanted) - len(found)
    )
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
    times = {EVENTS_SINCE: now - timedelta(days=days), LIMIT: limit}
    for statement, persons in _batches(
        session, with_events, _array_activity, _branched_activity
    ):
        rows += await session.execute(statement, {**persons, **times})
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
