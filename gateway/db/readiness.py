"""``DatabaseNotReady``, apart from what checks for it (``gateway.db.session``):
the command line catches it without importing SQLAlchemy and Alembic."""

from __future__ import annotations


class DatabaseNotReady(Exception):
    """The database cannot be reached, or lacks migrations; ``message`` is one
    line for an operator, naming no host, user or password."""

    def __init__(self, message: str, *, reachable: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.reachable = reachable
