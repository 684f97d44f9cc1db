"""Tasks: follow-ups a rep keeps on a customer, their list and mutations."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

import strawberry
from strawberry import relay

from gateway.auth.pii import pii_field
from gateway.auth.policy import PiiKind
from gateway.context import Info
from gateway.db import models
from gateway.resolvers import tasks as resolve
from gateway.schema.connections import page_info

if TYPE_CHECKING:
    from gateway.schema.customer import Customer


@strawberry.enum
class TaskStatus(enum.Enum):
    OPEN = "open"
    DONE = "done"


@strawberry.type
class Task(relay.Node):
    """``assignee`` names a colleague, not the customer: shown to every role."""

    id: relay.NodeID[int]
    title: str | None = pii_field(
        PiiKind.TEXT,
        description="Free text about the customer: null where the caller's role "
        "may not see it.",
    )
    status: TaskStatus
    due_at: datetime | None
    assignee: str | None
    created_at: datetime
    completed_at: datetime | None
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


@strawberry.type
class TaskEdge:
    cursor: str
    node: Task


@strawberry.type
class TaskConnection:
    edges: list[TaskEdge]
    page_info: relay.PageInfo


async def task_by_id(info: Info, task_id: int) -> Task | None:
    row = await resolve.task_by_id(info, task_id)
    return Task.from_row(row) if row else None


async def customer_tasks(
    root: Customer,
    info: Info,
    first: int = 20,
    after: str | None = None,
    status: TaskStatus | None = None,
) -> TaskConnection:
    """The customer's tasks, newest first."""
    page = await resolve.customer_tasks(
        info, root.id, first, after, status.value if status else None
    )
    edges = [
        TaskEdge(cursor=resolve.task_cursor(t), node=Task.from_row(t))
        for t in page.items
    ]
    return TaskConnection(
        edges=edges,
        page_info=page_info(
            edges, has_next=page.has_next, has_previous=after is not None
        ),
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
