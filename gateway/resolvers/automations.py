"""Automations: who may manage them, ids decoded, the work delegated to
``gateway.automations`` in one short transaction each.

Only admin and marketing manage automations and read their runs
(``policy.CAMPAIGN_MANAGERS``).
A definition comparing personal data the caller's role does not see in full
is refused to create, and its runs are not listed to that role (a
day-precise birthday run tells the birthday): the gate refuses such input
fields before execution (``policy.COMPARED``), and ``hidden_from`` holds the
stored ones to the same rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.auth.policy import CAMPAIGN_MANAGERS
from gateway.automations import service
from gateway.automations.definitions import (
    check,
    hidden_from,
    parse,
    segment_filters,
)
from gateway.automations.dry_run import DryRun, dry_run
from gateway.automations.tables import Automation, AutomationRun
from gateway.automations.upstream_checks import check_upstream
from gateway.db.models import utcnow
from gateway.errors import Forbidden
from gateway.relay.ids import customer_pk, decode_global_id
from gateway.relay.pagination import Cursor, Page, check_first
from gateway.resolvers.context import Info

RUNS: Cursor[tuple[int]] = Cursor("automation_runs", (int,))


def _manager(info: Info) -> None:
    """The gate refuses other roles first (``policy.ROOT_FIELD_ROLES``); this
    holds the rule for any caller that reaches a resolver another way."""
    role = info.context.role
    if role not in CAMPAIGN_MANAGERS:
        raise Forbidden(f"The {role} role may not manage automations.")


def automation_pk(value: str, field: str = "id") -> int:
    return decode_global_id(value, "Automation", field)[1]


async def create(
    info: Info, name: str, trigger: object, conditions: object, actions: object
) -> Automation:
    _manager(info)
    definition = parse(trigger, conditions, actions)
    services = info.context.services
    async with services.sessions() as session:
        await service.check_visible(session, info.context.role, definition)
    await check_upstream(services, definition)
    async with services.sessions() as session, session.begin():
        return await service.create(
            session, name, definition, info.context.actor, utcnow()
        )


async def update(info: Info, automation_id: str, **changes: Any) -> Automation:
    """Allowed only to a role that may use the automation as it is and as it
    will be: changing a definition it may not see must not open its runs."""
    _manager(info)
    pk = automation_pk(automation_id)
    services = info.context.services
    async with services.sessions() as session:
        row = await service.get(session, pk)
        current = service.definition_of(row)
        await service.check_visible(session, info.context.role, current)
        changed = service.changed_definition(row, **changes)
        await service.check_visible(session, info.context.role, changed)
    if changed.actions != current.actions:
        await check_upstream(services, changed)
    async with services.sessions() as session, session.begin():
        return await service.update_definition(session, pk, utcnow(), **changes)


async def set_status(info: Info, automation_id: str, status: str) -> Automation:
    _manager(info)
    services = info.context.services
    async with services.sessions() as session, session.begin():
        row = await service.get(session, automation_pk(automation_id))
        await service.check_visible(session, info.context.role, row)
        return await service.set_status(session, services.jobs, row.id, status)


async def delete(info: Info, automation_id: str) -> int:
    _manager(info)
    async with info.context.services.sessions() as session, session.begin():
        row = await service.get(session, automation_pk(automation_id))
        await service.check_visible(session, info.context.role, row)
        return await service.remove(session, row.id)


async def automations(info: Info) -> list[service.Listed]:
    _manager(info)
    async with info.context.services.sessions() as session:
        return await service.listed(session)


def run_cursor(run: AutomationRun) -> str:
    return RUNS.encode((run.id,))


async def runs(
    info: Info,
    automation_id: str | None,
    customer_id: str | None,
    status: str | None,
    first: int,
    after: str | None,
) -> Page[AutomationRun]:
    _manager(info)
    check_first(first, info.context.services.settings.max_page_size)
    role = info.context.role
    start = RUNS.decode(after)[0] if after is not None else None
    async with info.context.services.sessions() as session:
        every = {
            item.automation.id: service.definition_of(item.automation)
            for item in await service.listed(session)
        }
        segments = await segment_filters(session, every.values())
        shown = [
            pk
            for pk, definition in every.items()
            if not hidden_from(role, definition, segments)
        ]
        pk = None
        if automation_id is not None:
            pk = automation_pk(automation_id, "automationId")
            row = await service.get(session, pk)
            await service.check_visible(session, info.context.role, row)
        return await service.runs(
            session,
            first,
            start,
            automation_id=pk,
            customer_id=customer_pk(customer_id) if customer_id else None,
            status=status,
            among=shown,
        )


async def retry_run(info: Info, run_id: str) -> AutomationRun:
    _manager(info)
    pk = decode_global_id(run_id, "AutomationRun")[1]
    services = info.context.services
    async with services.sessions() as session, session.begin():
        run = await service.run_by_id(session, pk)
        row = await service.get(session, run.automation_id)
        await service.check_visible(session, info.context.role, row)
        return await service.retry(session, services.jobs, pk)


async def dry(
    info: Info,
    automation_id: str | None,
    definition: Mapping[str, object] | None,
    customer_id: str,
) -> DryRun:
    _manager(info)
    customer = customer_pk(customer_id)
    services = info.context.services
    saved = None
    async with services.sessions() as session:
        if automation_id is not None:
            pk = automation_pk(automation_id, "automationId")
            saved = await service.get(session, pk)
            parsed = service.definition_of(saved)
        else:
            assert definition is not None
            parsed = parse(
                definition["trigger"],
                definition.get("conditions"),
                definition["actions"],
            )
        await service.check_visible(session, info.context.role, parsed)
        if saved is None:
            await check(session, parsed, utcnow())
    if saved is None:
        await check_upstream(services, parsed)
    async with services.sessions() as session:
        return await dry_run(session, saved, parsed, customer, utcnow())
