"""Task writes: a follow-up is created open and completed once, each change
recorded in the customer's history in the same transaction
(``gateway.crm.service.Crm`` calls these and announces what they committed).

"Once" holds for requests at the same moment too: completion is one
conditional UPDATE (``… WHERE status = 'open'``), so of two concurrent
completions the database lets one through and the other finds it done.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.changes import history
from gateway.db import models
from gateway.db.merged_writes import note_written, target
from gateway.errors import BadUserInput, Conflict, NotFound
from gateway.validation import clean_name, clean_text

Sessions = async_sessionmaker[AsyncSession]


async def create_task(
    sessions: Sessions,
    customer_id: int,
    title: str,
    due_at: datetime | None,
    assignee: str | None,
    actor: str,
) -> models.Task:
    async with sessions() as session, session.begin():
        return await add_task(session, customer_id, title, due_at, assignee, actor)


async def add_task(
    session: AsyncSession,
    customer_id: int,
    title: str,
    due_at: datetime | None,
    assignee: str | None,
    actor: str,
) -> models.Task:
    """``create_task`` inside the caller's transaction (an automation's
    action, recorded with its outcome)."""
    if due_at is not None and due_at.tzinfo is None:
        raise BadUserInput("`dueAt` needs a time zone.", field="dueAt")
    task = models.Task(
        customer_id=customer_id,
        title=clean_text(title, "title", 300),
        due_at=due_at,
        status="open",
        assignee=clean_name(assignee, "assignee", 200) if assignee else None,
        created_at=models.utcnow(),
    )
    customer = await session.get(models.Customer, customer_id)
    if customer is None:
        raise NotFound("No customer with this id.", field="customerId")
    task.customer_id = target(customer)
    session.add(task)
    await session.flush()
    event = history.record(
        session,
        task.customer_id,
        "task_created",
        f"Task: {task.title}",
        actor=actor,
        task_id=task.id,
    )
    if task.customer_id != customer_id:  # addressed to a merged customer
        await session.flush()
        await note_written(
            session, customer_id, [("tasks", task.id), ("customer_events", event.id)]
        )
    return task


async def complete_task(sessions: Sessions, task_id: int, actor: str) -> models.Task:
    async with sessions() as session, session.begin():
        task = await session.scalar(
            update(models.Task)
            .where(models.Task.id == task_id, models.Task.status == "open")
            .values(status="done", completed_at=models.utcnow())
            .returning(models.Task)
            .execution_options(synchronize_session=False)
        )
        if task is None:
            if await session.get(models.Task, task_id) is None:
                raise NotFound("No task with this id.", field="id")
            raise Conflict("The task is already completed.", field="id")
        history.record(
            session,
            task.customer_id,
            "task_completed",
            f"Completed task: {task.title}",
            actor=actor,
            task_id=task.id,
        )
    return task
