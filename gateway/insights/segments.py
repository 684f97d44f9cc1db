"""Saved segments: create, preview, list members, and keep membership current.

Membership is materialised in ``segment_members`` so members page by keyset
and exports stream without re-evaluating the filter. ``refresh_memberships``
diffs the filter's matches against the stored members in four set-based
statements per segment (exit events, exits, entry events, entries), either for
everyone or for a ``scope`` of customers whose traits just changed; each
change is recorded in ``segment_membership_events`` for the timeline.

A *dynamic* segment (``segment_rules.is_dynamic``: its filter counts days
from now) changes with the clock alone, between refreshes: its members are
evaluated at read time (``member_ids``), by the same query a preview runs,
while its stored membership still records entries and exits at each refresh.
A filter naming a SKU or a category the facts do not know is refused before
it is previewed or saved (``catalogue.check_known``).

A new segment has nothing to diff against: ``create_segment`` inserts its
matches as members, then an "entered" event per member read back from them,
two statements whatever the size. After either writes ``ANALYZE_AFTER`` rows or
more, PostgreSQL re-analyzes ``segment_members``: the planner otherwise keeps
estimating the table from before the change (500 rows where there are now a
million) and picks nested loops for the next segment's diff.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CursorResult,
    Result,
    Select,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db import models
from gateway.errors import Conflict, GatewayError, NotFound
from gateway.insights.catalogue import check_known
from gateway.insights.segment_filter import Spec, compile_filter, segment_query
from gateway.insights.segment_rules import is_dynamic, product_names
from gateway.insights.sql import analyze
from gateway.insights.tables import Segment, SegmentMember, SegmentMembershipEvent
from gateway.relay.pagination import Cursor, Page
from gateway.validation import clean_name

log = logging.getLogger("gateway.insights")
Scope = Sequence[int] | None
ANALYZE_AFTER = 10_000
NAME_CHARS = 100
ENTRY_COLUMNS = ["customer_id", "segment", "entered", "occurred_at"]


def _members(kind: str) -> Cursor[tuple[int]]:
    """Members of one segment (``segment:<id>``) or of a ``preview``, by id."""
    return Cursor(kind, (int,))


def member_cursor(kind: str, customer_id: int) -> str:
    return _members(kind).encode((customer_id,))


def _after(kind: str, after: str | None) -> int:
    return 0 if after is None else _members(kind).decode(after)[0]


async def check_filter(session: AsyncSession, spec: Spec, now: datetime) -> None:
    """BAD_USER_INPUT for a malformed filter, or one naming a SKU or category
    the facts do not know (one statement, only when it names one)."""
    compile_filter(spec, now)
    await check_known(session, *product_names(spec))


async def _page(
    session: AsyncSession, ids: Select[Any], kind: str, first: int, after: str | None
) -> tuple[int, Page[models.Customer]]:
    """How many customers ``ids`` selects, and a page of them (by id)."""
    count = await session.scalar(select(func.count()).select_from(ids.subquery()))
    rows = await session.scalars(
        select(models.Customer)
        .where(models.Customer.id.in_(ids), models.Customer.id > _after(kind, after))
        .order_by(models.Customer.id)
        .limit(first + 1)
    )
    return int(count or 0), Page.from_rows(list(rows), first)


async def preview(
    session: AsyncSession, spec: Spec, now: datetime, first: int, after: str | None
) -> tuple[int, Page[models.Customer]]:
    """How many customers ``spec`` matches, and the first page (by id)."""
    await check_filter(session, spec, now)
    return await _page(session, segment_query(spec, now), "preview", first, after)


async def create_segment(
    session: AsyncSession, name: str, spec: Spec, now: datetime
) -> Segment:
    """Validate ``spec``, save it and fill its membership."""
    name = clean_name(name, "name", NAME_CHARS)
    await check_filter(session, spec, now)
    segment = Segment(name=name, filter=dict(spec), created_at=now)
    try:
        async with session.begin_nested():
            session.add(segment)
            await session.flush()
    except IntegrityError:
        raise Conflict(f"A segment named {name!r} exists.", field="name") from None
    await _fill(session, segment, now)
    segment.refreshed_at = now
    return segment


async def _fill(session: AsyncSession, segment: Segment, now: datetime) -> None:
    """A new (empty) segment's members and their "entered" events."""
    m, e = SegmentMember, SegmentMembershipEvent
    stamp = literal(now, models.UTCDateTime())
    match = segment_query(segment.filter, now).subquery()
    added = await session.execute(
        insert(m).from_select(
            ["segment_id", "customer_id", "since"],
            select(literal(segment.id), match.c.id, stamp),
        )
    )
    await session.execute(
        insert(e).from_select(
            ENTRY_COLUMNS,
            select(m.customer_id, literal(segment.name), literal(True), stamp).where(
                m.segment_id == segment.id
            ),
        )
    )
    if _rowcount(added) >= ANALYZE_AFTER:
        await analyze(session, SegmentMember)


