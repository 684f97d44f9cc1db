"""Deferring jobs with the rows they work on.

On PostgreSQL a job is inserted by procrastinate's own function,
``procrastinate_defer_jobs_v1`` (what ``Task.defer_async`` calls), through the
caller's SQLAlchemy session: the rows and their jobs commit together or not
at all, so a run is never left without its job (a crash after the commit)
nor a job without its run (a rollback). The worker hears of them through the
``NOTIFY`` of procrastinate's insert trigger, at commit.

Elsewhere (SQLite, the in-memory engine) the jobs are deferred when the
session's transaction commits, and dropped when it rolls back.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from procrastinate import App
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from gateway.jobs.engine import is_durable

DEFER = text(
    "SELECT procrastinate_defer_jobs_v1(ARRAY("
    " SELECT ROW('default', :task, 0, j->>'lock', NULL, j->'args', NULL)"
    "::procrastinate_job_to_defer_v1"
    " FROM jsonb_array_elements(CAST(:jobs AS jsonb)) AS j))"
)
_IN_FLIGHT: set[asyncio.Task[None]] = set()


@dataclass(frozen=True, slots=True)
class Job:
    """One job of a task: its keyword arguments and its lock (jobs sharing a
    lock never run at the same time)."""

    args: Mapping[str, object]
    lock: str | None = None


@dataclass(slots=True)
class _AfterCommit:
    """Jobs to defer in memory once the transaction commits."""

    app: App
    pending: list[tuple[str, Job]] = field(default_factory=list)

    def commit(self, session: Session) -> None:
        jobs, self.pending = self.pending, []
        if jobs:
            task = asyncio.get_running_loop().create_task(self._defer(jobs))
            _IN_FLIGHT.add(task)  # held until done: the loop keeps weak references
            task.add_done_callback(_IN_FLIGHT.discard)

    def rollback(self, session: Session) -> None:
        self.pending.clear()

    async def _defer(self, jobs: list[tuple[str, Job]]) -> None:
        for name, job in jobs:
            deferrer = self.app.configure_task(name, lock=job.lock)
            await deferrer.defer_async(**job.args)  # type: ignore[arg-type]


async def defer_with(
    session: AsyncSession, app: App, task: str, jobs: Sequence[Job]
) -> None:
    """Defer ``jobs`` of ``task`` (its namespaced name) as part of
    ``session``'s transaction."""
    if not jobs:
        return
    dialect = (await session.connection()).dialect.name
    if dialect == "postgresql" and is_durable(app):
        rows = [{"args": dict(job.args), "lock": job.lock} for job in jobs]
        await session.execute(DEFER, {"task": task, "jobs": json.dumps(rows)})
        return
    sync = session.sync_session
    after: _AfterCommit | None = sync.info.get(_AfterCommit)
    if after is None:
        after = sync.info[_AfterCommit] = _AfterCommit(app)
        event.listen(sync, "after_commit", after.commit)
        event.listen(sync, "after_rollback", after.rollback)
    after.pending.extend((task, job) for job in jobs)
