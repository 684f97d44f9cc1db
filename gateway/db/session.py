"""Engine and session factory, and the Alembic upgrade entry point."""

from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, make_url
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

from gateway.db.column_limits import check_lengths
from gateway.db.online_ddl import is_lock_timeout
from gateway.db.readiness import DatabaseNotReady
from gateway.db.sqlite_trips import one_trip_dbapi
from gateway.settings import Settings

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


class CheckedSession(Session):
    """A session that checks text lengths before each flush (``column_limits``)."""


event.listen(CheckedSession, "before_flush", check_lengths)


def create_engine(
    url: str, *, pool_size: int = 10, max_overflow: int = 20, pgbouncer: bool = False
) -> AsyncEngine:
    """An engine on ``url``; behind PgBouncer in transaction mode
    (``pgbouncer``) no prepared statement is kept: each statement's next
    transaction may run on another server connection, where a cached one
    does not exist and a reused name may (SQLAlchemy's "asyncpg … pgbouncer")."""
    if url.startswith("sqlite"):
        # aiosqlite logs each statement with its parameters (emails) at DEBUG:
        # never wanted, even when the gateway's own level is DEBUG.
        logging.getLogger("aiosqlite").setLevel(logging.INFO)
        engine = create_async_engine(
            url, connect_args={"timeout": 30}, module=one_trip_dbapi()
        )
        _sqlite_pragmas(engine.sync_engine)
        return engine
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=True,
        connect_args=PGBOUNCER_CONNECT_ARGS if pgbouncer else {},
    )


def settings_engine(settings: Settings, url: str | None = None) -> AsyncEngine:
    """The engine the settings ask for, on ``url`` (default: the primary)."""
    return create_engine(
        url or settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pgbouncer=settings.database_pgbouncer,
    )


def _statement_name() -> str:
    return f"__asyncpg_{uuid.uuid4().hex}__"


PGBOUNCER_CONNECT_ARGS: dict[str, object] = {
    "statement_cache_size": 0,
    "prepared_statement_cache_size": 0,
    "prepared_statement_name_func": _statement_name,
}
"""asyncpg through PgBouncer's transaction mode: neither asyncpg's statement
cache nor SQLAlchemy's, and every statement named uniquely."""


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose flushes refuse text longer than its column."""
    return async_sessionmaker(
        engine, expire_on_commit=False, sync_session_class=CheckedSession
    )


def autocommit(
    sessions: async_sessionmaker[AsyncSession],
) -> async_sessionmaker[AsyncSession]:
    """``sessions`` on the same engine and pool, each statement its own
    transaction, for reads (``SharedSession``). On PostgreSQL a read under
    READ COMMITTED sees a snapshot per statement either way; what this saves
    is the ``BEGIN`` and ``ROLLBACK`` round trips around a burst of reads (3 %
    of an uncached 360 view's CPU). A write through such a session commits
    statement by statement. SQLite: ``sessions`` as they are."""
    engine = sessions.kw["bind"]
    if engine.dialect.name != "postgresql":
        return sessions
    return session_factory(engine.execution_options(isolation_level="AUTOCOMMIT"))


def alembic_config(url: str, lock_timeout_ms: int = 0) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if lock_timeout_ms:
        config.set_main_option("lock_timeout", f"{int(lock_timeout_ms)}ms")
    return config


def upgrade(
    url: str,
    revision: str = "heads",
    *,
    lock_timeout_ms: int = 2000,
    attempts: int = 10,
) -> None:
    """Run the migrations (synchronously: call it from a thread inside a loop).

    ``heads``: features add migrations on branches of their own (each revising
    ``0002``), so every head is upgraded; a merge revision can join them later.

    Under traffic (docs/deploying.md, "Migrations under traffic"): on
    PostgreSQL a DDL waits at most ``lock_timeout_ms`` for its lock, so the
    writers queued behind it wait no longer; refused, the upgrade waits a
    little and goes on from the migration that failed (each commits on its
    own), up to ``attempts`` times.
    """
    config = alembic_config(url, lock_timeout_ms)
    for attempt in range(1, attempts + 1):
        try:
            command.upgrade(config, revision)
            return
        except SQLAlchemyError as exc:
            if attempt == attempts or not is_lock_timeout(exc):
                raise
            logger.warning(
                "A migration could not take its lock within %d ms (attempt %d of "
                "%d): trying again.",
                lock_timeout_ms,
                attempt,
                attempts,
            )
            time.sleep(min(0.5 * attempt, 5.0))


async def check_migrated(url: str, *, pgbouncer: bool = False) -> None:
    """Raise ``DatabaseNotReady`` unless every migration head is applied
    (``pgbouncer``: ``url`` leads to PgBouncer, see ``create_engine``)."""
    database = make_url(url).database
    if url.startswith("sqlite") and database and not Path(database).exists():
        raise DatabaseNotReady(
            f"No database at {database}: run `customer-graph db upgrade` "
            "(or `customer-graph demo`), or set CG_DATABASE_URL."
        )
    script = ScriptDirectory.from_config(alembic_config(url))
    engine = create_engine(url, pool_size=1, max_overflow=0, pgbouncer=pgbouncer)
    try:
        async with engine.connect() as connection:
            current = await connection.run_sync(
                lambda sync: set(MigrationContext.configure(sync).get_current_heads())
            )
    except (OSError, SQLAlchemyError) as exc:
        raise DatabaseNotReady(
            f"Cannot reach the database ({type(exc).__name__}): check CG_DATABASE_URL."
        ) from exc
    finally:
        await engine.dispose()
    known = {r.revision for r in script.walk_revisions()}
    if current and not current <= known:
        # A newer release migrated it: during a rolling deploy (or a restart
        # of an old replica, or a rollback) the old code serves on the new
        # schema, which expand/contract migrations keep readable to it
        # (docs/deploying.md, "Migrations under traffic").
        logger.warning(
            "The database is at a migration this release does not know (%s):"
            " serving on it, as the old replicas of a rolling deploy do.",
            ", ".join(sorted(current - known)),
        )
        return
    if _applied(script, current) != known:
        raise DatabaseNotReady(
            "The database is not migrated: run `customer-graph db upgrade`."
        )


def _applied(script: ScriptDirectory, current: set[str]) -> set[str]:
    """The revisions the database's heads stand for: theirs, their ancestors'
    and those they depend on (a head another revision ``depends_on`` leaves
    ``alembic_version`` once that revision is applied)."""
    if not current or not current <= {r.revision for r in script.walk_revisions()}:
        return set()
    return {
        r.revision
        for r in script.revision_map.iterate_revisions(tuple(current), "base")
        if r is not None
    }