def _rowcount(result: Result[Any]) -> int:
    """Rows an ``INSERT … SELECT`` or a ``DELETE`` wrote."""
    return max(result.rowcount, 0) if isinstance(result, CursorResult) else 0


def _could_exist(name: str) -> bool:
    """Whether a saved segment may have ``name``. Not only printable ones: a
    segment saved before the creation bounds may hold a line break. None holds
    a NUL or a lone surrogate (PostgreSQL stores neither) or is longer than
    its column."""
    return (
        0 < len(name) <= NAME_CHARS
        and "\x00" not in name
        and not any("\ud800" <= c <= "\udfff" for c in name)
    )


async def segment_by_name(session: AsyncSession, name: str) -> Segment:
    """NOT_FOUND for a name no segment can have (a NUL in an export's path
    reached PostgreSQL, a 500), without asking the database or echoing it."""
    if not _could_exist(name):
        raise NotFound("No segment has this name.", field="name")
    found = await session.scalar(select(Segment).where(Segment.name == name))
    if found is None:
        raise NotFound(f"No segment named {name!r}.", field="name")
    return found


async def all_segments(session: AsyncSession) -> list[Segment]:
    return list(await session.scalars(select(Segment).order_by(Segment.name)))


def member_ids(segment: Segment, now: datetime) -> Select[Any]:
    """``SELECT`` of the ids of ``segment``'s members: evaluated at ``now``
    for a dynamic segment, else as stored."""
    if is_dynamic(segment.filter):
        return segment_query(segment.filter, now)
    m = SegmentMember
    return select(m.customer_id).where(m.segment_id == segment.id)


async def members(
    session: AsyncSession,
    segment: Segment,
    now: datetime,
    first: int,
    after: str | None,
) -> tuple[int, Page[models.Customer]]:
    kind = f"segment:{segment.id}"
    if is_dynamic(segment.filter):
        return await _page(session, member_ids(segment, now), kind, first, after)
    m, c = SegmentMember, models.Customer
    count = await session.scalar(select(func.count()).where(m.segment_id == segment.id))
    rows = await session.scalars(
        select(c)
        .join(m, m.customer_id == c.id)
        .where(m.segment_id == segment.id, c.id > _after(kind, after))
        .order_by(c.id)
        .limit(first + 1)
    )
    return int(count or 0), Page.from_rows(list(rows), first)


async def refresh_memberships(
    session: AsyncSession,
    now: datetime,
    scope: Scope = None,
    segments: Sequence[Segment] | None = None,
) -> list[int]:
    """Bring ``segment_members`` in line with each segment's filter, for
    ``scope`` (everyone when ``None``), recording who entered and who left.

    Returns the ids of the segments skipped: one whose saved filter can no
    longer be compiled or evaluated (saved before today's bounds, or naming
    what no longer exists) is rolled back to its savepoint, logged by id and
    left as it was, and the others are refreshed all the same.
    """
    if scope is not None and not scope:
        return []
    if segments is None:
        segments = list(await session.scalars(select(Segment).order_by(Segment.id)))
    skipped = []
    for segment in segments:
        try:
            async with session.begin_nested():
                changed = await _refresh_one(session, segment, now, scope)
        except (GatewayError, SQLAlchemyError) as exc:
            log.warning(
                "segment %s skipped: its filter cannot be evaluated (%s)",
                segment.id,
                type(exc).__name__,
            )
            skipped.append(segment.id)
            continue
        if changed >= ANALYZE_AFTER:
            await analyze(session, SegmentMember)
        segment.refreshed_at = now
    return skipped


async def _refresh_one(
    session: AsyncSession, segment: Segment, now: datetime, scope: Scope
) -> int:
    """Apply one segment's diff; returns how many members it added or removed."""
    m, e, c = SegmentMember, SegmentMembershipEvent, models.Customer
    match = segment_query(segment.filter, now)
    if scope is not None:
        match = match.where(c.id.in_(list(scope)))
    in_scope = [] if scope is None else [m.customer_id.in_(list(scope))]
    leaving = select(m.customer_id).where(
        m.segment_id == segment.id,
        *in_scope,
        ~exists(match.where(c.id == m.customer_id)),
    )
    stamp = literal(now, models.UTCDateTime())
    await session.execute(
        insert(e).from_select(
            ENTRY_COLUMNS,
            select(
                leaving.subquery().c.customer_id,
                literal(segment.name),
                literal(False),
                stamp,
            ),
        )
    )
    left = await session.execute(
        delete(m).where(m.segment_id == segment.id, m.customer_id.in_(leaving))
    )
    entering = match.where(
        ~exists().where(m.segment_id == segment.id, m.customer_id == c.id)
    ).subquery()
    await session.execute(
        insert(e).from_select(
            ENTRY_COLUMNS,
            select(entering.c.id, literal(segment.name), literal(True), stamp),
        )
    )
    entered = await session.execute(
        insert(m).from_select(
            ["segment_id", "customer_id", "since"],
            select(literal(segment.id), entering.c.id, stamp),
        )
    )
    return _rowcount(left) + _rowcount(entered)
