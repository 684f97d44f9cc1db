"""Insights: leave room on the pages of the refreshed tables (PostgreSQL).

A full refresh upserts a row per customer into ``customer_traits`` and
``customer_rfm``. With half of each page free (``fillfactor`` 50), the new
version of a row whose indexed columns did not change fits on its own page:
a HOT update, which writes no index entry. Pages written before this revision
keep their old fill until they are rewritten. SQLite has no such setting.

Revision ID: 0006
Revises: 0003
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = ("customer_traits", "customer_rfm")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} SET (fillfactor = 50)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
