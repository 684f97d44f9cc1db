"""The job engine on both backends: a job deferred in a transaction runs once
after the commit and never after a rollback; the engine is durable only on
PostgreSQL; the recovery task retries the jobs of a worker that died."""

from __future__ import annotations

from typing import Any

import pytest
from procrastinate import Blueprint, JobContext
from sqlalchemy import text

from gateway.jobs.deferral import Job, defer_with
from gateway.jobs.engine import conninfo, is_durable
from gateway.jobs.recovery import recover_stalled
from gateway.jobs.worker import drain
from gateway.runtime.services import Services
from gateway.settings import Settings

SEEN: list[Any] = []


async def note(context: JobContext, value: int) -> None:
    SEEN.append((value, context.additional_context["services"] is not None))


def probe(settings: Settings) -> Blueprint:
    tasks = Blueprint()
    tasks.task(name="note", pass_context=True)(note)
    return tasks


PROBE = {"probe": probe}


async def test_a_job_deferred_in_a_transaction_runs_once_after_the_commit(
    jobs_db: Services,
) -> None:
    SEEN.clear()
    async with jobs_db.sessions() as session, session.begin():
        await defer_with(session, jobs_db.jobs, "probe:note", [Job({"value": 1})])
    await drain(jobs_db.jobs, jobs_db.settings, jobs_db, PROBE)
    await drain(jobs_db.jobs, jobs_db.settings, jobs_db, PROBE)
    assert SEEN == [(1, True)]


async def test_a_job_of_a_rolled_back_transaction_never_runs(
    jobs_db: Services,
) -> None:
    SEEN.clear()

    async with jobs_db.sessions() as session:
        transaction = await session.begin()
        await defer_with(session, jobs_db.jobs, "probe:note", [Job({"value": 2})])
        await transaction.rollback()
    await drain(jobs_db.jobs, jobs_db.settings, jobs_db, PROBE)
    assert SEEN == []


async def test_a_job_deferred_if_none_queued_is_deferred_once_on_its_queue(
    jobs_db: Services,
) -> None:
    SEEN.clear()
    job = Job({"value": 4}, lock="probe:one", queue="probes", if_none_queued=True)
    for _ in range(2):
        async with jobs_db.sessions() as session, session.begin():
            await defer_with(session, jobs_db.jobs, "probe:note", [job, job])
    await drain(jobs_db.jobs, jobs_db.settings, jobs_db, PROBE)
    assert SEEN == [(4, True)]
    async with jobs_db.sessions() as session, session.begin():  # none queued now
        await defer_with(session, jobs_db.jobs, "probe:note", [job])
    await drain(jobs_db.jobs, jobs_db.settings, jobs_db, PROBE)
    assert SEEN == [(4, True), (4, True)]
    ran = await jobs_db.jobs.job_manager.list_jobs_async(queue="probes")
    assert [j.lock for j in ran] == ["probe:one", "probe:one"]


async def test_the_engine_is_durable_on_postgresql_only(jobs_db: Services) -> None:
    postgres = conninfo(jobs_db.settings.database_url) is not None
    assert is_durable(jobs_db.jobs) is postgres
    if postgres:
        assert conninfo("postgresql+asyncpg://u:p@h:5/d") == "postgresql://u:p@h:5/d"


async def test_the_jobs_of_a_dead_worker_are_run_again(jobs_db: Services) -> None:
    if not is_durable(jobs_db.jobs):
        pytest.skip("in memory, jobs die with their process")
    SEEN.clear()
    async with jobs_db.sessions() as session, session.begin():
        await defer_with(session, jobs_db.jobs, "probe:note", [Job({"value": 3})])
    manager = jobs_db.jobs.job_manager
    dead = await manager.register_worker()
    job = await manager.fetch_job(queues=None, worker_id=dead)
    assert job is not None
    async with jobs_db.engine.begin() as connection:  # its last beat, long ago
        await connection.execute(
            text(
                "UPDATE procrastinate_workers SET last_heartbeat = now()"
                " - interval '1 hour' WHERE id = :id"
            ),
            {"id": dead},
        )

    class Context:
        app = jobs_db.jobs
        additional_context = {"services": jobs_db}

    await recover_stalled(Context(), 0)  # type: ignore[arg-type]
    await drain(jobs_db.jobs, jobs_db.settings, jobs_db, PROBE)
    assert SEEN == [(3, True)]
