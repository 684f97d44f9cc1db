"""Deferring jobs with the rows they work on.

On PostgreSQL a job is inserted into procrastinate's table through the
caller's SQLAlchemy session, as procrastinate's own
``procrastinate_defer_jobs_v1`` inserts it (the same columns; its triggers
fire alike): the rows and their jobs commit together or not at all, so a row
is never left without its job (a crash after the commit) nor a job without
its row (a rollback). The worker hears of them through the ``NOTIFY`` of
procrastinate's insert trigger, at commit.

A job deferred ``if_none_queued`` is not inserted while a job of its lock is
queued (``todo``): that one is locked instead (``FOR UPDATE``) until the
transaction ends, so no worker starts it before the rows this transaction
adds are there for it to see (procrastinate fetches with ``FOR UPDATE SKIP
LOCKED``); locked in the order of their locks, so that two transactions
deferring into the same locks wait for each other rather than deadlock.
Not procrastinate's ``queueing_lock``: its unique index would also refuse
the engine's retry of a job while another of its lock is queued, and the
insert would fail the caller's transaction. Two transactions deferring at
once may both insert; jobs of one lock run one at a time, so the second finds
its work done.

Elsewhere (SQLite, the in-memory engine) the jobs are deferred when the
session's transaction commits, and dropped when it rolls back.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from procrastinate import App
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from gateway.jobs.engine import is_durable

DEFER = text(
    "WITH wanted AS ("
    " SELECT j->>'queue' AS queue, j->>'lock' AS lock, j->'args' AS args,"
    " CAST(j->>'scheduled_at' AS timestamptz) AS scheduled_at,"
    " CAST(j->>'if_none_queued' AS boolean) AS if_none_queued"
    " FROM jsonb_array_elements(CAST(:jobs AS jsonb)) AS j),"
    " queued AS (SELECT coalesce(array_agg(q.lock), '{}') AS locks FROM ("
    " SELECT lock FROM procrastinate_jobs WHERE status = 'todo'"
    " AND lock IN (SELECT lock FROM wanted WHERE if_none_queued)"
    " ORDER BY lock FOR UPDATE) AS q)"
    " INSERT INTO procrastinate_jobs"
    " (queue_name, task_name, priority, lock, args, scheduled_at)"
    " SELECT queue, :task, 0, lock, args, scheduled_at FROM wanted, queued"
    " WHERE NOT (if_none_queued AND lock = ANY(queued.locks))"
)
_IN_FLIGHT: set[asyncio.Task[None]] = set()


@dataclass(frozen=True, slots=True)
class Job:
    """One job of a task: its keyword arguments, its queue, its lock (jobs
    sharing a lock never run at the same time; ``if_none_queued``: not
    deferred while one of them is queued) and when it is due (``None``: now)."""

    args: Mapping[str, object]
    lock: str | None = None
    queue: str = "default"
    if_none_queued: bool = False
    scheduled_at: datetime | None = None


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
        manager = self.app.job_manager
        for name, job in jobs:
            if job.if_none_queued and await manager.list_jobs_async(
                lock=job.lock, status="todo"
            ):
                continue
            deferrer = self.app.configure_task(
                name, lock=job.lock, queue=job.queue, schedule_at=job.scheduled_at
            )
            await deferrer.defer_async(**job.args)  # type: ignore[arg-type]


async def defer_with(
    session: AsyncSession, app: App, task: str, jobs: Sequence[Job]
) -> None:
    """Defer ``jobs`` of ``task`` (its namespaced name) as part of
    ``session``'s transaction; of ``if_none_queued`` jobs sharing a lock, the
    first."""
    locks: set[str | None] = set()
    unique = []
    for job in jobs:
        if job.if_none_queued:
            if job.lock in locks:
                continue
            locks.add(job.lock)
        unique.append(job)
    if not unique:
        return
    dialect = (await session.connection()).dialect.name
    if dialect == "postgresql" and is_durable(app):
        rows = [
            {
                "args": dict(job.args),
                "lock": job.lock,
                "queue": job.queue,
                "if_none_queued": job.if_none_queued,
                "scheduled_at": job.scheduled_at.isoformat()
                if job.scheduled_at
                else None,
            }
            for job in unique
        ]
        await session.execute(DEFER, {"task": task, "jobs": json.dumps(rows)})
        return
    sync = session.sync_session
    after: _AfterCommit | None = sync.info.get(_AfterCommit)
    if after is None:
        after = sync.info[_AfterCommit] = _AfterCommit(app)
        event.listen(sync, "after_commit", after.commit)
        event.listen(sync, "after_rollback", after.rollback)
    after.pending.extend((task, job) for job in unique)
