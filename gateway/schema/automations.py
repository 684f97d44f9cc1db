"""Automations (docs/automations.md): their definitions with their runs'
counts, the runs, a dry run, and the mutations that manage them. Admin and
marketing only; fields delegate to ``gateway.resolvers.automations``."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from gateway.automations.service import Listed
from gateway.errors import BadUserInput
from gateway.resolvers import automations as resolve
from gateway.resolvers.context import Info
from gateway.schema.automation_inputs import (
    AutomationAction,
    AutomationDefinition,
    AutomationTrigger,
    definition_json,
)
from gateway.schema.automation_types import (
    Automation,
    AutomationDryRun,
    AutomationRun,
    AutomationRunConnection,
    AutomationRunStatus,
)
from gateway.schema.segment_inputs import SegmentFilter


def _listed(item: Listed) -> Automation:
    return Automation.of(item.automation, dict(item.counts))


@strawberry.type
class AutomationQuery:
    @strawberry.field(description="Every automation by name, with its runs' counts.")
    async def automations(self, info: Info) -> list[Automation]:
        return [_listed(item) for item in await resolve.automations(info)]

    @strawberry.field(description="Runs, newest first; every filter given holds.")
    async def automation_runs(
        self,
        info: Info,
        automation_id: strawberry.ID | None = None,
        customer_id: strawberry.ID | None = None,
        status: AutomationRunStatus | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> AutomationRunConnection:
        page = await resolve.runs(
            info,
            automation_id,
            customer_id,
            status.value if status else None,
            first,
            after,
        )
        return AutomationRunConnection.build(
            page.items, resolve.run_cursor, AutomationRun.of,
            has_next=page.has_next, has_previous=after is not None,
        )  # fmt: skip

    @strawberry.field(
        description="What a saved automation (`automationId`) or a definition would"
        " do for a customer now; nothing is written. Exactly one of the two."
    )
    async def dry_run_automation(
        self,
        info: Info,
        customer_id: strawberry.ID,
        automation_id: strawberry.ID | None = None,
        definition: AutomationDefinition | None = None,
    ) -> AutomationDryRun:
        if (automation_id is None) == (definition is None):
            raise BadUserInput("Give automationId or definition.", field="automationId")
        spec = (
            definition_json(
                definition.trigger, definition.conditions, definition.actions
            )
            if definition is not None
            else None
        )
        return AutomationDryRun.of(
            await resolve.dry(info, automation_id, spec, customer_id)
        )


@strawberry.type
class AutomationMutation:
    @strawberry.mutation(
        description="Save an automation, active. BAD_USER_INPUT naming the field"
        " for anything wrong; nothing is saved then."
    )
    async def create_automation(
        self,
        info: Info,
        name: str,
        trigger: AutomationTrigger,
        actions: list[AutomationAction],
        conditions: SegmentFilter | None = None,
    ) -> Automation:
        spec = definition_json(trigger, conditions, actions)
        row = await resolve.create(info, name, **spec)
        return Automation.of(row)

    @strawberry.mutation(
        description="Change what is given; a new trigger starts a new segment"
        " snapshot. `clearConditions` removes the conditions."
    )
    async def update_automation(
        self,
        info: Info,
        id: strawberry.ID,
        name: str | None = None,
        trigger: AutomationTrigger | None = None,
        conditions: SegmentFilter | None = None,
        actions: list[AutomationAction] | None = None,
        clear_conditions: bool = False,
    ) -> Automation:
        spec: dict[str, Any] = definition_json(trigger, conditions, actions)
        row = await resolve.update(
            info, id, name=name, clear_conditions=clear_conditions, **spec
        )
        return Automation.of(row)

    @strawberry.mutation(
        description=(
            "Stop opening runs; queued runs are held before their next action"
            " until resumed."
        )
    )
    async def pause_automation(self, info: Info, id: strawberry.ID) -> Automation:
        return Automation.of(await resolve.set_status(info, id, "paused"))

    @strawberry.mutation(description="Open runs again and go on with the held ones.")
    async def resume_automation(self, info: Info, id: strawberry.ID) -> Automation:
        return Automation.of(await resolve.set_status(info, id, "active"))

    @strawberry.mutation(
        description="Delete an automation and its runs; returns its id."
    )
    async def delete_automation(self, info: Info, id: strawberry.ID) -> strawberry.ID:
        await resolve.delete(info, id)
        return id

    @strawberry.mutation(
        description="Revive a dead (or failed) run: pending again with a new job;"
        " the actions it did stay done. BAD_USER_INPUT for any other run."
    )
    async def retry_run(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The run.")],
    ) -> AutomationRun:
        return AutomationRun.of(await resolve.retry_run(info, id))
