"""Loaders of tasks: by id (for timeline items), and a customer's page of them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, tuple_

from gateway.db import models
from gateway.loaders.crm import SessionLoader
from gateway.relay.pagination import Page


class TaskByIdLoader(SessionLoader):
    async def batch_load_fn(self, ids: Sequence[int]) -> list[models.Task | None]:
        rows = await self.scalars(select(models.Task).where(models.Task.id.in_(ids)))
        by_id = {row.id: row for row in rows}
        return [by_id.get(i) for i in ids]


@dataclass(frozen=True, slots=True)
class TasksPageKey:
    customer_id: int
    first: int
    after: tuple[str, int] | None = None
    status: str | None = None


class TasksPageByCustomerLoader(SessionLoader):
    """Newest tasks first; one keyset query per key."""

    async def batch_load_fn(
        self, keys: Sequence[TasksPageKey]
    ) -> list[Page[models.Task]]:
        task = models.Task
        pages = []
        for key in keys:
            statement = select(task).where(task.customer_id == key.customer_id)
            if key.status is not None:
                statement = statement.where(task.status == key.status)
            if key.after is not None:
                at, row_id = datetime.fromisoformat(key.after[0]), key.after[1]
                statement = statement.where(
                    tuple_(task.created_at, task.id) < tuple_(at, row_id)
                )
            statement = statement.order_by(
                task.created_at.desc(), task.id.desc()
            ).limit(key.first + 1)
            pages.append(Page.from_rows(await self.scalars(statement), key.first))
        return pages
