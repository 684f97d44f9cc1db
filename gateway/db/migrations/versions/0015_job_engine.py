"""The job engine's tables: procrastinate's schema (``gateway.jobs``), on
PostgreSQL only — on SQLite jobs are kept in memory and this does nothing.

The SQL is procrastinate's own (``SchemaManager.get_schema()``) for the
version pinned in pyproject.toml, sent as one simple-protocol script (its
functions' bodies hold semicolons). A later procrastinate that changes its
schema ships migration scripts of its own; they become migrations here.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

from alembic import op
from procrastinate.schema import SchemaManager
from sqlalchemy.util import await_only

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

TABLES = (
    "procrastinate_events",
    "procrastinate_periodic_defers",
    "procrastinate_jobs",
    "procrastinate_workers",
)
TYPES = (
    "procrastinate_job_to_defer_v1",
    "procrastinate_job_event_type",
    "procrastinate_job_status",
)
DROP_FUNCTIONS = r"""
DO $$
DECLARE f record;
BEGIN
    FOR f IN SELECT p.oid::regprocedure AS signature
             FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = current_schema()
               AND p.proname LIKE 'procrastinate\_%'
    LOOP
        EXECUTE 'DROP FUNCTION ' || f.signature || ' CASCADE';
    END LOOP;
END
$$;
"""


def _script(sql: str) -> None:
    """Run ``sql`` (many statements) through the driver's simple protocol."""
    driver = op.get_bind().connection.driver_connection
    assert driver is not None
    await_only(driver.execute(sql))


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _script(SchemaManager.get_schema())


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP TABLE IF EXISTS {', '.join(TABLES)} CASCADE")
    _script(DROP_FUNCTIONS)
    op.execute(f"DROP TYPE IF EXISTS {', '.join(TYPES)} CASCADE")
