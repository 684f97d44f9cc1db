"""SQLite's statements in one trip each to aiosqlite's thread.

aiosqlite runs every SQLite call in a thread of the connection's own, and
SQLAlchemy's adapter makes four such calls a statement: the cursor opened,
the statement run, its rows fetched, the cursor closed. Each is a hand-over
to that thread and back (a queue, a wake-up, the GIL, the event loop woken):
~0.2 ms of an idle two-core machine's time, more while the loop is busy.
Here a statement is one call that does all four, and a connection going
back to the pool is rolled back (or a transaction committed) only when SQLite
has a transaction open (a read opens none: Python's sqlite3 begins one
before a write only).

An uncached 360 view makes 3 hand-overs, not 16, and its CPU in process fell
by ~20 % (docs/benchmarks.md, session 26). The adapter is given to
SQLAlchemy as the dialect's DBAPI (``module=``,
``gateway.db.session.create_engine``); server-side cursors (results
streamed, ``yield_per``) stay SQLAlchemy's own.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Sequence
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT

Ran = tuple[Any, Sequence[Any], int, int | None]
"""A statement's description, rows, row count and last row id."""


class _Finished:
    """What SQLAlchemy reads of a cursor after its statement ran."""

    __slots__ = ("arraysize", "description", "lastrowid", "rowcount")

    def __init__(self) -> None:
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1


def _statement(
    connection: sqlite3.Connection, operation: str, parameters: Any, many: bool
) -> Ran:
    """In aiosqlite's thread: the statement run on a cursor of its own, its
    rows read, the cursor closed."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else ()
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        # No cursor of aiosqlite's: opening one is a trip of its own.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = _Finished()  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()

    async def _execute_async(self, operation: Any, parameters: Any) -> None:
        await self._one_trip(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> None:
        await self._one_trip(operation, seq_of_parameters, many=True)

    async def _one_trip(self, operation: Any, parameters: Any, many: bool) -> None:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        async with self._adapt_connection._execute_mutex:
            ran: Ran = await connection._execute(  # type: ignore[no-untyped-call]
                _statement, connection._conn, operation, parameters, many
            )
        finished: _Finished = self._cursor  # type: ignore[assignment]
        finished.description, rows, finished.rowcount, finished.lastrowid = ran
        self._rows = collections.deque(rows)

    async def _async_soft_close(self) -> None:
        """Nothing to close: the statement's cursor closed in its trip."""

    def close(self) -> None:
        self._rows.clear()


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls: type[AsyncAdapt_aiosqlite_cursor] = OneTripCursor

    def rollback(self) -> None:
        if self._idle():
            return  # nothing to roll back, and no trip to learn it
        super().rollback()

    def commit(self) -> None:
        if self._idle():
            return  # nothing to commit: a read-only transaction
        super().commit()

    def _idle(self) -> bool:
        """Open, and no transaction open in SQLite (read in this thread:
        sqlite3 checks the thread of calls, not of this attribute)."""
        connection = self._connection
        return connection._connection is not None and not connection.in_transaction


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        adapted = super().connect(*arg, **kw)
        return OneTripConnection(self, adapted._connection)


def one_trip_dbapi() -> OneTripDBAPI:
    """The DBAPI to give ``create_async_engine(…, module=…)`` for an
    ``sqlite+aiosqlite`` URL."""
    return OneTripDBAPI(aiosqlite, sqlite3)
