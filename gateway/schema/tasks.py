"""Tasks: follow-ups a rep keeps on a customer, their list and mutations."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay

from gateway.auth.pii import pii_field
from gateway.auth.policy import PiiKind
from gateway.db import models
from gateway.resolvers import tasks as resolve
from gateway.resolvers.context import Info
from gateway.schema.connections import Connection
from gateway.schema.descriptions import describe_values, role_null

if TYPE_CHECKING:
    from gateway.schema.customer import Customer


@strawberry.enum(description="Whether a task is still to do.")
class TaskStatus(enum.Enum):
    OPEN = "open"
    DONE = "done"


describe_values(
    TaskStatus,
    {
        TaskStatus.OPEN: "Still to do.",
        TaskStatus.DONE: "Completed.",
    },
)


@strawberry.type(description="A follow-up a colleague keeps on the customer.")
class Task(relay.Node):
    """``assignee`` names a colleague, not the customer: shown to every role."""

    id: relay.NodeID[int]
    title: str | None = pii_field(
        PiiKind.TEXT,
        description="Free text about the customer. " + role_null(PiiKind.TEXT),
    )
    status: TaskStatus = strawberry.field(description="Open or done.")
    due_at: datetime | None = strawberry.field(
        description="When it is due (UTC); null when no date was set."
    )
    assignee: str | None = strawberry.field(
        description="The colleague it is for; null when unassigned."
    )
    created_at: datetime = strawberry.field(description="When it was added (UTC).")
    completed_at: datetime | None = strawberry.field(
        description="When it was completed; null when the task is open."
    )
    customer_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: models.Task) -> Task:
        return cls(
            id=row.id,
            title=row.title,
            status=TaskStatus(row.status),
            due_at=row.due_at,
            assignee=row.assignee,
            created_at=row.created_at,
            completed_at=row.completed_at,
            customer_id=row.customer_id,
        )


@strawberry.type(description="A page of tasks, newest first.")
class TaskConnection(Connection[Task]):
    pass


async def task_by_id(info: Info, task_id: int) -> Task | None:
    row = await resolve.task_by_id(info, task_id)
    return Task.from_row(row) if row else None


async def customer_tasks(
    root: Customer,
    info: Info,
    first: int = 20,
    after: str | None = None,
    status: Annotated[
        TaskStatus | None,
        strawberry.argument(description="Only tasks in this status; all if left out."),
    ] = None,
) -> TaskConnection:
    """The customer's tasks, newest first."""
    page = await resolve.customer_tasks(
        info, root.id, first, after, status.value if status else None
    )
    return TaskConnection.build(
        page.items,
        resolve.task_cursor,
        Task.from_row,
        has_next=page.has_next,
        has_previous=after is not None,
    )


@strawberry.type
class TaskMutation:
    @strawberry.mutation(description="Add an open task (a follow-up) to a customer.")
    async def create_task(
        self,
        info: Info,
        customer_id: strawberry.ID,
        title: str,
        due_at: datetime | None = None,
        assignee: str | None = None,
    ) -> Task:
        row = await resolve.create_task(info, customer_id, title, due_at, assignee)
        return Task.from_row(row)

    @strawberry.mutation(
        description="Mark a task done; completing it twice is CONFLICT."
    )
    async def complete_task(self, info: Info, id: strawberry.ID) -> Task:
        return Task.from_row(await resolve.complete_task(info, id))
