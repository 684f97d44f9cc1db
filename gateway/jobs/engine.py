"""The process's one procrastinate ``App``, built from the settings.

PostgreSQL (production): a ``PsycopgConnector`` on the database of
``CG_DATABASE_URL`` (the SQLAlchemy driver part stripped), with a pool of its
own opened without waiting, so a gateway starts with the database down as it
does for SQLAlchemy; on ``CG_JOBS_DATABASE_URL`` when set (a direct
connection past PgBouncer, for ``LISTEN``). Jobs live in procrastinate's
tables (created by the migration ``0015``): they survive restarts and are
shared by every replica, each fetched by one worker (``SELECT … FOR UPDATE
SKIP LOCKED``).

SQLite (the demo and development default): procrastinate's
``InMemoryConnector`` (its module is ``procrastinate.testing``; it is the
engine's documented in-memory store, not a test double here). Jobs run
in the process that deferred them and are lost when it stops: not durable,
one process only; production is PostgreSQL.

Tasks come from blueprint *factories* (``namespace → (settings) → Blueprint``,
added by ``gateway.jobs.worker.ensure_tasks``):
procrastinate binds a blueprint's tasks to the first App that adds it, and a
process (a test run, a benchmark) may build several Apps.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from procrastinate import App, Blueprint, PsycopgConnector
from procrastinate.testing import InMemoryConnector
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.engine import make_url

from gateway.settings import Settings

BlueprintFactory = Callable[[Settings], Blueprint]
"""Builds a namespace's tasks, with retry strategies from the settings."""


def conninfo(database_url: str) -> str | None:
    """libpq's URL for ``database_url``, or ``None`` when it is not PostgreSQL."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        return None
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def is_durable(app: App) -> bool:
    """Whether ``app`` keeps its jobs in PostgreSQL."""
    return isinstance(app.connector, PsycopgConnector)


def jobs_database_url(settings: Settings) -> str:
    """Where the job engine's pool connects: ``CG_JOBS_DATABASE_URL``, a
    direct connection its workers may ``LISTEN`` on, else ``CG_DATABASE_URL``."""
    return settings.jobs_database_url or settings.database_url


def listens(settings: Settings) -> bool:
    """Whether workers hear of new jobs by ``LISTEN``/``NOTIFY``: not through
    PgBouncer's transaction mode (``CG_DATABASE_PGBOUNCER`` without a direct
    ``CG_JOBS_DATABASE_URL``), which does not carry notifications; they then
    poll (procrastinate's ``fetch_job_polling_interval``, 5 s)."""
    return settings.jobs_database_url is not None or not settings.database_pgbouncer


def build_jobs(settings: Settings) -> App:
    """An App, not opened and without tasks: a process that only defers jobs
    names their tasks; one that runs a worker adds them
    (``gateway.jobs.worker.ensure_tasks``)."""
    durable = conninfo(jobs_database_url(settings))
    return App(connector=PsycopgConnector() if durable else InMemoryConnector())


@asynccontextmanager
async def opened(app: App, settings: Settings) -> AsyncIterator[App]:
    """``app`` connected while the context lasts; on PostgreSQL through a pool
    that opens in the background (a database down at start is not fatal)."""
    info = conninfo(jobs_database_url(settings))
    if info is None:
        await app.open_async()
        try:
            yield app
        finally:
            await app.close_async()
        return
    pool: AsyncConnectionPool = AsyncConnectionPool(
        info,
        min_size=1,
        max_size=settings.jobs_pool_size,
        open=False,
        check=AsyncConnectionPool.check_connection,
        # psycopg prepares a statement run five times: behind PgBouncer's
        # transaction mode the next run may meet another server connection.
        kwargs=None if listens(settings) else {"prepare_threshold": None},
    )
    await pool.open(wait=False)
    await app.open_async(pool)
    try:
        yield app
    finally:
        await app.close_async()
        await pool.close()
