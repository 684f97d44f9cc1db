"""Engine and session factory, and the Alembic upgrade entry point."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

from gateway.db.column_limits import check_lengths

MIGRATIONS = Path(__file__).parent / "migrations"


class CheckedSession(Session):
    """A session that checks text lengths before each flush (``column_limits``)."""


event.listen(CheckedSession, "before_flush", check_lengths)


def create_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        # aiosqlite logs each statement with its parameters (emails) at DEBUG:
        # never wanted, even when the gateway's own level is DEBUG.
        logging.getLogger("aiosqlite").setLevel(logging.INFO)
        engine = create_async_engine(url, connect_args={"timeout": 30})
        _sqlite_pragmas(engine.sync_engine)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


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


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "heads") -> None:
    """Run the migrations (synchronously: call it from a thread inside a loop).

    ``heads``: features add migrations on branches of their own (each revising
    ``0002``), so every head is upgraded; a merge revision can join them later.
    """
    command.upgrade(alembic_config(url), revision)
