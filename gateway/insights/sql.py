"""The few SQL pieces that SQLite and PostgreSQL spell differently.

Date arithmetic is the only real difference the queries need: PostgreSQL
subtracts timestamps into intervals, SQLite (which stores them as ISO text)
goes through ``julianday``. Each is a small compiled construct, so the queries
themselves stay written once. Around them, bulk work on PostgreSQL wants two
things SQLite has no use for: planner settings for the transaction
(``plan_for_bulk``), and ``ANALYZE`` after a statement rewrote a table, so the
next statement in the same transaction is planned for the rows it now holds
(autovacuum only sees them after the commit). ``held_to`` keeps a sum within
the ``NUMERIC`` column it is stored in (there is no portable ``LEAST``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Float, FromClause, Numeric, case, literal, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

from gateway.db.models import Base, UTCDateTime


class days_between(FunctionElement[float]):  # noqa: N801 - reads as SQL
    """``later - earlier`` in (fractional) days."""

    type = Float()
    inherit_cache = True


@compiles(days_between, "postgresql")
def _days_between_pg(element: days_between, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"(EXTRACT(EPOCH FROM ({later} - {earlier})) / 86400.0)"


@compiles(days_between, "sqlite")
def _days_between_sqlite(
    element: days_between, compiler: SQLCompiler, **kw: Any
) -> str:
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"(julianday({later}) - julianday({earlier}))"


class add_days(FunctionElement[Any]):  # noqa: N801 - reads as SQL
    """A timestamp plus a (fractional) number of days."""

    type = UTCDateTime()
    inherit_cache = True


@compiles(add_days, "postgresql")
def _add_days_pg(element: add_days, compiler: SQLCompiler, **kw: Any) -> str:
    moment, days = (compiler.process(c, **kw) for c in element.clauses)
    return f"({moment} + ({days}) * INTERVAL '1 day')"


@compiles(add_days, "sqlite")
def _add_days_sqlite(element: add_days, compiler: SQLCompiler, **kw: Any) -> str:
    moment, days = (compiler.process(c, **kw) for c in element.clauses)
    return f"strftime('%Y-%m-%d %H:%M:%f000', julianday({moment}) + ({days}))"


def held_to(value: Any, column: Any) -> ColumnElement[Any]:
    """``value`` saturated at the largest magnitude ``column`` (a
    ``NUMERIC(p, s)``) stores. Each order's amounts fit the money columns, but a
    customer's sum of them need not (two orders of 999,999,999,999.00): on
    PostgreSQL that was an overflow failing the order's webhook and every full
    refresh after it."""
    kind = column.type
    assert isinstance(kind, Numeric)
    assert kind.precision is not None
    scale = kind.scale or 0
    top = Decimal(10) ** (kind.precision - scale) - Decimal(10) ** -scale
    high, low = literal(top, kind), literal(-top, kind)
    return case((value > high, high), (value < low, low), else_=value)


def upsert(dialect: str, table: FromClause) -> Any:
    """``INSERT`` with ``on_conflict_do_update``/``nothing`` for ``dialect``."""
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table)


def excluded_all(statement: Any, keys: set[str]) -> dict[str, ColumnElement[Any]]:
    """``SET col = excluded.col`` for every column not in ``keys``."""
    return {
        c.name: statement.excluded[c.name]
        for c in statement.table.columns
        if c.name not in keys
    }


async def _is_postgresql(session: AsyncSession) -> bool:
    return (await session.connection()).dialect.name == "postgresql"


async def plan_for_bulk(session: AsyncSession, work_mem: str) -> None:
    """Planner settings for a full refresh, until the transaction ends
    (``SET LOCAL``): ``work_mem`` (``"256MB"``) for its sorts, and no hash
    aggregation. The refresh groups millions of facts by customer; the
    covering indexes of migration 0008 hand them over already grouped, so a
    streaming ``GroupAggregate`` needs no memory, while the planner, which
    underestimates the number of (customer, category) groups five-fold,
    would otherwise pick hash tables of gigabytes (traits at 1M customers:
    ~28 s of reading with them, ~12 s without)."""
    if await _is_postgresql(session):
        await session.execute(
            text(
                "SELECT set_config('work_mem', :amount, true),"
                " set_config('enable_hashagg', 'off', true)"
            ),
            {"amount": work_mem},
        )


async def analyze(session: AsyncSession, *tables: type[Base]) -> None:
    """Fresh planner statistics for ``tables``, rows of this transaction
    included (PostgreSQL's ``ANALYZE`` may run inside a transaction)."""
    if tables and await _is_postgresql(session):
        names = ", ".join(f'"{table.__tablename__}"' for table in tables)
        await session.execute(text(f"ANALYZE {names}"))


async def transaction_lock(
    session: AsyncSession, key: int, *, shared: bool = False, wait: bool = False
) -> bool:
    """Take the PostgreSQL advisory lock ``key`` until the transaction ends:
    exclusive or ``shared``; waiting for it, or (``wait=False``) returning
    ``False`` at once when a conflicting holder (on any replica) has it.
    SQLite runs one writer at a time anyway: always ``True`` there."""
    if not await _is_postgresql(session):
        return True
    function = "pg_{}advisory_xact_lock{}".format(
        "" if wait else "try_", "_shared" if shared else ""
    )
    taken = await session.scalar(text(f"SELECT {function}(:key)"), {"key": key})
    return wait or bool(taken)
