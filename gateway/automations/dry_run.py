"""What an automation would do for one customer now, nothing written: a
dry run (``dryRunAutomation``).

It reads what a real evaluation reads — the trigger's selection limited to the
customer, each top-level condition on its own (so the answer says which held),
the run the occasion may already have — and previews each action's payload
(``gateway.automations.actions.preview``). Only ``SELECT``s are sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.automations.actions import preview
from gateway.automations.definitions import Definition
from gateway.automations.tables import Automation, AutomationMember, AutomationRun
from gateway.automations.triggers import PERIODIC, SEGMENT, limited_to, selected
from gateway.db import models
from gateway.errors import NotFound
from gateway.insights.segment_filter import segment_query
from gateway.insights.segments import member_ids, segment_by_name

EVENT_NOTES = {
    "orderPlaced": "Fires when the customer places an order.",
    "ticketRatedBad": "Fires when the customer rates a ticket bad.",
}


@dataclass(frozen=True, slots=True)
class DryRun:
    would_run: bool
    trigger_selects: bool
    occasion: str | None
    note: str | None
    conditions: dict[str, bool] = field(default_factory=dict)
    """Each top-level condition and whether the customer meets it."""
    already_ran: bool = False
    actions: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


async def _selection(
    session: AsyncSession,
    saved: Automation | None,
    definition: Definition,
    customer_id: int,
    now: datetime,
) -> tuple[bool, str | None, str | None]:
    automation_id = saved.id if saved is not None else None
    kind = definition.trigger_kind
    if kind in PERIODIC:
        row = (
            await session.execute(limited_to(selected(definition, now), customer_id))
        ).first()
        return (row is not None, row[1] if row else None, None)
    if kind in SEGMENT:
        segment = await segment_by_name(session, definition.trigger["segment"])
        current = member_ids(segment, now).subquery("current")
        found = await session.scalar(
            select(current.c[0]).where(current.c[0] == customer_id)
        )
        member = found is not None
        held = automation_id is not None and bool(
            await session.scalar(
                select(AutomationMember.customer_id).where(
                    AutomationMember.automation_id == automation_id,
                    AutomationMember.customer_id == customer_id,
                )
            )
        )
        entered = kind == "segmentEntered"
        selects = member and not held if entered else held and not member
        day = now.date().isoformat()
        occasion = f"{'entered' if entered else 'exited'}:{day}" if selects else None
        looked = saved is not None and saved.snapshot_at is not None
        note = None if looked else "A new automation's first look fires none."
        return selects and looked, occasion, note
    return True, None, EVENT_NOTES[kind]


async def dry_run(
    session: AsyncSession,
    saved: Automation | None,
    definition: Definition,
    customer_id: int,
    now: datetime,
) -> DryRun:
    """What ``definition`` (``saved``'s, or one not saved) would do for the
    customer now. A paused automation would not run: ``note`` says so."""
    if await session.get(models.Customer, customer_id) is None:
        raise NotFound("No customer with this id.", field="customerId")
    automation_id = saved.id if saved is not None else None
    selects, occasion, note = await _selection(
        session, saved, definition, customer_id, now
    )
    paused = saved is not None and saved.status == "paused"
    if paused:
        note = "The automation is paused: it opens no run until it is resumed."
    conditions: dict[str, bool] = {}
    for key, value in (definition.conditions or {}).items():
        if value is None:
            continue
        members = segment_query({key: value}, now).where(
            models.Customer.id == customer_id
        )
        conditions[key] = (await session.scalar(members)) is not None
    ran = False
    if occasion is not None and automation_id is not None:
        ran = (
            await session.scalar(
                select(AutomationRun.id).where(
                    AutomationRun.automation_id == automation_id,
                    AutomationRun.customer_id == customer_id,
                    AutomationRun.occasion == occasion,
                )
            )
        ) is not None
    return DryRun(
        would_run=selects and all(conditions.values()) and not ran and not paused,
        trigger_selects=selects,
        occasion=occasion,
        note=note,
        conditions=conditions,
        already_ran=ran,
        actions=[
            (kind, preview(kind, params, customer_id, now))
            for kind, params in definition.actions
        ],
    )
