"""Text longer than its column, refused before the database sees it.

PostgreSQL rejects a value longer than a ``VARCHAR(n)`` with an error that
reached clients as an internal one (SQLite stores it whatever the size), so
the two backends disagreed and a 500 followed. ``check_lengths`` runs before
every ORM flush and raises ``BadUserInput`` naming the field, with the limit
read from the column itself: a new column is covered without a new check.
Core ``INSERT``s of many rows (order facts) call ``check_rows`` themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import FromClause, String, inspect
from sqlalchemy.orm import Session, UOWTransaction

from gateway.errors import BadUserInput


def check_lengths(session: Session, _flush: UOWTransaction, _objects: Any) -> None:
    for row in [*session.new, *session.dirty]:
        for column in inspect(row).mapper.columns:
            length = column.type.length if isinstance(column.type, String) else None
            value = getattr(row, column.key, None)
            if length is not None and isinstance(value, str) and len(value) > length:
                raise BadUserInput(
                    f"`{_camel(column.key)}` has at most {length} characters.",
                    field=_camel(column.key),
                )


def check_rows(table: FromClause, rows: Iterable[Mapping[str, object]]) -> None:
    """``check_lengths`` for the rows of a Core ``INSERT`` into ``table``."""
    limits = [
        (c.key, c.type.length)
        for c in table.columns
        if isinstance(c.type, String) and c.type.length is not None
    ]
    for row in rows:
        for key, length in limits:
            value = row.get(key)
            if isinstance(value, str) and len(value) > length:
                raise BadUserInput(
                    f"`{_camel(key)}` has at most {length} characters.",
                    field=_camel(key),
                )


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)
