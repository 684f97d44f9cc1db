"""The types of automations: an automation with its runs' counts, a run
with its actions' outcomes, a dry run's answer."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import cast

import strawberry
from strawberry.relay import to_base64
from strawberry.scalars import JSON

from gateway.automations.dry_run import DryRun
from gateway.automations.tables import Automation as AutomationRow
from gateway.automations.tables import AutomationRun as RunRow
from gateway.schema.connections import Connection
from gateway.schema.descriptions import describe_values


@strawberry.enum(description="Whether an automation opens runs.")
class AutomationStatus(enum.Enum):
    ACTIVE = "active"
    PAUSED = "paused"


@strawberry.enum(description="Where a run is.")
class AutomationRunStatus(enum.Enum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    DEAD = "dead"


describe_values(
    AutomationStatus,
    {
        AutomationStatus.ACTIVE: "Its triggers open runs.",
        AutomationStatus.PAUSED: (
            "It opens no runs, and those queued wait until it is resumed."
        ),
    },
)
describe_values(
    AutomationRunStatus,
    {
        AutomationRunStatus.PENDING: "Waiting for a worker.",
        AutomationRunStatus.RUNNING: "Its actions are being done.",
        AutomationRunStatus.DONE: "Every action was done.",
        AutomationRunStatus.FAILED: "An action failed; it will be retried.",
        AutomationRunStatus.DEAD: "Retries are spent: retryRun revives it.",
    },
)


@strawberry.type(description="Runs of an automation, counted by status.")
class AutomationRunCounts:
    pending: int = strawberry.field(description="Waiting for a worker.")
    running: int = strawberry.field(description="Being run.")
    done: int = strawberry.field(description="Finished.")
    failed: int = strawberry.field(description="Failed, to be retried.")
    dead: int = strawberry.field(description="Dead-lettered.")


@strawberry.type(description="A trigger, conditions and ordered actions.")
class Automation:
    id: strawberry.ID = strawberry.field(description="Global id.")
    name: str = strawberry.field(description="Unique.")
    status: AutomationStatus = strawberry.field(description="Active or paused.")
    trigger: JSON = strawberry.field(description="The AutomationTrigger as saved.")
    conditions: JSON | None = strawberry.field(
        description="The SegmentFilter as saved; null when it has none."
    )
    actions: JSON = strawberry.field(description="The AutomationActions as saved.")
    created_by: str = strawberry.field(description="Who created it.")
    created_at: datetime = strawberry.field(description="When (UTC).")
    updated_at: datetime = strawberry.field(description="Last change (UTC).")
    run_counts: AutomationRunCounts | None = strawberry.field(
        description="Its runs by status; null when not read with the list."
    )

    @classmethod
    def of(cls, row: AutomationRow, counts: dict[str, int] | None = None) -> Automation:
        return cls(
            id=strawberry.ID(to_base64("Automation", row.id)),
            name=row.name,
            status=AutomationStatus(row.status),
            trigger=cast(JSON, row.trigger),
            conditions=cast(JSON, row.conditions),
            actions=cast(JSON, row.actions),
            created_by=row.created_by,
            created_at=row.created_at,
            updated_at=row.updated_at,
            run_counts=AutomationRunCounts(**counts) if counts is not None else None,
        )


@strawberry.type(description="What one action of a run did.")
class ActionOutcome:
    kind: str = strawberry.field(description="The action's kind, e.g. `createTask`.")
    ok: bool = strawberry.field(description="Whether it was done.")
    output: JSON | None = strawberry.field(
        description="What it produced (a task id, tags, a code); null when nothing."
    )


@strawberry.type(description="One customer's run of an automation for one occasion.")
class AutomationRun:
    id: strawberry.ID = strawberry.field(description="Global id.")
    automation_id: strawberry.ID = strawberry.field(description="Its automation.")
    customer_id: strawberry.ID = strawberry.field(description="Its customer.")
    occasion: str = strawberry.field(
        description="What it is for: one run per automation, customer and occasion."
    )
    trigger: str = strawberry.field(description="The trigger kind that opened it.")
    status: AutomationRunStatus = strawberry.field(description="Where it is.")
    outcomes: list[ActionOutcome] = strawberry.field(
        description="The actions done so far, in order."
    )
    error: str | None = strawberry.field(
        description="Why it failed; null when it has not."
    )
    attempts: int = strawberry.field(description="Attempts so far.")
    created_at: datetime = strawberry.field(description="When it was opened (UTC).")
    started_at: datetime | None = strawberry.field(
        description="First attempt (UTC); null when none yet."
    )
    finished_at: datetime | None = strawberry.field(
        description="When it finished (done or dead); null when it has not."
    )

    @classmethod
    def of(cls, row: RunRow) -> AutomationRun:
        return cls(
            id=strawberry.ID(to_base64("AutomationRun", row.id)),
            automation_id=strawberry.ID(to_base64("Automation", row.automation_id)),
            customer_id=strawberry.ID(to_base64("Customer", row.customer_id)),
            occasion=row.occasion,
            trigger=row.trigger,
            status=AutomationRunStatus(row.status),
            outcomes=[
                ActionOutcome(
                    kind=str(o.get("kind")),
                    ok=bool(o.get("ok")),
                    output=cast(JSON, o.get("output")),
                )
                for o in row.outcomes or []
            ],
            error=row.error,
            attempts=row.attempts,
            created_at=row.created_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
        )


@strawberry.type(description="A page of runs, newest first.")
class AutomationRunConnection(Connection[AutomationRun]):
    pass


@strawberry.type(description="A condition of a dry run and whether it held.")
class ConditionMatch:
    condition: str = strawberry.field(description="A top-level SegmentFilter field.")
    matched: bool = strawberry.field(description="Whether the customer meets it.")


@strawberry.type(description="An action a dry run would take, and with what.")
class ActionPreview:
    kind: str = strawberry.field(description="The action's kind.")
    payload: JSON = strawberry.field(description="What it would act with.")


@strawberry.type(description="What an automation would do for a customer now.")
class AutomationDryRun:
    would_run: bool = strawberry.field(
        description="The trigger selects the customer, every condition holds and"
        " the occasion has no run yet."
    )
    trigger_selects: bool = strawberry.field(
        description="Whether the trigger selects the customer now."
    )
    occasion: str | None = strawberry.field(
        description="The run's occasion; null when the trigger does not select"
        " the customer now or fires on an event."
    )
    note: str | None = strawberry.field(
        description="About an event trigger or a first segment look; null when"
        " there is nothing to add."
    )
    already_ran: bool = strawberry.field(description="The occasion has its run.")
    conditions: list[ConditionMatch] = strawberry.field(
        description="Each top-level condition."
    )
    actions: list[ActionPreview] = strawberry.field(
        description="The actions, in order."
    )

    @classmethod
    def of(cls, found: DryRun) -> AutomationDryRun:
        return cls(
            would_run=found.would_run,
            trigger_selects=found.trigger_selects,
            occasion=found.occasion,
            note=found.note,
            already_ran=found.already_ran,
            conditions=[
                ConditionMatch(condition=k, matched=v)
                for k, v in found.conditions.items()
            ],
            actions=[
                ActionPreview(kind=k, payload=cast(JSON, p)) for k, p in found.actions
            ],
        )
