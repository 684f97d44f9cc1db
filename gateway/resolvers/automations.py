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
from gateway.automations.definitions import Definition, check, hidden_from, parse
from gateway.automations.dry_run import DryRun, dry_run
from gateway.automations.tables import Automation, AutomationRun
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


def _visible(info: Info, definition: Definition) -> None:
    role = info.context.role
    if hidden := hidden_from(role, definition):
        raise Forbidden(
            f"The {role} role may not use an automation that compares"
            f" {', '.join(hidden)}: it does not see them in full.",
            argument=hidden[0],
        )


def automation_pk(value: str, field: str = "id") -> int:
    return decode_global_id(value, "Automation", field)[1]


async def create(
    info: Info, name: str, trigger: object, conditions: object, actions: object
) -> Automation:
    _manager(info)
    definition = parse(trigger, conditions, actions)
    _visible(info, definition)
    async with info.context.services.sessions() as session, session.begin():
        return await service.create(
            session, name, definition, info.context.actor, utcnow()
        )


async def update(info: Info, automation_id: str, **changes: Any) -> Automation:
    _manager(info)
    pk = automation_pk(automation_id)
    async with info.context.services.sessions() as session, session.begin():
        row = await service.update_definition(session, pk, utcnow(), **changes)
        _visible(info, service.definition_of(row))
        return row


async def set_status(info: Info, automation_id: str, status: str) -> Automation:
    _manager(info)
    services = info.context.services
    async with services.sessions() as session, session.begin():
        row = await service.get(session, automation_pk(automation_id))
        _visible(info, service.definition_of(row))
        return await service.set_status(session, services.jobs, row.id, status)


async def delete(info: Info, automation_id: str) -> int:
    _manager(info)
    async with info.context.services.sessions() as session, session.begin():
        row = await service.get(session, automation_pk(automation_id))
        _visible(info, service.definition_of(row))
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
        every = await service.listed(session)
        shown = [
            item.automation.id
            for item in every
            if not hidden_from(role, service.definition_of(item.automation))
        ]
        pk = None
        if automation_id is not None:
            pk = automation_pk(automation_id, "automationId")
            _visible(info, service.definition_of(await service.get(session, pk)))
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
        _visible(
            info, service.definition_of(await service.get(session, run.automation_id))
        )
        return await service.retry(session, services.jobs, pk)


async def dry(
    info: Info,
    automation_id: str | None,
    definition: Mapping[str, object] | None,
    customer_id: str,
) -> DryRun:
    _manager(info)
    customer = customer_pk(customer_id)
    async with info.context.services.sessions() as session:
        pk = None
        if automation_id is not None:
            pk = automation_pk(automation_id, "automationId")
            parsed = service.definition_of(await service.get(session, pk))
        else:
            assert definition is not None
            parsed = parse(
                definition["trigger"],
                definition.get("conditions"),
                definition["actions"],
            )
            await check(session, parsed, utcnow())
        _visible(info, parsed)
        return await dry_run(session, pk, parsed, customer, utcnow())
