"""Values their column cannot hold, refused before the database sees them.

PostgreSQL rejects text longer than a ``VARCHAR(n)``, a NUL in any text, an
integer past its ``INTEGER``/``BIGINT`` and a number past a ``NUMERIC(p, s)``
with errors that reached clients as internal ones; SQLite stores most of them
whatever they are (and fails on a lone surrogate or an integer past 64 bits),
so the two backends disagreed and a 500 followed. ``check_lengths`` runs before
every ORM flush and raises ``BadUserInput`` naming the field, with the limit
read from the column itself: a new column is covered without a new check.
Core ``INSERT``s of many rows (order facts) call ``check_rows`` themselves, and
a value used in a look-up before any write is checked with ``check_value``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Float,
    FromClause,
    Integer,
    Numeric,
    SmallInteger,
    String,
    inspect,
)
from sqlalchemy.orm import Session, UOWTransaction
from sqlalchemy.sql.elements import KeyedColumnElement
from sqlalchemy.sql.type_api import TypeEngine

from gateway.errors import BadUserInput

BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
"""NUL (PostgreSQL's text refuses it) and lone surrogates (not UTF-8)."""


def check_lengths(session: Session, _flush: UOWTransaction, _objects: Any) -> None:
    for row in [*session.new, *session.dirty]:
        for column in inspect(row).mapper.columns:
            check_value(column, getattr(row, column.key, None))


def check_rows(table: FromClause, rows: Iterable[Mapping[str, object]]) -> None:
    """``check_lengths`` for the rows of a Core ``INSERT`` into ``table``."""
    columns = list(table.columns)
    for row in rows:
        for column in columns:
            check_value(column, row.get(column.key))


def check_value(column: KeyedColumnElement[Any], value: object) -> None:
    """Raise ``BadUserInput`` when ``column`` cannot hold ``value``."""
    problem = _problem(column.type, value)
    if problem is not None:
        field = _camel(column.key)
        raise BadUserInput(f"`{field}` {problem}.", field=field)


def _problem(kind: TypeEngine[Any], value: object) -> str | None:
    if isinstance(value, str) and isinstance(kind, String):
        if kind.length is not None and len(value) > kind.length:
            return f"has at most {kind.length} characters"
        if BAD_TEXT.search(value):
            return "must not hold a NUL character or a lone surrogate"
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    if isinstance(kind, Integer):
        bits = next(b for t, b in _BITS if isinstance(kind, t))
        low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
        if isinstance(value, int) and not low <= value <= high:
            return f"must lie between {low:,} and {high:,}"
        return None
    if isinstance(kind, Float):
        return None if math.isfinite(value) else "must be a finite number"
    if isinstance(kind, Numeric) and kind.precision is not None:
        limit = Decimal(10) ** (kind.precision - (kind.scale or 0))
        number = Decimal(value)
        if not number.is_finite() or number.copy_abs() >= limit:
            return f"must be less than {limit:,} in magnitude"
        if kind.scale is not None and abs(round(number, kind.scale)) >= limit:
            return f"must be less than {limit:,} in magnitude"
    return None


_BITS = [(BigInteger, 64), (SmallInteger, 16), (Integer, 32)]
"""PostgreSQL's sizes; SQLite's INTEGER is 64 bits, but the backends agree."""


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)
