"""Changing and removing saved segments (``updateSegment``, ``deleteSegment``).

A new filter is checked as a new segment's is (``segments.check_filter``)
before anything changes, then the stored membership is diffed against it in
the same transaction: who no longer matches leaves, who now matches enters,
each recorded in ``segment_membership_events`` under the segment's (new)
name; earlier events keep the name they were recorded under. A rename to a
name another segment has is CONFLICT. Deleting a segment removes its stored
members with it (``ON DELETE CASCADE``) and records no exits: the customers did
not change, the segment is gone.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.errors import Conflict
from gateway.insights.segment_filter import Spec
from gateway.insights.segments import (
    NAME_CHARS,
    check_filter,
    refresh_memberships,
    segment_by_name,
)
from gateway.insights.tables import Segment
from gateway.validation import clean_name


async def update_segment(
    session: AsyncSession,
    name: str,
    now: datetime,
    *,
    new_name: str | None = None,
    spec: Spec | None = None,
) -> Segment:
    """Rename the segment ``name`` and/or give it a new filter."""
    segment = await segment_by_name(session, name)
    if new_name is not None:
        new_name = clean_name(new_name, "newName", NAME_CHARS)
    if spec is not None:
        await check_filter(session, spec, now)
    if new_name is not None and new_name != segment.name:
        try:
            async with session.begin_nested():
                segment.name = new_name
                await session.flush()
        except IntegrityError:
            raise Conflict(
                f"A segment named {new_name!r} exists.", field="newName"
            ) from None
    if spec is not None:
        segment.filter = dict(spec)
        await session.flush()
        await refresh_memberships(session, now, segments=[segment])
    return segment


async def delete_segment(session: AsyncSession, name: str) -> str:
    """Remove the segment ``name`` and its stored members; returns the name."""
    segment = await segment_by_name(session, name)
    await session.execute(delete(Segment).where(Segment.id == segment.id))
    return segment.name
