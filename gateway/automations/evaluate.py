"""The periodic evaluation: every active automation with a periodic or
segment trigger, each in a transaction of its own, under an advisory lock
per automation (PostgreSQL), so that two evaluations of one automation take
turns and the second finds the first's runs.

Segment triggers compare the segment's members now with the automation's
snapshot (``automation_members``): who is in and was not entered, who was
and is not exited; the snapshot then becomes the members. The first look
takes the snapshot and fires nothing: creating "entered VIP" does not treat
every current VIP as new. A segment deleted since is logged and skipped.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from procrastinate import App
from sqlalchemy import delete, exists, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.automations.definitions import Definition, parse
from gateway.automations.runs import Pairs, open_runs
from gateway.automations.tables import Automation, AutomationMember
from gateway.automations.triggers import PERIODIC, SEGMENT, selected, utc_day
from gateway.db.upsert import dialect_insert
from gateway.errors import BadUserInput, NotFound, describe
from gateway.insights.segments import member_ids, segment_by_name
from gateway.insights.sql import transaction_lock

log = logging.getLogger("gateway.automations")
LOCK_BASE = 0x63675F61750000  # "cg_au" + the automation's id


def definition_of(row: Automation) -> Definition:
    return parse(row.trigger, row.conditions, row.actions)


async def evaluate_all(
    sessions: async_sessionmaker[AsyncSession], jobs: App, now: datetime
) -> int:
    """Open the runs every periodic trigger selects now; returns how many."""
    async with sessions() as session:
        rows = list(
            await session.scalars(
                select(Automation)
                .where(Automation.status == "active")
                .order_by(Automation.id)
            )
        )
    opened = 0
    for row in rows:
        try:
            definition = definition_of(row)
        except BadUserInput as exc:  # stored before a rule changed: skipped
            log.warning("automation %s skipped: %s", row.id, describe(exc))
            continue
        kind = definition.trigger_kind
        if kind not in PERIODIC and kind not in SEGMENT:
            continue
        async with sessions() as session, session.begin():
            await transaction_lock(session, LOCK_BASE + row.id, wait=True)
            opened += await evaluate_one(session, jobs, row.id, definition, now)
    return opened


async def evaluate_one(
    session: AsyncSession,
    jobs: App,
    automation_id: int,
    definition: Definition,
    now: datetime,
) -> int:
    if definition.trigger_kind in PERIODIC:
        pairs = selected(definition, now)
        return len(
            await open_runs(session, jobs, automation_id, definition, pairs, now)
        )
    try:
        segment = await segment_by_name(session, definition.trigger["segment"])
    except NotFound:
        log.warning("automation %s: its segment no longer exists", automation_id)
        return 0
    current = member_ids(segment, now).subquery("current")
    taken = await session.scalar(
        select(Automation.snapshot_at).where(Automation.id == automation_id)
    )
    opened = 0
    if taken is not None:
        pairs = _differences(automation_id, definition, current.c[0], now)
        ids = await open_runs(session, jobs, automation_id, definition, pairs, now)
        opened = len(ids)
    else:
        await session.execute(
            update(Automation)
            .where(Automation.id == automation_id)
            .values(snapshot_at=now)
        )
    await _snapshot(session, automation_id, current.c[0])
    return opened


def _differences(
    automation_id: int, definition: Definition, member: Any, now: datetime
) -> Pairs:
    """Who entered (a member not in the snapshot) or exited (in the
    snapshot, no longer a member), with today's occasion."""
    m = AutomationMember
    today = utc_day(literal(now, Automation.created_at.type))
    if definition.trigger_kind == "segmentEntered":
        return select(
            member.label("customer_id"),
            literal("entered:").concat(today).label("occasion"),
        ).where(
            ~exists().where(m.automation_id == automation_id, m.customer_id == member)
        )
    return select(
        m.customer_id.label("customer_id"),
        literal("exited:").concat(today).label("occasion"),
    ).where(m.automation_id == automation_id, m.customer_id.not_in(select(member)))


async def _snapshot(session: AsyncSession, automation_id: int, member: Any) -> None:
    """The snapshot becomes the members: the gone deleted, the new added."""
    m = AutomationMember
    await session.execute(
        delete(m).where(
            m.automation_id == automation_id, m.customer_id.not_in(select(member))
        )
    )
    insert = dialect_insert(session, AutomationMember)
    await session.execute(
        insert.from_select(
            ["automation_id", "customer_id"],
            select(literal(automation_id), member).where(
                ~exists().where(
                    m.automation_id == automation_id, m.customer_id == member
                )
            ),
        ).on_conflict_do_nothing(index_elements=["automation_id", "customer_id"])
    )
