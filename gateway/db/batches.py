"""The keys of a prebuilt statement: ``IN`` a batch, or ``=`` one key.

A statement built once (its cache key too) still has an expanding ``IN``
parameter rendered on every run: SQLAlchemy writes the placeholders and
rewrites the statement's text each time (~1.5 % of an uncached 360 view's
CPU for its three statements, each of one customer). A loader builds both
forms and runs the one its batch needs::

    statements = {single: select(T).where(among(T.customer_id, "ids", single))
                  for single in (False, True)}
    await session.execute(statements[len(ids) == 1], bound("ids", ids))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, bindparam


def among(column: Any, name: str, single: bool) -> ColumnElement[bool]:
    """``column IN (:name)``, expanded per run; ``column = :name`` for a
    statement run with one key."""
    if single:
        result: ColumnElement[bool] = column == bindparam(name)
        return result
    return column.in_(bindparam(name, expanding=True))  # type: ignore[no-any-return]


def bound(name: str, keys: Sequence[Any]) -> dict[str, Any]:
    """The parameter ``among(…, name, single=len(keys) == 1)`` takes."""
    return {name: keys[0] if len(keys) == 1 else list(keys)}
