"""Tasks: decode ids, write through ``services.crm`` (which commits and
announces each change, so live timelines show it), read through the loaders."""

from __future__ import annotations

from datetime import datetime

from gateway.db import models
from gateway.loaders import TasksPageKey
from gateway.relay.ids import customer_pk, decode_global_id
from gateway.relay.pagination import Cursor, Page, check_first
from gateway.resolvers.context import Info

TASKS: Cursor[tuple[str, int]] = Cursor("tasks", (str, int))


async def create_task(
    info: Info,
    customer_id: str,
    title: str,
    due_at: datetime | None,
    assignee: str | None,
) -> models.Task:
    pk = customer_pk(customer_id)
    context = info.context
    task = await context.services.crm.create_task(
        pk, title, due_at, assignee, context.actor
    )
    context.loaders.forget_customer(pk)
    return task


async def complete_task(info: Info, task_id: str) -> models.Task:
    _, pk = decode_global_id(task_id, "Task")
    context = info.context
    task = await context.services.crm.complete_task(pk, context.actor)
    context.loaders.forget_customer(task.customer_id)
    return task


async def task_by_id(info: Info, task_id: int) -> models.Task | None:
    row: models.Task | None = await info.context.loaders.task_by_id.load(task_id)
    return row


def task_cursor(task: models.Task) -> str:
    return TASKS.encode((task.created_at.isoformat(), task.id))


async def customer_tasks(
    info: Info, customer_id: int, first: int, after: str | None, status: str | None
) -> Page[models.Task]:
    check_first(first, info.context.services.settings.max_page_size)
    start = TASKS.decode(after) if after is not None else None
    page: Page[models.Task] = await info.context.loaders.tasks_page_by_customer.load(
        TasksPageKey(customer_id, first, start, status)
    )
    return page
