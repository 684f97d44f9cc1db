"""``INSERT … ON CONFLICT`` on both backends we run on (PostgreSQL, SQLite).

A write that may meet a row another request inserts at the same moment says
in one statement what a clash means (keep the row, or update it), instead of
reading first and inserting what it did not find, which races.
"""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import Insert as PgInsert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models import Base


def table_of(model: type[Base]) -> Table:
    """The model's Core table: Core INSERTs keep every key of every row (the ORM's
    bulk INSERT splits rows by their non-null keys) and batch on SQLite too."""
    return Base.metadata.tables[model.__tablename__]


def dialect_insert(session: AsyncSession, model: type[Base]) -> PgInsert | SqliteInsert:
    """The dialect's INSERT, which has ON CONFLICT on both backends we run on."""
    dialect = session.get_bind().dialect.name
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(table_of(model))
