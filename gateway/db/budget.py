"""How many PostgreSQL connections a replica may open, checked at start.

Each process of a replica holds its own pools: SQLAlchemy's (pool size plus
overflow, once more for a read replica) and the job engine's (psycopg,
``CG_JOBS_POOL_SIZE``). A replica of ``serve --workers N`` multiplies that by
``N``; a fleet multiplies it again by its replicas, and the sum must stay
within PostgreSQL's ``max_connections`` (or PgBouncer's pool), or the
connection that crosses it is refused in the middle of a request.
``CG_DATABASE_MAX_CONNECTIONS`` states one replica's share; a replica whose
pools could exceed it refuses to start, in one line (docs/deploying.md).
"""

from __future__ import annotations

from gateway.settings import Settings


class ConnectionBudgetExceeded(SystemExit):
    """One replica's pools could open more than ``CG_DATABASE_MAX_CONNECTIONS``:
    a ``SystemExit`` with one line, as ``UnsafeSettings``."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


def per_process(settings: Settings) -> int:
    """The most connections one process opens (0 on SQLite)."""
    if settings.is_sqlite:
        return 0
    engines = 2 if settings.database_read_url else 1
    pool = settings.database_pool_size + settings.database_max_overflow
    return engines * pool + settings.jobs_pool_size


def check(settings: Settings, processes: int = 1) -> None:
    """Raise ``ConnectionBudgetExceeded`` when ``processes`` processes could
    open more than ``CG_DATABASE_MAX_CONNECTIONS``."""
    ceiling, each = settings.database_max_connections, per_process(settings)
    if ceiling is None or processes * each <= ceiling:
        return
    engines = "2 × " if settings.database_read_url else ""
    raise ConnectionBudgetExceeded(
        f"Refusing to start: {processes} process(es) × ({engines}"
        f"({settings.database_pool_size} CG_DATABASE_POOL_SIZE + "
        f"{settings.database_max_overflow} CG_DATABASE_MAX_OVERFLOW) + "
        f"{settings.jobs_pool_size} CG_JOBS_POOL_SIZE) = {processes * each} "
        f"connections > CG_DATABASE_MAX_CONNECTIONS={ceiling}: lower the pools "
        "or the workers, or raise the ceiling (docs/deploying.md)."
    )
