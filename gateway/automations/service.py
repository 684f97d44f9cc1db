"""Managing automations: create, update, pause, resume, delete, list with
their runs' counts, page through runs, revive a dead run.

Each function takes a session inside the caller's transaction; a check that
fails raises before anything is written. Names are unique
(CONFLICT otherwise). Who may call them is the gate's and the resolvers'
check (``policy.CAMPAIGN_MANAGERS``); what a definition may compare with is
``gateway.automations.definitions.hidden_from``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from procrastinate import App
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth.policy import Role
from gateway.automations.definitions import (
    Definition,
    check,
    hidden_from,
    not_past,
    parse,
    segment_filters,
)
from gateway.automations.runs import EXECUTE_RUN, run_job
from gateway.automations.tables import (
    CLAIMABLE,
    RUN_STATUSES,
    Automation,
    AutomationRun,
)
from gateway.db.races import is_unique_violation
from gateway.errors import BadUserInput, Conflict, Forbidden, NotFound
from gateway.jobs.deferral import defer_with
from gateway.relay.pagination import Page
from gateway.validation import clean_name

REVIVABLE = ("dead", "failed")


@dataclass(frozen=True, slots=True)
class Listed:
    automation: Automation
    counts: Mapping[str, int]
    """Runs by status (every status present, 0 when none)."""


def _name(value: str) -> str:
    return clean_name(value, "name", 200)


async def _unique(session: AsyncSession) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
        raise Conflict("An automation with this name exists.", field="name") from exc


async def create(
    session: AsyncSession,
    name: str,
    definition: Definition,
    actor: str,
    now: datetime,
) -> Automation:
    await check(session, definition, now)
    not_past(definition, now)
    row = Automation(
        name=_name(name),
        **stored(definition),
        status="active",
        created_by=clean_name(actor, "createdBy", 200),
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await _unique(session)
    return row


async def get(session: AsyncSession, automation_id: int) -> Automation:
    row = await session.get(Automation, automation_id)
    if row is None:
        raise NotFound("No automation with this id.", field="id")
    return row


def definition_of(row: Automation) -> Definition:
    return parse(row.trigger, row.conditions, row.actions)


async def check_visible(
    session: AsyncSession, role: Role, *items: Definition | Automation
) -> None:
    """FORBIDDEN when any of the definitions (or stored automations) compares
    what ``role`` does not see in full, its trigger segment's filter included
    (``hidden_from``)."""
    definitions = [definition_of(i) if isinstance(i, Automation) else i for i in items]
    segments = await segment_filters(session, definitions)
    for definition in definitions:
        if hidden := hidden_from(role, definition, segments):
            raise Forbidden(
                f"The {role} role may not use an automation that compares"
                f" {', '.join(hidden)}: it does not see them in full.",
                argument=hidden[0],
            )


def changed_definition(
    row: Automation,
    *,
    name: str | None = None,
    trigger: object = None,
    conditions: object = None,
    actions: object = None,
    clear_conditions: bool = False,
) -> Definition:
    """``row``'s definition with what is given changed (shape checked only).
    ``conditions`` replaces the stored ones (an empty filter included);
    ``clearConditions`` removes them, and giving both is refused."""
    if clear_conditions and conditions is not None:
        raise BadUserInput(
            "Give `conditions` or `clearConditions`, not both.", field="conditions"
        )
    return parse(
        trigger if trigger is not None else row.trigger,
        None
        if clear_conditions
        else (conditions if conditions is not None else row.conditions),
        actions if actions is not None else row.actions,
    )


async def update_definition(
    session: AsyncSession,
    automation_id: int,
    now: datetime,
    *,
    name: str | None = None,
    trigger: object = None,
    conditions: object = None,
    actions: object = None,
    clear_conditions: bool = False,
) -> Automation:
    """Change what is given; the rest stays. A new trigger starts a new
    segment snapshot."""
    row = await get(session, automation_id)
    current = definition_of(row)
    definition = changed_definition(
        row,
        trigger=trigger,
        conditions=conditions,
        actions=actions,
        clear_conditions=clear_conditions,
    )
    await check(session, definition, now)
    if trigger is not None:
        not_past(definition, now)
    if name is not None:
        row.name = _name(name)
    if (
        definition.trigger_kind != current.trigger_kind
        or definition.trigger != current.trigger
    ):
        row.snapshot_at = None
    for key, value in stored(definition).items():
        setattr(row, key, value)
    row.updated_at = now
    await _unique(session)
    return row


async def set_status(
    session: AsyncSession, jobs: App, automation_id: int, status: str
) -> Automation:
    """Pause (``paused``: no new runs, queued ones held before their next
    action) or resume (``active``): a resumed automation's held runs are
    queued again, in this transaction."""
    row = await get(session, automation_id)
    resumed = row.status != "active" and status == "active"
    row.status = status
    await session.flush()
    if resumed:
        r = AutomationRun
        held = await session.scalars(
            select(r.id)
            .where(r.automation_id == automation_id, r.status.in_(CLAIMABLE))
            .order_by(r.id)
        )
        await defer_with(session, jobs, EXECUTE_RUN, [run_job(i) for i in held])
    return row


async def remove(session: AsyncSession, automation_id: int) -> int:
    """Delete the automation and its runs (the customers' history keeps the
    entries of finished runs)."""
    await get(session, automation_id)
    await session.execute(delete(Automation).where(Automation.id == automation_id))
    return automation_id


async def listed(session: AsyncSession) -> list[Listed]:
    """Every automation by name, with its runs counted by status (one query
    for the counts)."""
    rows = list(await session.scalars(select(Automation).order_by(Automation.name)))
    r = AutomationRun
    counted = await session.execute(
        select(r.automation_id, r.status, func.count()).group_by(
            r.automation_id, r.status
        )
    )
    counts: dict[int, dict[str, int]] = {}
    for automation_id, status, count in counted:
        counts.setdefault(automation_id, {})[status] = count
    return [
        Listed(row, {s: counts.get(row.id, {}).get(s, 0) for s in RUN_STATUSES})
        for row in rows
    ]


async def runs(
    session: AsyncSession,
    first: int,
    after: int | None,
    *,
    automation_id: int | None = None,
    customer_id: int | None = None,
    status: str | None = None,
    among: list[int] | None = None,
) -> Page[AutomationRun]:
    """Runs newest first (by id), keyset-paginated; ``among``: of these
    automations only."""
    r = AutomationRun
    query = select(r)
    if among is not None:
        query = query.where(r.automation_id.in_(among))
    if automation_id is not None:
        query = query.where(r.automation_id == automation_id)
    if customer_id is not None:
        query = query.where(r.customer_id == customer_id)
    if status is not None:
        query = query.where(r.status == status)
    if after is not None:
        query = query.where(r.id < after)
    found = await session.scalars(query.order_by(r.id.desc()).limit(first + 1))
    return Page.from_rows(list(found), first)


async def run_by_id(session: AsyncSession, run_id: int) -> AutomationRun:
    run = await session.get(AutomationRun, run_id)
    if run is None:
        raise NotFound("No automation run with this id.", field="id")
    return run


async def retry(session: AsyncSession, jobs: App, run_id: int) -> AutomationRun:
    """A dead (or failed) run back to ``pending`` with a new job: its actions
    already done stay done."""
    r = AutomationRun
    revived = await session.scalar(
        update(r)
        .where(r.id == run_id, r.status.in_(REVIVABLE))
        .values(status="pending", error=None, finished_at=None)
        .returning(r)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    if revived is None:
        await run_by_id(session, run_id)
        raise BadUserInput("Only a dead or failed run can be retried.", field="id")
    await defer_with(session, jobs, EXECUTE_RUN, [run_job(run_id)])
    return revived


def stored(definition: Definition) -> dict[str, Any]:
    """The columns a definition is stored in: its inputs' JSON."""
    return {
        "trigger": {definition.trigger_kind: dict(definition.trigger) or True},
        "conditions": dict(definition.conditions) if definition.conditions else None,
        "actions": [{kind: dict(spec)} for kind, spec in definition.actions],
    }
