"""Writes that can lose a race on a unique key, and running them again.

Two requests both find no customer with this email (or no link for this
external id), and both insert it. The database lets one commit and refuses the
other's INSERT with a unique violation, and only once the winner has committed
(PostgreSQL makes the loser wait for it; SQLite has one writer at a time). The
loser's transaction is rolled back whole, so nothing of it is half-written, and
run again from its first read it sees what the winner wrote and takes the path
a request arriving second would have taken: update instead of insert, link to
the customer that now exists, or skip a delivery already processed::

    stored = await retry_on_conflict(lambda: store(sessions, messages))

Only unique violations are retried: a foreign-key or check violation is a bug,
which would fail again the same way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import IntegrityError

T = TypeVar("T")

ATTEMPTS = 3
"""Each retry follows a commit by another writer: a third clash means the same
keys keep changing under the request, which its caller answers as a conflict."""

_PG_UNIQUE = "23505"
_SQLITE_UNIQUE = {2067, 1555}
"""``SQLITE_CONSTRAINT_UNIQUE`` and ``SQLITE_CONSTRAINT_PRIMARYKEY``."""


def is_unique_violation(exc: IntegrityError) -> bool:
    """Whether the database refused a duplicate key (not a foreign key or check)."""
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code is not None:
        return bool(code == _PG_UNIQUE)
    return getattr(orig, "sqlite_errorcode", None) in _SQLITE_UNIQUE


async def retry_on_conflict(
    write: Callable[[], Awaitable[T]], attempts: int = ATTEMPTS
) -> T:
    """Run ``write`` (one whole transaction, from its first read) again while
    it loses a race on a unique key; the last attempt's violation is raised."""
    for _ in range(attempts - 1):
        try:
            return await write()
        except IntegrityError as exc:
            if not is_unique_violation(exc):
                raise
    return await write()
